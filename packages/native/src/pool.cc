// CAM-to-cell pooling: per-cell (and per-region) mean/max of a [C, h, w] map bilinearly upsampled
// (half-pixel centres) to the label image, on the fly over horizontal runs. CPU threads split the
// channels; the CUDA path (cuda/pool.cu) runs the whole pooling on the device, in the same order.
#include "pool.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "common.h"
#include "gpu.h"
#include "kernels.h"
#include "scratch.h"

namespace cellcam {
namespace {

using pool::ColumnTables;
using pool::Plan;
using pool::Run;

// Source index pairs and weights of one axis (align_corners=false, left edge clamped to 0).
void AxisTable(int src, int dst, std::vector<int32_t>& i0, std::vector<int32_t>& i1, std::vector<double>& l,
               std::vector<double>& w0) {
  i0.resize(dst);
  i1.resize(dst);
  l.resize(dst);
  w0.resize(dst);
  const double s = static_cast<double>(src) / static_cast<double>(dst);
  for (int d = 0; d < dst; ++d) {
    double f = (static_cast<double>(d) + 0.5) * s - 0.5;
    if (f < 0) f = 0;
    int32_t k = static_cast<int32_t>(std::floor(f));
    if (k > src - 1) k = src - 1;  // unreachable in exact arithmetic; keeps indices in range
    i0[d] = k;
    i1[d] = std::min(k + 1, src - 1);
    l[d] = f - static_cast<double>(k);
    w0[d] = 1.0 - l[d];
  }
}

void BuildTables(Plan& p) {
  AxisTable(p.mapHeight, p.height, p.y0, p.y1, p.ly, p.wy0);
  AxisTable(p.mapWidth, p.width, p.x0, p.x1, p.lx, p.wx0);
  const int W = p.width;
  p.segEnd.resize(W);
  for (int X = W - 1; X >= 0; --X) p.segEnd[X] = (X + 1 < W && p.x0[X + 1] == p.x0[X]) ? p.segEnd[X + 1] : X + 1;
  // Sequential prefix sums: the summation order is part of the bit-exact contract.
  p.A0.assign(W + 1, 0.0);
  p.A1.assign(W + 1, 0.0);
  for (int X = 0; X < W; ++X) {
    p.A0[X + 1] = p.A0[X] + p.wx0[X];
    p.A1[X + 1] = p.A1[X] + p.lx[X];
  }
}

struct BandRuns {
  std::vector<Run> runs;
  std::string error;  // first invalid pixel of the band in raster order, "" when none
};

// First index in [X, end) whose value differs from row[X] (end if none), 16 bytes per step:
// label images are mostly long runs, and this scan is the only per-pixel pass of the kernel.
template <typename T>
inline int32_t SpanEnd(const T* row, int32_t X, int32_t end) {
  const T v = row[X];
  int32_t e = X + 1;
  constexpr int32_t K = 8 / sizeof(T);
  T lanes[K];
  for (int32_t i = 0; i < K; ++i) lanes[i] = v;
  uint64_t pat;
  std::memcpy(&pat, lanes, 8);
  while (e + 2 * K <= end) {
    uint64_t w0, w1;
    std::memcpy(&w0, row + e, 8);
    std::memcpy(&w1, row + e + K, 8);
    if (((w0 ^ pat) | (w1 ^ pat)) != 0) break;
    e += 2 * K;
  }
  while (e < end && row[e] == v) ++e;
  return e;
}

// The message for an invalid pixel at (x, y): its id when that is outside [0, cells], else its
// region. The CPU scan and the CUDA path (which reports the first invalid pixel) both use it.
std::string BadPixelMessage(const Plan& p, int64_t id, int region, int64_t x, int64_t y) {
  if (id < 0 || id > p.cells) {
    return MakeString("Expected ids in [0, ", p.cells, "] (options.cells) for labels but received ", id, " at x=", x, ", y=", y);
  }
  return MakeString("Expected values in [0, ", p.regionCount - 1, "] (options.regionCount - 1) for regions but received ", region,
                    " at x=", x, ", y=", y);
}

// Runs of rows [yb, ye): maximal spans of equal (label, region); background runs are dropped.
// Only run starts need checking: every other pixel of a run equals its start.
template <typename L>
void ScanRows(const L* labels, const uint8_t* regions, const Plan& p, int64_t yb, int64_t ye, BandRuns& out) {
  const int32_t W = p.width;
  const int64_t cells = p.cells;
  for (int64_t y = yb; y < ye; ++y) {
    const L* row = labels + y * W;
    const uint8_t* rr = regions ? regions + y * W : nullptr;
    int32_t X = 0;
    while (X < W) {
      const int64_t id = static_cast<int64_t>(row[X]);
      const int32_t r = rr ? rr[X] : 0;
      if (id < 0 || id > cells || (rr && r >= p.regionCount)) {
        out.error = BadPixelMessage(p, id, r, X, y);
        return;
      }
      int32_t e = SpanEnd(row, X, W);
      if (rr) e = SpanEnd(rr, X, e);
      if (id != 0) out.runs.push_back(Run{static_cast<int32_t>(y), X, e, static_cast<int32_t>(id), r});
      X = e;
    }
  }
}

template <typename L>
void BuildRuns(const L* labels, const uint8_t* regions, Plan& p, int threads) {
  const int64_t H = p.height;
  const int bands = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, H)));
  std::vector<BandRuns> parts(bands);
  ParallelFor(bands, bands, [&](int64_t b, int64_t e, int) {
    for (int64_t k = b; k < e; ++k) ScanRows(labels, regions, p, H * k / bands, H * (k + 1) / bands, parts[k]);
  });
  size_t total = 0;
  for (auto& part : parts) {
    if (!part.error.empty()) throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE", part.error);
    total += part.runs.size();
  }
  p.runs.clear();
  p.runs.reserve(total);
  for (auto& part : parts) {
    p.runs.insert(p.runs.end(), part.runs.begin(), part.runs.end());
    std::vector<Run>().swap(part.runs);
  }
  p.rowBegin.assign(H + 1, 0);
  for (const Run& r : p.runs) ++p.rowBegin[r.y + 1];
  for (int64_t y = 0; y < H; ++y) p.rowBegin[y + 1] += p.rowBegin[y];
}

