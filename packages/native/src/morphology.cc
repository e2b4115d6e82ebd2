// Morphology primitives of the HPA post-processing (scikit-image 0.19 / scipy semantics) and the
// `morphology(op, input, out, options)` entry point. Twins: packages/core/src/segment/morphology.ts.
#include "morphology.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common.h"
#include "kernels.h"
#include "label.h"

namespace cellcam {
namespace morph {
namespace {

// Row bands for a per-pixel pass: at least 64 rows and ~256 K pixels per band.
int Bands(int64_t width, int64_t height, int threads) {
  const int64_t byPixels = std::max<int64_t>(1, width * height / (1 << 18));
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({threads, byPixels, std::max<int64_t>(1, height / 64)})));
}

template <typename T, bool kMax>
inline T Pick(T a, T b) {
  if constexpr (kMax) return a > b ? a : b;
  else return a < b ? a : b;
}

// c[x] = pick of p[x-1..x+1] inside the row (a 3-wide pass; k passes give half-width k).
template <typename T, bool kMax>
void Step3(const T* __restrict p, T* __restrict c, int64_t W) {
  if (W == 1) {
    c[0] = p[0];
    return;
  }
  c[0] = Pick<T, kMax>(p[0], p[1]);
  for (int64_t x = 1; x < W - 1; ++x) c[x] = Pick<T, kMax>(Pick<T, kMax>(p[x - 1], p[x]), p[x + 1]);
  c[W - 1] = Pick<T, kMax>(p[W - 2], p[W - 1]);
}

// Rows [y0, y1) of one max (dilation) or min (erosion) pass over disk(r): per row, horizontal
// extremes of every half-width 0..r (a ring of the 2r+1 live rows), then the extreme over the disk's
// rows. Parameters are by value: uint8 stores may alias anything reached through a reference.
template <typename T, bool kMax>
void GreyBand(const T* src, T* dst, int64_t W, int64_t H, int64_t r, const int32_t* hw, int64_t y0, int64_t y1) {
  const int64_t rows = 2 * r + 1, K = r + 1;
  std::vector<T> store(static_cast<size_t>(rows * K * W));
  T* const ring = store.data();
  auto fillRow = [ring, src, rows, K, W](int64_t y) {
    T* base = ring + (y % rows) * K * W;
    std::memcpy(base, src + y * W, W * sizeof(T));
    for (int64_t k = 1; k < K; ++k) Step3<T, kMax>(base + (k - 1) * W, base + k * W, W);
  };
  for (int64_t y = std::max<int64_t>(0, y0 - r); y < std::min<int64_t>(H, y0 + r); ++y) fillRow(y);
  for (int64_t y = y0; y < y1; ++y) {
    if (y + r < H) fillRow(y + r);
    T* __restrict out = dst + y * W;
    bool first = true;
    for (int64_t dy = -r; dy <= r; ++dy) {
      const int64_t yy = y + dy;
      if (yy < 0 || yy >= H) continue;
      const T* __restrict h = ring + (yy % rows) * K * W + hw[dy + r] * W;
      if (first) {
        std::memcpy(out, h, W * sizeof(T));
        first = false;
      } else {
        for (int64_t x = 0; x < W; ++x) out[x] = Pick<T, kMax>(out[x], h[x]);
      }
    }
  }
}

template <typename T, bool kMax>
void GreyPass(const T* src, T* dst, int64_t W, int64_t H, int r, int threads) {
  const std::vector<int32_t> hw = DiskHalfWidths(r);
  const int32_t* hwp = hw.data();
  ParallelFor(H, Bands(W, H, threads), [=](int64_t y0, int64_t y1, int) { GreyBand<T, kMax>(src, dst, W, H, r, hwp, y0, y1); });
}

// Per-label pixel counts of a non-negative label image: dense table, or sorted distinct ids when
// the ids are huge (TS uses a Map there; same counts).
template <typename T>
class Counts {
 public:
  Counts(const T* in, int64_t n, const char* name) {
    int64_t max = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = in[i];
      if (v < 0)
        throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                          MakeString("Expected a value >= 0 for ", name, "[", i, "] but received number ", v));
      max = std::max(max, v);
    }
    if (max <= std::max<int64_t>(int64_t{1} << 20, 4 * n)) {
      dense_.assign(static_cast<size_t>(max + 1), 0);
      for (int64_t i = 0; i < n; ++i) ++dense_[static_cast<size_t>(in[i])];
    } else {
      ids_.assign(in, in + n);
      std::sort(ids_.begin(), ids_.end());
      std::vector<int64_t> counts;
      size_t w = 0;
      for (size_t i = 0; i < ids_.size();) {
        size_t j = i;
        while (j < ids_.size() && ids_[j] == ids_[i]) ++j;
        ids_[w++] = ids_[i];
        counts.push_back(static_cast<int64_t>(j - i));
        i = j;
      }
      ids_.resize(w);
      sparse_ = std::move(counts);
    }
  }
  int64_t Count(int64_t id) const {
    if (!dense_.empty()) return static_cast<size_t>(id) < dense_.size() ? dense_[static_cast<size_t>(id)] : 0;
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    return it != ids_.end() && *it == id ? sparse_[it - ids_.begin()] : 0;
  }
  // Visits every present id with its count.
  template <typename F>
  void ForEach(F&& f) const {
    if (!dense_.empty()) {
      for (size_t id = 0; id < dense_.size(); ++id)
        if (dense_[id]) f(static_cast<int64_t>(id), dense_[id]);
    } else {
      for (size_t k = 0; k < ids_.size(); ++k) f(ids_[k], sparse_[k]);
    }
  }

 private:
  std::vector<int64_t> dense_;
  std::vector<int64_t> ids_, sparse_;
};