ColumnTables Columns(const Plan& p) {
  return ColumnTables{p.x0.data(), p.x1.data(), p.segEnd.data(), p.lx.data(), p.wx0.data(), p.A0.data(), p.A1.data()};
}

// Adds one run's value to its cell (slot 0) and to its region slot, in raster order of runs
// (cuda/pool.cu's SlotKernel adds in the same order, so the sums are the same bits).
template <bool kMax>
inline void Accumulate(const Run& r, int cells, bool regions, double s, double m, double* S, double* M) {
  const int64_t i0 = r.id - 1;
  S[i0] += s;
  if (kMax) M[i0] = pool::MaxNan(M[i0], m);
  if (regions) {
    const int64_t i1 = static_cast<int64_t>(1 + r.region) * cells + r.id - 1;
    S[i1] += s;
    if (kMax) M[i1] = pool::MaxNan(M[i1], m);
  }
}

// The segments of one row's runs (see pool::NextSegment), built once per row and thread and then
// reused by every channel: the channel loops stream over flat arrays instead of walking tables.
struct RowSegments {
  std::vector<int32_t> xa, xb, runEnd;
  std::vector<double> w0, w1, p0, p1, e0, e1;  // p*/e*: (wx0, lx) at the segment's first/last pixel
  explicit RowSegments(int W) : xa(W), xb(W), runEnd(W), w0(W), w1(W), p0(W), p1(W), e0(W), e1(W) {}
};