// numpy.histogram(values, 256) for distinct values xs with multiplicities ws, then skimage's Otsu.
double OtsuFromValues(const std::vector<double>& xs, const std::vector<double>& ws, double first) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  bool constant = true;
  for (double x : xs) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    if (x != first) constant = false;
  }
  if (constant) return first;
  constexpr int nb = 256;
  // np.linspace(lo, hi, 257): i * step + lo, the last edge exactly hi.
  const double delta = hi - lo, step = delta / nb;
  double edges[nb + 1];
  for (int i = 0; i <= nb; ++i) edges[i] = step == 0 ? (static_cast<double>(i) / nb) * delta + lo : static_cast<double>(i) * step + lo;
  edges[nb] = hi;
  const double norm = nb / (hi - lo);
  double counts[nb] = {0};
  for (size_t j = 0; j < xs.size(); ++j) {
    const double x = xs[j];
    int64_t idx = static_cast<int64_t>((x - lo) * norm);
    if (idx == nb) --idx;
    if (x < edges[idx]) --idx;
    if (x >= edges[idx + 1] && idx != nb - 1) ++idx;
    counts[idx] += ws[j];
  }
  double centers[nb], w1[nb], w2[nb], m1[nb], m2[nb];
  for (int i = 0; i < nb; ++i) centers[i] = (edges[i] + edges[i + 1]) / 2;
  double cw = 0, cs = 0;
  for (int i = 0; i < nb; ++i) {
    cw += counts[i];
    cs += counts[i] * centers[i];
    w1[i] = cw;
    m1[i] = cs / cw;
  }
  cw = 0;
  cs = 0;
  for (int i = nb - 1; i >= 0; --i) {
    cw += counts[i];
    cs += counts[i] * centers[i];
    w2[i] = cw;
    m2[i] = cs / cw;
  }
  double best = -std::numeric_limits<double>::infinity();
  int idx = 0;
  for (int i = 0; i < nb - 1; ++i) {
    const double d = m1[i] - m2[i + 1];
    const double v = w1[i] * w2[i + 1] * (d * d);
    if (v > best || (v != v && best == best)) {
      best = v;
      idx = i;
      if (v != v) break;  // numpy's argmax returns the first NaN
    }
  }
  return centers[idx];
}

}  // namespace

std::vector<int32_t> DiskHalfWidths(int radius) {
  std::vector<int32_t> hw(2 * radius + 1);
  for (int dy = -radius; dy <= radius; ++dy) {
    int dx = 0;
    while ((dx + 1) * (dx + 1) + dy * dy <= radius * radius) ++dx;
    hw[dy + radius] = dx;
  }
  return hw;
}

template <typename T>
int64_t Threshold(const T* in, uint8_t* out, int64_t n, int channels, int channel, double divisor, double value, int threads) {
  std::vector<uint8_t> table;
  if constexpr (sizeof(T) <= 2 && std::is_integral_v<T>) {
    table.resize(size_t{1} << (8 * sizeof(T)));
    for (size_t v = 0; v < table.size(); ++v) table[v] = static_cast<double>(v) / divisor > value;
  }
  const uint8_t* tb = table.data();
  const int nt = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, n >> 18)));
  std::vector<int64_t> part(nt, 0);
  int64_t* pp = part.data();
  ParallelFor(n, nt, [=](int64_t b, int64_t e, int t) {
    int64_t c = 0;
    const T* src = in + channel;
    for (int64_t i = b; i < e; ++i) {
      const T v = src[i * channels];
      uint8_t o;
      if constexpr (sizeof(T) <= 2 && std::is_integral_v<T>) o = tb[v];
      else o = static_cast<double>(v) / divisor > value;
      out[i] = o;
      c += o;
    }
    pp[t] = c;
  });
  int64_t total = 0;
  for (int64_t c : part) total += c;
  return total;
}

int64_t RemoveSmallObjectsBinary(const uint8_t* in, uint8_t* out, int64_t width, int64_t height, int connectivity,
                                 int64_t minSize, int threads) {
  const int64_t n = width * height;
  auto lab = Buffer<int32_t>(n);
  std::vector<int32_t> sizes;
  const int64_t count = LabelComponents(in, napi_uint8_array, lab.get(), width, height, connectivity, false, threads, sizes);
  std::vector<uint8_t> keep(static_cast<size_t>(count + 1), 0);
  int64_t kept = 0;
  for (int64_t k = 1; k <= count; ++k) {
    keep[k] = sizes[k] >= minSize;
    kept += keep[k];
  }
  const uint8_t* kp = keep.data();
  const int32_t* lp = lab.get();
  for (int64_t i = 0; i < n; ++i) out[i] = kp[lp[i]];
  return kept;
}

template <typename T>
int64_t RemoveSmallObjectsLabels(const T* in, T* out, int64_t n, int64_t minSize, const char* name) {
  const Counts<T> counts(in, n, name);
  int64_t kept = 0;
  counts.ForEach([&](int64_t id, int64_t c) { kept += id != 0 && c >= minSize; });
  if (counts.Count(0) == n) {
    if (out != in) std::memcpy(out, in, n * sizeof(T));
    return 0;
  }
  // Dense ids: a keep table; the sparse case looks every pixel up.
  if constexpr (sizeof(T) <= 2) {
    std::vector<uint8_t> keep(size_t{1} << (8 * sizeof(T)), 0);
    for (size_t id = 1; id < keep.size(); ++id) keep[id] = counts.Count(static_cast<int64_t>(id)) >= minSize;
    const uint8_t* kp = keep.data();
    for (int64_t i = 0; i < n; ++i) out[i] = kp[in[i]] ? in[i] : T{0};
  } else {
    int64_t prev = -1;
    bool prevKeep = false;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = in[i];
      if (v != prev) {
        prev = v;
        prevKeep = v != 0 && counts.Count(v) >= minSize;
      }
      out[i] = prevKeep ? in[i] : T{0};
    }
  }
  return kept;
}

int64_t RemoveSmallHoles(const uint8_t* in, uint8_t* out, int64_t width, int64_t height, int connectivity,
                         int64_t areaThreshold, int threads) {
  const int64_t n = width * height;
  auto inv = Buffer<uint8_t>(n);
  uint8_t* ip = inv.get();
  for (int64_t i = 0; i < n; ++i) ip[i] = in[i] == 0;
  auto lab = Buffer<int32_t>(n);
  std::vector<int32_t> sizes;
  const int64_t count = LabelComponents(ip, napi_uint8_array, lab.get(), width, height, connectivity, false, threads, sizes);
  std::vector<uint8_t> fill(static_cast<size_t>(count + 1), 1);
  int64_t filled = 0;
  for (int64_t k = 1; k <= count; ++k) {
    fill[k] = sizes[k] < areaThreshold;
    filled += fill[k];
  }
  const uint8_t* fp = fill.data();
  const int32_t* lp = lab.get();
  for (int64_t i = 0; i < n; ++i) out[i] = fp[lp[i]];  // label 0 = foreground: fill[0] = 1
  return filled;
}