template <bool kMax>
void BuildRowSegments(const Plan& p, const ColumnTables& cols, int64_t rb, int64_t re, RowSegments& rs) {
  int32_t n = 0;
  for (int64_t k = rb; k < re; ++k) {
    const Run& r = p.runs[k];
    int32_t X = r.a;
    while (X < r.b) {
      const pool::Segment g = pool::NextSegment(X, r.b, cols);
      rs.xa[n] = g.xa;
      rs.xb[n] = g.xb;
      rs.w0[n] = g.w0;
      rs.w1[n] = g.w1;
      if (kMax) {
        // e == X for one-pixel segments: MaxNan(MaxNan(m, v), v) == MaxNan(m, v), so no branch is needed.
        const int32_t e = g.q - 1;
        rs.p0[n] = cols.wx0[X];
        rs.p1[n] = cols.lx[X];
        rs.e0[n] = cols.wx0[e];
        rs.e1[n] = cols.lx[e];
      }
      ++n;
      X = g.q;
    }
    rs.runEnd[k - rb] = n;
  }
}

// G channels at once: independent addition chains per channel (the order within each channel is
// unchanged, so results stay bit-identical). Tg is the row interpolation, interleaved [x][G].
template <int G, bool kMax>
void PoolRowGroup(const Plan& p, int64_t rb, int64_t re, const RowSegments& rs, const double* Tg, double* S,
                  double* M, int64_t stride) {
  const bool regions = p.regionCount > 0;
  int32_t si = 0;
  for (int64_t k = rb; k < re; ++k) {
    double s[G], m[G];
    for (int j = 0; j < G; ++j) {
      s[j] = 0.0;
      m[j] = -HUGE_VAL;
    }
    for (const int32_t end = rs.runEnd[k - rb]; si < end; ++si) {
      const bool single = rs.xa[si] == rs.xb[si];
      const double* ta = Tg + static_cast<int64_t>(rs.xa[si]) * G;
      const double* tb = Tg + static_cast<int64_t>(rs.xb[si]) * G;
      const double w0 = rs.w0[si], w1 = rs.w1[si];
      for (int j = 0; j < G; ++j) {
        s[j] = pool::Add(s[j], pool::SegmentSum(ta[j], tb[j], single, w0, w1));
        if (kMax) {
          m[j] = pool::MaxNan(m[j], pool::SegmentValue(ta[j], tb[j], single, rs.p0[si], rs.p1[si]));
          m[j] = pool::MaxNan(m[j], pool::SegmentValue(ta[j], tb[j], single, rs.e0[si], rs.e1[si]));
        }
      }
    }
    for (int j = 0; j < G; ++j) Accumulate<kMax>(p.runs[k], p.cells, regions, s[j], m[j], S + j * stride, kMax ? M + j * stride : nullptr);
  }
}

template <int G>
void RowInterpolation(const Plan& p, const float* map, int64_t c0, int64_t Y, int32_t lo, int32_t hi, double* Tg) {
  const int64_t plane = static_cast<int64_t>(p.mapHeight) * p.mapWidth;
  const int32_t y0 = p.y0[Y], y1 = p.y1[Y];
  const double ly = p.ly[Y], wy0 = p.wy0[Y];
  for (int j = 0; j < G; ++j) {
    const float* mc = map + (c0 + j) * plane;
    for (int32_t x = lo; x <= hi; ++x) Tg[static_cast<int64_t>(x) * G + j] = pool::RowValue(mc, p.mapWidth, y0, y1, ly, wy0, x);
  }
}

template <int G, bool kMax>
void PoolGroup(const Plan& p, const float* map, int64_t c, int64_t Y, int64_t rb, int64_t re, int32_t lo, int32_t hi,
               const RowSegments& rs, double* Tg, double* S, double* M, int64_t stride) {
  RowInterpolation<G>(p, map, c, Y, lo, hi, Tg);
  PoolRowGroup<G, kMax>(p, rb, re, rs, Tg, S + c * stride, kMax ? M + c * stride : nullptr, stride);
}