void BinaryErosion(const uint8_t* in, uint8_t* out, int64_t W, int64_t H, int connectivity, bool borderValue, int threads) {
  const uint8_t bv = borderValue ? 1 : 0;
  const bool eight = connectivity == 8;
  ParallelFor(H, Bands(W, H, threads), [=](int64_t y0, int64_t y1, int) {
    // Rows padded with the border value on both sides; outside rows are all border value.
    std::vector<uint8_t> pad(static_cast<size_t>(3 * (W + 2)), bv);
    uint8_t* rows[3] = {pad.data(), pad.data() + (W + 2), pad.data() + 2 * (W + 2)};
    auto load = [=](uint8_t* dst, int64_t y) {
      dst[0] = dst[W + 1] = bv;
      if (y < 0 || y >= H) {
        std::memset(dst + 1, bv, W);
        return;
      }
      const uint8_t* r = in + y * W;
      for (int64_t x = 0; x < W; ++x) dst[x + 1] = r[x] != 0;
    };
    load(rows[0], y0 - 1);
    load(rows[1], y0);
    for (int64_t y = y0; y < y1; ++y) {
      load(rows[2], y + 1);
      const uint8_t* __restrict u = rows[0];
      const uint8_t* __restrict c = rows[1];
      const uint8_t* __restrict d = rows[2];
      uint8_t* __restrict o = out + y * W;
      if (eight) {
        for (int64_t x = 0; x < W; ++x)
          o[x] = c[x] & c[x + 1] & c[x + 2] & u[x] & u[x + 1] & u[x + 2] & d[x] & d[x + 1] & d[x + 2];
      } else {
        for (int64_t x = 0; x < W; ++x) o[x] = c[x] & c[x + 1] & c[x + 2] & u[x + 1] & d[x + 1];
      }
      uint8_t* t = rows[0];
      rows[0] = rows[1];
      rows[1] = rows[2];
      rows[2] = t;
    }
  });
}

void BinaryFillHoles(const uint8_t* in, uint8_t* out, int64_t W, int64_t H, int threads) {
  const int64_t n = W * H;
  auto inv = Buffer<uint8_t>(n);
  uint8_t* ip = inv.get();
  for (int64_t i = 0; i < n; ++i) ip[i] = in[i] == 0;
  auto lab = Buffer<int32_t>(n);
  std::vector<int32_t> sizes;
  const int64_t count = LabelComponents(ip, napi_uint8_array, lab.get(), W, H, 4, false, threads, sizes);
  std::vector<uint8_t> fill(static_cast<size_t>(count + 1), 1);
  const int32_t* lb = lab.get();
  for (int64_t x = 0; x < W; ++x) fill[lb[x]] = fill[lb[(H - 1) * W + x]] = 0;
  for (int64_t y = 0; y < H; ++y) fill[lb[y * W]] = fill[lb[y * W + W - 1]] = 0;
  fill[0] = 1;
  const uint8_t* fp = fill.data();
  const int32_t* lp = lab.get();
  for (int64_t i = 0; i < n; ++i) out[i] = fp[lp[i]];
}

template <typename T>
void FindBoundaries(const T* in, uint8_t* out, int64_t W, int64_t H, int threads) {
  ParallelFor(H, Bands(W, H, threads), [=](int64_t y0, int64_t y1, int) {
    for (int64_t y = y0; y < y1; ++y) {
      const T* __restrict c = in + y * W;
      const T* __restrict u = y > 0 ? c - W : c;  // outside rows compare with the row itself
      const T* __restrict d = y < H - 1 ? c + W : c;
      uint8_t* __restrict o = out + y * W;
      if (W == 1) {
        o[0] = (u[0] != c[0]) | (d[0] != c[0]);
        continue;
      }
      o[0] = (u[0] != c[0]) | (d[0] != c[0]) | (c[1] != c[0]);
      for (int64_t x = 1; x < W - 1; ++x)
        o[x] = static_cast<uint8_t>((u[x] != c[x]) | (d[x] != c[x]) | (c[x - 1] != c[x]) | (c[x + 1] != c[x]));
      o[W - 1] = (u[W - 1] != c[W - 1]) | (d[W - 1] != c[W - 1]) | (c[W - 2] != c[W - 1]);
    }
  });
}

template <typename T>
void Grey(const T* in, T* out, int64_t W, int64_t H, int radius, GreyOp op, int threads) {
  switch (op) {
    case GreyOp::kDilation: GreyPass<T, true>(in, out, W, H, radius, threads); return;
    case GreyOp::kErosion: GreyPass<T, false>(in, out, W, H, radius, threads); return;
    default: break;
  }
  auto tmp = Buffer<T>(W * H);
  if (op == GreyOp::kClosing) {
    GreyPass<T, true>(in, tmp.get(), W, H, radius, threads);
    GreyPass<T, false>(tmp.get(), out, W, H, radius, threads);
  } else {
    GreyPass<T, false>(in, tmp.get(), W, H, radius, threads);
    GreyPass<T, true>(tmp.get(), out, W, H, radius, threads);
  }
}

template <typename T>
double Otsu(const T* in, int64_t n, double divisor) {
  std::vector<double> xs, ws;
  if constexpr (std::is_integral_v<T>) {
    std::vector<int64_t> bins(size_t{1} << (8 * sizeof(T)), 0);
    for (int64_t i = 0; i < n; ++i) ++bins[in[i]];
    return OtsuFromHistogram(bins.data(), static_cast<int64_t>(bins.size()), divisor);
  } else {
    xs.resize(static_cast<size_t>(n));
    ws.assign(static_cast<size_t>(n), 1.0);
    for (int64_t i = 0; i < n; ++i) xs[i] = static_cast<double>(in[i]) / divisor;
  }
  return OtsuFromValues(xs, ws, static_cast<double>(in[0]) / divisor);
}

double OtsuFromHistogram(const int64_t* bins, int64_t nbins, double divisor) {
  std::vector<double> xs, ws;
  for (int64_t v = 0; v < nbins; ++v) {
    if (bins[v] == 0) continue;
    xs.push_back(static_cast<double>(v) / divisor);
    ws.push_back(static_cast<double>(bins[v]));
  }
  // One distinct value: it is the first pixel's, which is all OtsuFromValues compares with.
  return OtsuFromValues(xs, ws, xs.empty() ? 0.0 : xs[0]);
}

template int64_t Threshold<uint8_t>(const uint8_t*, uint8_t*, int64_t, int, int, double, double, int);
template int64_t Threshold<uint16_t>(const uint16_t*, uint8_t*, int64_t, int, int, double, double, int);
template int64_t Threshold<float>(const float*, uint8_t*, int64_t, int, int, double, double, int);
template int64_t Threshold<double>(const double*, uint8_t*, int64_t, int, int, double, double, int);
template int64_t RemoveSmallObjectsLabels<uint8_t>(const uint8_t*, uint8_t*, int64_t, int64_t, const char*);
template int64_t RemoveSmallObjectsLabels<uint16_t>(const uint16_t*, uint16_t*, int64_t, int64_t, const char*);
template int64_t RemoveSmallObjectsLabels<int32_t>(const int32_t*, int32_t*, int64_t, int64_t, const char*);
template void FindBoundaries<uint8_t>(const uint8_t*, uint8_t*, int64_t, int64_t, int);
template void FindBoundaries<uint16_t>(const uint16_t*, uint8_t*, int64_t, int64_t, int);
template void FindBoundaries<int32_t>(const int32_t*, uint8_t*, int64_t, int64_t, int);
template void Grey<uint8_t>(const uint8_t*, uint8_t*, int64_t, int64_t, int, GreyOp, int);
template void Grey<uint16_t>(const uint16_t*, uint16_t*, int64_t, int64_t, int, GreyOp, int);
template void Grey<int32_t>(const int32_t*, int32_t*, int64_t, int64_t, int, GreyOp, int);
template double Otsu<uint8_t>(const uint8_t*, int64_t, double);
template double Otsu<uint16_t>(const uint16_t*, int64_t, double);
template double Otsu<double>(const double*, int64_t, double);

}  // namespace morph

namespace {

enum class Op { kThreshold, kRemoveSmallObjects, kRemoveSmallHoles, kBinaryErosion, kBinaryFillHoles, kFindBoundaries, kGrey, kOtsu };

struct MorphParams {
  Op op;
  int64_t width = 0, height = 0;
  int threads = 1;
  double value = 0, divisor = 1;
  int channels = 1, channel = 0;
  int64_t size = 0;  // minSize / areaThreshold
  int connectivity = 4;
  bool labelMode = false, borderValue = true;
  int radius = 0;
  morph::GreyOp grey = morph::GreyOp::kDilation;
};

class MorphologyWorker : public KernelWorker {
 public:
  MorphologyWorker(Napi::Env env, ArrayView in, ArrayView out, MorphParams p)
      : KernelWorker(env, "cellcam.morphology"), in_(in), out_(out), p_(p) {}