// Channels [cb, ce): S/M hold slots*cells accumulators per channel (channel-major).
template <bool kMax>
void PoolChannelsCpu(const Plan& p, const float* map, int64_t cb, int64_t ce, double* S, double* M) {
  constexpr int kGroup = 4;
  const int64_t stride = (1 + p.regionCount) * static_cast<int64_t>(p.cells);
  const ColumnTables cols = Columns(p);
  RowSegments rs(p.width);
  std::vector<double> Tg(static_cast<size_t>(p.mapWidth) * kGroup);
  for (int64_t Y = 0; Y < p.height; ++Y) {
    const int64_t rb = p.rowBegin[Y], re = p.rowBegin[Y + 1];
    if (rb == re) continue;
    BuildRowSegments<kMax>(p, cols, rb, re, rs);
    const int32_t lo = p.x0[p.runs[rb].a], hi = p.x1[p.runs[re - 1].b - 1];
    int64_t c = cb;
    for (; c + kGroup <= ce; c += kGroup) PoolGroup<kGroup, kMax>(p, map, c, Y, rb, re, lo, hi, rs, Tg.data(), S, M, stride);
    switch (ce - c) {
      case 3: PoolGroup<3, kMax>(p, map, c, Y, rb, re, lo, hi, rs, Tg.data(), S, M, stride); break;
      case 2: PoolGroup<2, kMax>(p, map, c, Y, rb, re, lo, hi, rs, Tg.data(), S, M, stride); break;
      case 1: PoolGroup<1, kMax>(p, map, c, Y, rb, re, lo, hi, rs, Tg.data(), S, M, stride); break;
      default: break;
    }
  }
}

class PoolWorker : public KernelWorker {
 public:
  PoolWorker(Napi::Env env) : KernelWorker(env, "cellcam.pool") {}

  const float* map = nullptr;
  const void* labels = nullptr;
  bool labels16 = false;
  const uint8_t* regions = nullptr;
  // A nucleus label image given for regions: the map {0: nucleus (id != 0), 1: cytoplasm} is
  // derived here, on the worker's threads (a JS loop on the caller's thread took 19 ms per 2048²).
  const void* nuclei = nullptr;
  bool nuclei16 = false;
  float* mean = nullptr;
  float* max = nullptr;
  int32_t* area = nullptr;
  Plan plan;
  int threads = 1;
  bool cuda = false;
  gpu::Timings timings;

 protected:
  void Run() override {
    const auto t0 = std::chrono::steady_clock::now();
    if (nuclei != nullptr) {
      const int64_t n = int64_t{plan.width} * plan.height;
      derived_.emplace(static_cast<size_t>(n));
      uint8_t* const r = derived_->get();
      const auto derive = [&](const auto* s) {
        ParallelFor(n, threads, [=](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) r[i] = s[i] != 0 ? 0 : 1;
        });
      };
      if (nuclei16) derive(static_cast<const uint16_t*>(nuclei));
      else derive(static_cast<const int32_t*>(nuclei));
      regions = r;
    }
    if (cuda) {
      RunCuda();
      timings.totalMs = MsSince(t0);
      return;
    }
    Plan& p = plan;
    BuildTables(p);
    if (labels16) BuildRuns(static_cast<const uint16_t*>(labels), regions, p, threads);
    else BuildRuns(static_cast<const int32_t*>(labels), regions, p, threads);

    const int64_t C = p.channels, slots = 1 + p.regionCount, stride = slots * p.cells;
    const bool regionsOn = p.regionCount > 0;
    std::fill(area, area + stride, 0);
    for (const pool::Run& r : p.runs) {
      area[r.id - 1] += r.b - r.a;
      if (regionsOn) area[(1 + r.region) * static_cast<int64_t>(p.cells) + r.id - 1] += r.b - r.a;
    }
    if (stride == 0) return;

    const bool wantMax = max != nullptr;
    std::vector<double> S(C * stride, 0.0);
    std::vector<double> M(wantMax ? C * stride : 0, -std::numeric_limits<double>::infinity());
    // Each channel is owned by one thread and visits the runs in raster order: results do not
    // depend on the thread count.
    ParallelFor(C, threads, [&](int64_t cb, int64_t ce, int) {
      if (wantMax) PoolChannelsCpu<true>(p, map, cb, ce, S.data(), M.data());
      else PoolChannelsCpu<false>(p, map, cb, ce, S.data(), nullptr);
    });
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int64_t i = 0; i < stride; ++i) {
      const int32_t a = area[i];
      for (int64_t c = 0; c < C; ++c) {
        mean[i * C + c] = a == 0 ? nan : static_cast<float>(S[c * stride + i] / static_cast<double>(a));
        if (wantMax) max[i * C + c] = a == 0 ? nan : static_cast<float>(M[c * stride + i]);
      }
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("device", cuda ? "cuda" : "cpu");
    if (cuda) o.Set("timings", TimingsObject(env, timings));
    return o;
  }

 private:
  std::optional<Scratch<uint8_t>> derived_;  // the region map derived from `nuclei`

  // The whole pooling on the device (cuda/pool.cu); only the interpolation tables are built here.
  void RunCuda() {
    const GpuInfo& g = Gpu();
    if (g.devices == 0) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "pool: options.device is 'cuda' but no CUDA device is usable: " + g.reason);
    }