 protected:
  void Run() override {
    const int64_t W = p_.width, H = p_.height, n = W * H;
    const int th = p_.threads;
    auto* o8 = static_cast<uint8_t*>(out_.data);
    const auto* i8 = static_cast<const uint8_t*>(in_.data);
    switch (p_.op) {
      case Op::kThreshold:
        switch (in_.type) {
          case napi_uint8_array: result_ = static_cast<double>(morph::Threshold(i8, o8, n, p_.channels, p_.channel, p_.divisor, p_.value, th)); break;
          case napi_uint16_array: result_ = static_cast<double>(morph::Threshold(static_cast<const uint16_t*>(in_.data), o8, n, p_.channels, p_.channel, p_.divisor, p_.value, th)); break;
          case napi_float32_array: result_ = static_cast<double>(morph::Threshold(static_cast<const float*>(in_.data), o8, n, p_.channels, p_.channel, p_.divisor, p_.value, th)); break;
          default: result_ = static_cast<double>(morph::Threshold(static_cast<const double*>(in_.data), o8, n, p_.channels, p_.channel, p_.divisor, p_.value, th)); break;
        }
        break;
      case Op::kRemoveSmallObjects:
        if (!p_.labelMode) {
          // Binary on any dtype: nonzero is foreground, out is 0/1 of the input's dtype.
          std::vector<uint8_t> mask(static_cast<size_t>(n));
          Dispatch([&](auto* in) { for (int64_t i = 0; i < n; ++i) mask[i] = in[i] != 0; });
          const int64_t kept = morph::RemoveSmallObjectsBinary(mask.data(), mask.data(), W, H, p_.connectivity, p_.size, th);
          DispatchOut([&](auto* out) { for (int64_t i = 0; i < n; ++i) out[i] = mask[i]; });
          result_ = static_cast<double>(kept);
        } else {
          Dispatch([&](auto* in) {
            using T = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
            result_ = static_cast<double>(morph::RemoveSmallObjectsLabels<T>(in, static_cast<T*>(out_.data), n, p_.size));
          });
        }
        break;
      case Op::kRemoveSmallHoles:
        result_ = static_cast<double>(morph::RemoveSmallHoles(i8, o8, W, H, p_.connectivity, p_.size, th));
        break;
      case Op::kBinaryErosion: morph::BinaryErosion(i8, o8, W, H, p_.connectivity, p_.borderValue, th); break;
      case Op::kBinaryFillHoles: morph::BinaryFillHoles(i8, o8, W, H, th); break;
      case Op::kFindBoundaries:
        Dispatch([&](auto* in) { morph::FindBoundaries(in, o8, W, H, th); });
        break;
      case Op::kGrey:
        Dispatch([&](auto* in) {
          using T = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
          morph::Grey<T>(in, static_cast<T*>(out_.data), W, H, p_.radius, p_.grey, th);
        });
        break;
      case Op::kOtsu:
        switch (in_.type) {
          case napi_uint8_array: result_ = morph::Otsu(i8, n, p_.divisor); break;
          case napi_uint16_array: result_ = morph::Otsu(static_cast<const uint16_t*>(in_.data), n, p_.divisor); break;
          default: {
            const double* d = static_cast<const double*>(in_.data);
            for (int64_t i = 0; i < n; ++i)
              if (!std::isfinite(d[i]))
                throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                                  MakeString("Expected a finite value for image[", i, "] but received number ",
                                             std::isnan(d[i]) ? "NaN" : d[i] > 0 ? "Infinity" : "-Infinity"));
            result_ = morph::Otsu(d, n, p_.divisor);
          }
        }
        break;
    }
  }

  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, result_); }

 private:
  template <typename F>
  void Dispatch(F&& f) {
    switch (in_.type) {
      case napi_uint8_array: f(static_cast<const uint8_t*>(in_.data)); break;
      case napi_uint16_array: f(static_cast<const uint16_t*>(in_.data)); break;
      default: f(static_cast<const int32_t*>(in_.data)); break;
    }
  }
  template <typename F>
  void DispatchOut(F&& f) {
    switch (out_.type) {
      case napi_uint8_array: f(static_cast<uint8_t*>(out_.data)); break;
      case napi_uint16_array: f(static_cast<uint16_t*>(out_.data)); break;
      default: f(static_cast<int32_t*>(out_.data)); break;
    }
  }

  ArrayView in_, out_;
  MorphParams p_;
  double result_ = 0;
};



size_t ElementSize(napi_typedarray_type t) {
  switch (t) {
    case napi_uint8_array: return 1;
    case napi_uint16_array: return 2;
    case napi_float64_array: return 8;
    default: return 4;
  }
}

}  // namespace