#if defined(CELLCAM_HAVE_CUDA)
    Plan& p = plan;
    BuildTables(p);
    int64_t bad = -1;
    std::string err;
    if (!pool::PoolCuda(p, labels, labels16, regions, map, mean, max, area, &bad, &timings, &err)) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "pool: CUDA error: " + err);
    }
    if (bad >= 0) ThrowBadPixel(bad);
#else
    throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "pool: " + Gpu().reason);
#endif
  }

  // The first invalid pixel the device found, with the CPU scan's message.
  [[noreturn]] void ThrowBadPixel(int64_t i) {
    const int64_t id = labels16 ? static_cast<const uint16_t*>(labels)[i] : static_cast<const int32_t*>(labels)[i];
    throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                      BadPixelMessage(plan, id, regions ? regions[i] : 0, i % plan.width, i / plan.width));
  }
};



}  // namespace

Napi::Value Pool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value vMap = info[0], vLabels = info[1], vRegions = info[2], vMean = info[3], vMax = info[4],
                    vArea = info[5], vOpts = info[6];
  CELLCAM_TYPE_CHECK(IsType(vMap, napi_float32_array), env, "Expected Float32Array for map but received ", Describe(vMap));
  CELLCAM_TYPE_CHECK(IsType(vLabels, napi_uint16_array) || IsType(vLabels, napi_int32_array), env,
                     "Expected Uint16Array or Int32Array for labels but received ", Describe(vLabels));
  const bool nucleiRegions = IsType(vRegions, napi_uint16_array) || IsType(vRegions, napi_int32_array);
  CELLCAM_TYPE_CHECK(vRegions.IsNull() || vRegions.IsUndefined() || IsType(vRegions, napi_uint8_array) || nucleiRegions, env,
                     "Expected Uint8Array (a region map), Uint16Array or Int32Array (nucleus labels) or null for regions but received ",
                     Describe(vRegions));
  CELLCAM_TYPE_CHECK(IsType(vMean, napi_float32_array), env, "Expected Float32Array for mean but received ", Describe(vMean));
  CELLCAM_TYPE_CHECK(vMax.IsNull() || vMax.IsUndefined() || IsType(vMax, napi_float32_array), env,
                     "Expected Float32Array or null for max but received ", Describe(vMax));
  CELLCAM_TYPE_CHECK(IsType(vArea, napi_int32_array), env, "Expected Int32Array for area but received ", Describe(vArea));
  CELLCAM_TYPE_CHECK(vOpts.IsObject(), env, "Expected an object for options but received ", Describe(vOpts));
  const Napi::Object o = vOpts.As<Napi::Object>();
  const bool hasRegions = IsType(vRegions, napi_uint8_array) || nucleiRegions, hasMax = IsType(vMax, napi_float32_array);

  const int64_t C = IntOption(env, o, "channels", 1, 4096);
  const int64_t h = IntOption(env, o, "mapHeight", 1, 65536);
  const int64_t w = IntOption(env, o, "mapWidth", 1, 65536);
  const int64_t W = IntOption(env, o, "width", 1, 65536);
  const int64_t H = IntOption(env, o, "height", 1, 65536);
  const int64_t cells = IntOption(env, o, "cells", 0, std::numeric_limits<int32_t>::max());
  // Nucleus labels stand for two regions, nucleus and cytoplasm.
  const int64_t R = IntOption(env, o, "regionCount", nucleiRegions ? 2 : hasRegions ? 1 : 0, nucleiRegions ? 2 : hasRegions ? 256 : 0);
  const int64_t threads = IntOption(env, o, "threads", 0, 1 << 16);
  const Napi::Value vDevice = o.Get("device");
  const std::string device = vDevice.IsUndefined() ? "cpu" : vDevice.IsString() ? vDevice.As<Napi::String>().Utf8Value() : "";
  CELLCAM_THROW_IF(device != "cpu" && device != "cuda", env, RangeError, "CELLCAM_E_ARG",
                   "Expected 'cpu' or 'cuda' for options.device but received ", Describe(vDevice));
  CELLCAM_SHAPE_CHECK(W * H <= (int64_t{1} << 30), env, "Expected at most 2^30 pixels for options.width*height but received ", W * H);
  const int64_t outLen = (1 + R) * cells * C;
  CELLCAM_SHAPE_CHECK(outLen <= (int64_t{1} << 31) - 1, env,
                      "Expected at most 2^31-1 elements for (1+regionCount)*cells*channels but received ", outLen);

  const ArrayView map = ViewOf(vMap.As<Napi::TypedArray>()), labels = ViewOf(vLabels.As<Napi::TypedArray>()),
                  mean = ViewOf(vMean.As<Napi::TypedArray>()), area = ViewOf(vArea.As<Napi::TypedArray>());
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(map.length) == C * h * w, env,
                      "Expected Float32Array of length channels*mapHeight*mapWidth = ", C * h * w, " for map but received ",
                      Describe(vMap));
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(labels.length) == W * H, env, "Expected length width*height = ", W * H,
                      " for labels but received ", Describe(vLabels));
  ArrayView regions, max;
  if (hasRegions) {
    regions = ViewOf(vRegions.As<Napi::TypedArray>());
    CELLCAM_SHAPE_CHECK(static_cast<int64_t>(regions.length) == W * H, env, "Expected ", nucleiRegions ? "an array" : "Uint8Array",
                        " of length width*height = ", W * H, " for regions but received ", Describe(vRegions));
  }
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(mean.length) == outLen, env,
                      "Expected Float32Array of length (1+regionCount)*cells*channels = ", outLen, " for mean but received ",
                      Describe(vMean));
  if (hasMax) {
    max = ViewOf(vMax.As<Napi::TypedArray>());
    CELLCAM_SHAPE_CHECK(static_cast<int64_t>(max.length) == outLen, env,
                        "Expected Float32Array of length (1+regionCount)*cells*channels = ", outLen, " for max but received ",
                        Describe(vMax));
  }
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(area.length) == (1 + R) * cells, env,
                      "Expected Int32Array of length (1+regionCount)*cells = ", (1 + R) * cells, " for area but received ",
                      Describe(vArea));

  auto* worker = new PoolWorker(env);
  worker->map = static_cast<const float*>(map.data);
  worker->labels = labels.data;
  worker->labels16 = labels.type == napi_uint16_array;
  worker->regions = hasRegions && !nucleiRegions ? static_cast<const uint8_t*>(regions.data) : nullptr;
  worker->nuclei = nucleiRegions ? regions.data : nullptr;
  worker->nuclei16 = nucleiRegions && regions.type == napi_uint16_array;
  worker->mean = static_cast<float*>(mean.data);
  worker->max = hasMax ? static_cast<float*>(max.data) : nullptr;
  worker->area = static_cast<int32_t*>(area.data);
  Plan& p = worker->plan;
  p.channels = static_cast<int>(C);
  p.mapHeight = static_cast<int>(h);
  p.mapWidth = static_cast<int>(w);
  p.width = static_cast<int>(W);
  p.height = static_cast<int>(H);
  p.cells = static_cast<int>(cells);
  p.regionCount = static_cast<int>(R);
  worker->threads = ResolveThreads(threads);
  worker->cuda = device == "cuda";
  for (const Napi::Value& v : {vMap, vLabels, vRegions, vMean, vMax, vArea, vOpts}) {
    if (v.IsObject()) worker->Pin(v);
  }
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace cellcam