// morphology(op, input, out|null, {width, height, threads, ...op fields}) -> Promise<number>
Napi::Value Morphology(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value opV = info[0], in = info[1], out = info[2], optV = info[3];
  const std::string ops = opV.IsString() ? opV.As<Napi::String>().Utf8Value() : "";
  MorphParams p;
  if (ops == "threshold") p.op = Op::kThreshold;
  else if (ops == "removeSmallObjects") p.op = Op::kRemoveSmallObjects;
  else if (ops == "removeSmallHoles") p.op = Op::kRemoveSmallHoles;
  else if (ops == "binaryErosion") p.op = Op::kBinaryErosion;
  else if (ops == "binaryFillHoles") p.op = Op::kBinaryFillHoles;
  else if (ops == "findBoundaries") p.op = Op::kFindBoundaries;
  else if (ops == "grey") p.op = Op::kGrey;
  else if (ops == "otsu") p.op = Op::kOtsu;
  else {
    CELLCAM_THROW_IF(true, env, RangeError, "CELLCAM_E_ARG",
                     "Expected 'threshold', 'removeSmallObjects', 'removeSmallHoles', 'binaryErosion', 'binaryFillHoles', "
                     "'findBoundaries', 'grey' or 'otsu' for op but received ", Describe(opV));
  }
  const bool u8 = IsType(in, napi_uint8_array), u16 = IsType(in, napi_uint16_array), i32 = IsType(in, napi_int32_array);
  const bool f32 = IsType(in, napi_float32_array), f64 = IsType(in, napi_float64_array);
  switch (p.op) {
    case Op::kThreshold:
      CELLCAM_TYPE_CHECK(u8 || u16 || f32 || f64, env, "Expected Uint8Array or Uint16Array or Float32Array or Float64Array for input but received ", Describe(in));
      break;
    case Op::kOtsu:
      CELLCAM_TYPE_CHECK(u8 || u16 || f64, env, "Expected Uint8Array or Uint16Array or Float64Array for input but received ", Describe(in));
      break;
    case Op::kRemoveSmallObjects: case Op::kFindBoundaries: case Op::kGrey:
      CELLCAM_TYPE_CHECK(u8 || u16 || i32, env, "Expected Uint8Array or Uint16Array or Int32Array for input but received ", Describe(in));
      break;
    default:
      CELLCAM_TYPE_CHECK(u8, env, "Expected Uint8Array for input but received ", Describe(in));
  }
  const napi_typedarray_type it = in.As<Napi::TypedArray>().TypedArrayType();
  const bool outSameType = p.op == Op::kRemoveSmallObjects || p.op == Op::kGrey;
  if (p.op == Op::kOtsu) {
    CELLCAM_TYPE_CHECK(out.IsNull() || out.IsUndefined(), env, "Expected null for out but received ", Describe(out));
  } else if (outSameType) {
    CELLCAM_TYPE_CHECK(IsType(out, it), env, "Expected ", TypedArrayTypeName(it), " for out but received ", Describe(out));
  } else {
    CELLCAM_TYPE_CHECK(IsType(out, napi_uint8_array), env, "Expected Uint8Array for out but received ", Describe(out));
  }
  CELLCAM_TYPE_CHECK(optV.IsObject() && !optV.IsArray() && !optV.IsTypedArray(), env, "Expected an object for options but received ", Describe(optV));
  const Napi::Object o = optV.As<Napi::Object>();
  const int64_t maxSide = p.op == Op::kOtsu ? (int64_t{1} << 30) : 65536;
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("width"), 1, static_cast<double>(maxSide)), env, "Expected an integer in [1, ", maxSide, "] for options.width but received ", Describe(o.Get("width")));
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("height"), 1, 65536), env, "Expected an integer in [1, 65536] for options.height but received ", Describe(o.Get("height")));
  p.width = OptInt(o, "width", 0);
  p.height = OptInt(o, "height", 0);
  const int64_t n = p.width * p.height;
  CELLCAM_SHAPE_CHECK(n <= (int64_t{1} << 30), env, "Expected at most 2^30 pixels for options.width*height but received number ", n);
  const Napi::Value thrV = o.Get("threads");
  CELLCAM_RANGE_CHECK(thrV.IsUndefined() || IsIntIn(thrV, 0, 1024), env, "Expected an integer in [0, 1024] for options.threads but received ", Describe(thrV));
  p.threads = ResolveThreads(OptInt(o, "threads", 0));

  if (p.op == Op::kThreshold) {
    const Napi::Value cv = o.Get("channels"), chv = o.Get("channel"), vv = o.Get("value");
    CELLCAM_RANGE_CHECK(cv.IsUndefined() || IsIntIn(cv, 1, 64), env, "Expected an integer in [1, 64] for options.channels but received ", Describe(cv));
    p.channels = static_cast<int>(OptInt(o, "channels", 1));
    CELLCAM_RANGE_CHECK(chv.IsUndefined() || IsIntIn(chv, 0, p.channels - 1), env, "Expected an integer in [0, ", p.channels - 1, "] for options.channel but received ", Describe(chv));
    p.channel = static_cast<int>(OptInt(o, "channel", 0));
    CELLCAM_TYPE_CHECK(vv.IsNumber(), env, "Expected a number for options.value but received ", Describe(vv));
    p.value = vv.As<Napi::Number>().DoubleValue();
  }
  if (p.op == Op::kThreshold || p.op == Op::kOtsu) {
    const Napi::Value dv = o.Get("divisor");
    const double d = dv.IsNumber() ? dv.As<Napi::Number>().DoubleValue() : (dv.IsUndefined() ? 1.0 : 0.0);
    CELLCAM_RANGE_CHECK(std::isfinite(d) && d != 0, env, "Expected a finite nonzero number for options.divisor but received ", Describe(dv));
    p.divisor = d;
  }
  const int64_t inLen = static_cast<int64_t>(in.As<Napi::TypedArray>().ElementLength());
  CELLCAM_SHAPE_CHECK(inLen == n * p.channels, env, "Expected ", TypedArrayTypeName(it), " of length ", p.channels > 1 ? "width*height*channels" : "width*height",
                      " = ", n * p.channels, " for input but received ", Describe(in));
  ArrayView outView{};
  const ArrayView inView = ViewOf(in.As<Napi::TypedArray>());
  if (p.op != Op::kOtsu) {
    outView = ViewOf(out.As<Napi::TypedArray>());
    CELLCAM_SHAPE_CHECK(static_cast<int64_t>(outView.length) == n, env, "Expected ", TypedArrayTypeName(outView.type), " of length width*height = ", n,
                        " for out but received ", Describe(out));
    // Pointwise ops may write over their input (exactly the same memory); neighbourhood ops may not.
    const bool pointwise = p.op != Op::kBinaryErosion && p.op != Op::kFindBoundaries && p.op != Op::kGrey;
    const size_t ib = inView.length * ElementSize(inView.type), ob = outView.length * ElementSize(outView.type);
    const bool same = inView.data == outView.data && ib == ob;
    CELLCAM_THROW_IF(Overlap(inView, ib, outView, ob) && !(pointwise && same), env, RangeError, "CELLCAM_E_ARG",
                     "Expected memory not overlapping input", pointwise ? " (or input itself)" : "", " for out but received ", Describe(out));
  }
  const Napi::Value connV = o.Get("connectivity");
  CELLCAM_RANGE_CHECK(connV.IsUndefined() || IsIntIn(connV, 4, 4) || IsIntIn(connV, 8, 8), env, "Expected 4 or 8 for options.connectivity but received ", Describe(connV));
  p.connectivity = static_cast<int>(OptInt(o, "connectivity", 4));
  if (p.op == Op::kRemoveSmallObjects || p.op == Op::kRemoveSmallHoles) {
    const char* key = p.op == Op::kRemoveSmallObjects ? "minSize" : "areaThreshold";
    const Napi::Value sv = o.Get(key);
    CELLCAM_RANGE_CHECK(IsIntIn(sv, 0, 2147483647.0), env, "Expected an integer in [0, 2147483647] for options.", key, " but received ", Describe(sv));
    p.size = OptInt(o, key, 0);
  }
  if (p.op == Op::kRemoveSmallObjects) {
    const std::string mode = OptString(o, "mode", u8 ? "binary" : "label");
    CELLCAM_THROW_IF(mode != "binary" && mode != "label", env, RangeError, "CELLCAM_E_ARG", "Expected 'binary' or 'label' for options.mode but received ", Describe(o.Get("mode")));
    p.labelMode = mode == "label";
  }
  if (p.op == Op::kBinaryErosion) {
    const Napi::Value bv = o.Get("borderValue");
    CELLCAM_TYPE_CHECK(bv.IsUndefined() || bv.IsBoolean(), env, "Expected a boolean for options.borderValue but received ", Describe(bv));
    p.borderValue = OptBool(o, "borderValue", true);
  }
  if (p.op == Op::kGrey) {
    const Napi::Value rv = o.Get("radius");
    CELLCAM_RANGE_CHECK(IsIntIn(rv, 0, 1024), env, "Expected an integer in [0, 1024] for options.radius but received ", Describe(rv));
    p.radius = static_cast<int>(OptInt(o, "radius", 0));
    const std::string g = OptString(o, "op", "");
    if (g == "dilation") p.grey = morph::GreyOp::kDilation;
    else if (g == "erosion") p.grey = morph::GreyOp::kErosion;
    else if (g == "closing") p.grey = morph::GreyOp::kClosing;
    else if (g == "opening") p.grey = morph::GreyOp::kOpening;
    else {
      CELLCAM_THROW_IF(true, env, RangeError, "CELLCAM_E_ARG", "Expected 'dilation', 'erosion', 'closing' or 'opening' for options.op but received ", Describe(o.Get("op")));
    }
  }

  auto* w = new MorphologyWorker(env, inView, outView, p);
  w->Pin(in);
  if (p.op != Op::kOtsu) w->Pin(out);
  Napi::Promise promise = w->Promise();
  w->Queue();
  return promise;
}

}  // namespace cellcam
