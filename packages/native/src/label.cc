// Connected-component labelling (scipy.ndimage.label / skimage.measure.label semantics): union-find
// over row runs, horizontal strips in parallel, labels 1..count in raster order of first pixels.
// The CUDA path (cuda/label.cu) gives the same labels and sizes with a pixel union-find.
#include <cstring>

#include "common.h"
#include "gpu.h"
#include "kernels.h"
#include "label.h"

namespace cellcam {
namespace {

// A maximal horizontal span [x0, x1) of foreground (binary) or of one nonzero value (label mode).
struct Span {
  int32_t x0, x1, v;
};

// Runs of one horizontal strip, with strip-local union-find parents.
struct Strip {
  int64_t y0 = 0, y1 = 0;
  std::vector<Span> runs;
  std::vector<int32_t> rowStart;  // runs of row y0 + k are runs[rowStart[k] .. rowStart[k + 1])
};

// Unions always link the larger root under the smaller one, so parent[r] <= r holds throughout and
// every root is its component's first run in raster order (whatever the strip split).
inline int32_t Find(int32_t* parent, int32_t r) {
  while (parent[r] != r) {
    parent[r] = parent[parent[r]];
    r = parent[r];
  }
  return r;
}

inline void Union(int32_t* parent, int32_t a, int32_t b) {
  a = Find(parent, a);
  b = Find(parent, b);
  if (a < b) parent[b] = a;
  else if (b < a) parent[a] = b;
}

// Joins the runs of two consecutive rows that touch (d = 1 lets 8-connectivity reach diagonals).
// Indices are relative to `parent`; label mode additionally needs equal values.
template <bool kLabelMode>
void MergeRows(const Span* runs, int32_t pa, int32_t pe, int32_t ca, int32_t ce, int32_t base, int32_t d, int32_t* parent) {
  int32_t i = pa;
  for (int32_t b = ca; b < ce; ++b) {
    const Span& rb = runs[b];
    while (i < pe && runs[i].x1 + d <= rb.x0) ++i;
    for (int32_t j = i; j < pe && runs[j].x0 < rb.x1 + d; ++j) {
      if (!kLabelMode || runs[j].v == rb.v) Union(parent, base + j, base + b);
    }
  }
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && (defined(__GNUC__) || defined(__clang__))
constexpr bool kWordScan = true;
inline int FirstSetByte(uint64_t w) { return __builtin_ctzll(w) >> 3; }
#else
constexpr bool kWordScan = false;
inline int FirstSetByte(uint64_t) { return 0; }
#endif

// Runs of a binary uint8 row, 8 bytes at a time: masks are long runs of 0s and of 1s.
void ExtractRowBytes(const uint8_t* row, int32_t width, std::vector<Span>& runs) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  int32_t x = 0;
  while (x < width) {
    for (;;) {
      if (x + 8 > width) {
        while (x < width && row[x] == 0) ++x;
        break;
      }
      uint64_t w;
      std::memcpy(&w, row + x, 8);
      if (w != 0) {
        x += FirstSetByte(w);
        break;
      }
      x += 8;
    }
    if (x >= width) break;
    const int32_t x0 = x;
    for (;;) {
      if (x + 8 > width) {
        while (x < width && row[x] != 0) ++x;
        break;
      }
      uint64_t w;
      std::memcpy(&w, row + x, 8);
      // Flags zero bytes; the lowest flag is exact (borrows only create flags above a zero byte).
      const uint64_t z = (w - kOnes) & ~w & kHigh;
      if (z != 0) {
        x += FirstSetByte(z);
        break;
      }
      x += 8;
    }
    runs.push_back(Span{x0, x, 1});
  }
}

template <typename T, bool kLabelMode>
void ExtractRow(const T* row, int32_t width, std::vector<Span>& runs) {
  if constexpr (sizeof(T) == 1 && !kLabelMode && kWordScan) {
    ExtractRowBytes(row, width, runs);
    return;
  }
  int32_t x = 0;
  while (x < width) {
    while (x < width && row[x] == 0) ++x;
    if (x >= width) break;
    const int32_t x0 = x;
    const T v = row[x];
    if constexpr (kLabelMode) {
      while (x < width && row[x] == v) ++x;
    } else {
      while (x < width && row[x] != 0) ++x;
    }
    runs.push_back(Span{x0, x, kLabelMode ? static_cast<int32_t>(v) : 1});
  }
}

template <typename T, bool kLabelMode>
void LabelStrip(const T* input, int32_t width, int32_t d, Strip& s, std::vector<int32_t>& parent) {
  s.runs.clear();
  s.rowStart.assign(1, 0);
  for (int64_t y = s.y0; y < s.y1; ++y) {
    ExtractRow<T, kLabelMode>(input + y * width, width, s.runs);
    s.rowStart.push_back(static_cast<int32_t>(s.runs.size()));
  }
  parent.resize(s.runs.size());
  for (size_t r = 0; r < parent.size(); ++r) parent[r] = static_cast<int32_t>(r);
  for (size_t k = 1; k + 1 < s.rowStart.size(); ++k) {
    MergeRows<kLabelMode>(s.runs.data(), s.rowStart[k - 1], s.rowStart[k], s.rowStart[k], s.rowStart[k + 1], 0, d, parent.data());
  }
}

// The labelling itself, shared by the worker and the C++ callers of label.h.
template <typename T, bool kLabelMode>
int64_t LabelImpl(const T* input, int32_t* out, int64_t width64, int64_t height, int connectivity, int threadsRequested,
                  std::vector<int32_t>& sizes) {
  const int32_t width = static_cast<int32_t>(width64);
  const int64_t n = width64 * height;
  const int32_t d = connectivity == 8 ? 1 : 0;

  // Automatic (0): threads only pay beyond a few hundred thousand pixels, with strips of >= 32 rows.
  // An explicit count is honoured up to one row per strip (tests exercise the seams that way).
  const int threads = threadsRequested > 0 ? static_cast<int>(std::min<int64_t>(ResolveThreads(threadsRequested), height))
                                           : static_cast<int>(std::min<int64_t>({ResolveThreads(0), std::max<int64_t>(1, n / (1 << 18)), std::max<int64_t>(1, height / 32)}));
  std::vector<Strip> strips(threads);
  std::vector<std::vector<int32_t>> localParent(threads);
  for (int t = 0; t < threads; ++t) {
    strips[t].y0 = height * t / threads;
    strips[t].y1 = height * (t + 1) / threads;
  }
  ParallelFor(threads, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) LabelStrip<T, kLabelMode>(input, width, d, strips[t], localParent[t]);
  });

  // Global run numbering is raster order; strip-local parents shift by the strip's offset.
  std::vector<int64_t> offset(threads + 1, 0);
  for (int t = 0; t < threads; ++t) offset[t + 1] = offset[t] + static_cast<int64_t>(strips[t].runs.size());
  const int64_t total = offset[threads];
  if (total > INT32_MAX) throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE", "too many runs for labelling");
  std::vector<int32_t> parent(total);
  ParallelFor(threads, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const int32_t off = static_cast<int32_t>(offset[t]);
      const std::vector<int32_t>& lp = localParent[t];
      for (size_t r = 0; r < lp.size(); ++r) parent[off + r] = lp[r] + off;
      std::vector<int32_t>().swap(localParent[t]);
    }
  });
  for (int t = 1; t < threads; ++t) {
    // Seam between the last row of strip t-1 and the first row of strip t (strips are never
    // empty: threads <= height). Those rows' runs are adjacent in the global numbering.
    const Strip& up = strips[t - 1];
    const Strip& dn = strips[t];
    const size_t lastRow = up.rowStart.size() - 2;
    std::vector<Span> seam;
    seam.reserve((up.rowStart[lastRow + 1] - up.rowStart[lastRow]) + (dn.rowStart[1] - dn.rowStart[0]));
    seam.insert(seam.end(), up.runs.begin() + up.rowStart[lastRow], up.runs.begin() + up.rowStart[lastRow + 1]);
    const int32_t na = static_cast<int32_t>(seam.size());
    seam.insert(seam.end(), dn.runs.begin(), dn.runs.begin() + dn.rowStart[1]);
    const int32_t nb = static_cast<int32_t>(seam.size()) - na;
    // seam[k] is global run base + k: the upper row ends exactly where strip t starts (offset[t]).
    const int32_t base = static_cast<int32_t>(offset[t - 1] + up.rowStart[lastRow]);
    MergeRows<kLabelMode>(seam.data(), 0, na, na, na + nb, base, d, parent.data());
  }

  // Raster-order relabel in place: parent[r] < r is already a final label when r is reached.
  std::vector<int64_t> sizes64(1, 0);
  int64_t count = 0, fg = 0;
  for (int t = 0; t < threads; ++t) {
    const int32_t off = static_cast<int32_t>(offset[t]);
    const std::vector<Span>& runs = strips[t].runs;
    for (size_t k = 0; k < runs.size(); ++k) {
      const int32_t r = off + static_cast<int32_t>(k);
      const int32_t p = parent[r];
      int32_t lab;
      if (p == r) {
        lab = static_cast<int32_t>(++count);
        sizes64.push_back(0);
      } else {
        lab = parent[p];
      }
      parent[r] = lab;
      const int64_t len = runs[k].x1 - runs[k].x0;
      sizes64[lab] += len;
      fg += len;
    }
  }
  sizes64[0] = n - fg;
  sizes.assign(sizes64.begin(), sizes64.end());

  // All input has been read (runs), so `out` may alias the input.
  ParallelFor(threads, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const Strip& s = strips[t];
      const int32_t off = static_cast<int32_t>(offset[t]);
      for (int64_t y = s.y0; y < s.y1; ++y) {
        int32_t* row = out + y * width;
        int32_t x = 0;
        const int32_t k0 = s.rowStart[y - s.y0], k1 = s.rowStart[y - s.y0 + 1];
        for (int32_t k = k0; k < k1; ++k) {
          const Span& run = s.runs[k];
          if (run.x0 > x) std::memset(row + x, 0, (run.x0 - x) * sizeof(int32_t));
          std::fill(row + run.x0, row + run.x1, parent[off + k]);
          x = run.x1;
        }
        if (x < width) std::memset(row + x, 0, (width - x) * sizeof(int32_t));
      }
    }
  });
  return count;
}

class LabelWorker : public KernelWorker {
 public:
  LabelWorker(Napi::Env env, ArrayView input, ArrayView out, int64_t width, int64_t height, int connectivity, bool labelMode, int threads,
              bool cuda)
      : KernelWorker(env, "cellcam.label"), input_(input), out_(out), width_(width), height_(height),
        connectivity_(connectivity), labelMode_(labelMode), threads_(threads), cuda_(cuda) {}

 protected:
  void Run() override {
    if (cuda_) {
      RunCuda();
      return;
    }
    switch (input_.type) {
      case napi_uint8_array: Dispatch<uint8_t>(); break;
      case napi_uint16_array: Dispatch<uint16_t>(); break;
      default: Dispatch<int32_t>(); break;
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("count", Napi::Number::New(env, static_cast<double>(count_)));
    Napi::Int32Array sizes = Napi::Int32Array::New(env, sizes_.size());
    if (!sizes_.empty()) std::memcpy(sizes.Data(), sizes_.data(), sizes_.size() * sizeof(int32_t));
    o.Set("sizes", sizes);
    o.Set("device", cuda_ ? "cuda" : "cpu");
    if (cuda_) o.Set("timings", TimingsObject(env, timings_));
    return o;
  }

 private:
  void RunCuda() {
    const GpuInfo& g = Gpu();
    if (g.devices == 0) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "label: options.device is 'cuda' but no CUDA device is usable: " + g.reason);
    }
#if defined(CELLCAM_HAVE_CUDA)
    const gpu::Dtype dt = input_.type == napi_uint8_array ? gpu::Dtype::U8 : input_.type == napi_uint16_array ? gpu::Dtype::U16 : gpu::Dtype::I32;
    std::string err;
    const auto t0 = std::chrono::steady_clock::now();
    if (!gpu::Label(input_.data, dt, static_cast<int32_t*>(out_.data), width_, height_, connectivity_, labelMode_, &sizes_, &count_, &timings_, &err)) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "label: CUDA error: " + err);
    }
    timings_.totalMs = MsSince(t0);
#else
    throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "label: " + g.reason);
#endif
  }

  template <typename T>
  void Dispatch() {
    if (labelMode_) Label<T, true>();
    else Label<T, false>();
  }

  template <typename T, bool kLabelMode>
  void Label() {
    count_ = LabelImpl<T, kLabelMode>(static_cast<const T*>(input_.data), static_cast<int32_t*>(out_.data), width_, height_,
                                      connectivity_, threads_, sizes_);
  }

  ArrayView input_, out_;
  int64_t width_, height_;
  int connectivity_;
  bool labelMode_;
  int threads_;  // requested; 0 = automatic
  bool cuda_;
  int64_t count_ = 0;
  std::vector<int32_t> sizes_;
  gpu::Timings timings_;
};


}  // namespace

int64_t LabelComponents(const void* input, napi_typedarray_type type, int32_t* out, int64_t width, int64_t height,
                        int connectivity, bool labelMode, int threads, std::vector<int32_t>& sizes) {
  switch (type) {
    case napi_uint8_array:
      return labelMode ? LabelImpl<uint8_t, true>(static_cast<const uint8_t*>(input), out, width, height, connectivity, threads, sizes)
                       : LabelImpl<uint8_t, false>(static_cast<const uint8_t*>(input), out, width, height, connectivity, threads, sizes);
    case napi_uint16_array:
      return labelMode ? LabelImpl<uint16_t, true>(static_cast<const uint16_t*>(input), out, width, height, connectivity, threads, sizes)
                       : LabelImpl<uint16_t, false>(static_cast<const uint16_t*>(input), out, width, height, connectivity, threads, sizes);
    default:
      return labelMode ? LabelImpl<int32_t, true>(static_cast<const int32_t*>(input), out, width, height, connectivity, threads, sizes)
                       : LabelImpl<int32_t, false>(static_cast<const int32_t*>(input), out, width, height, connectivity, threads, sizes);
  }
}

Napi::Value Label(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value in0 = info[0], in1 = info[1], in2 = info[2];
  const napi_typedarray_type it = in0.IsTypedArray() ? in0.As<Napi::TypedArray>().TypedArrayType() : napi_float64_array;
  CELLCAM_TYPE_CHECK(in0.IsTypedArray() && (it == napi_uint8_array || it == napi_uint16_array || it == napi_int32_array), env,
                     "Expected Uint8Array or Uint16Array or Int32Array for input but received ", Describe(in0));
  CELLCAM_TYPE_CHECK(IsType(in1, napi_int32_array), env,
                     "Expected Int32Array for out but received ", Describe(in1));
  CELLCAM_TYPE_CHECK(in2.IsObject() && !in2.IsArray() && !in2.IsTypedArray(), env, "Expected an object for options but received ", Describe(in2));
  Napi::TypedArray input = in0.As<Napi::TypedArray>(), out = in1.As<Napi::TypedArray>();
  Napi::Object o = in2.As<Napi::Object>();
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("width"), 1, 65536), env, "Expected an integer in [1, 65536] for options.width but received ", Describe(o.Get("width")));
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("height"), 1, 65536), env, "Expected an integer in [1, 65536] for options.height but received ", Describe(o.Get("height")));
  const int64_t width = OptInt(o, "width", 0), height = OptInt(o, "height", 0), n = width * height;
  CELLCAM_SHAPE_CHECK(n <= (int64_t(1) << 30), env, "Expected at most 2^30 pixels for options.width*height but received number ", n);
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(input.ElementLength()) == n, env, "Expected ", TypedArrayTypeName(it), " of length width*height = ", n,
                      " for input but received ", Describe(in0));
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(out.ElementLength()) == n, env, "Expected Int32Array of length width*height = ", n,
                      " for out but received ", Describe(in1));
  Napi::Value connV = o.Get("connectivity");
  const int64_t conn = IsIntIn(connV, 4, 8) ? OptInt(o, "connectivity", 0) : 0;
  CELLCAM_RANGE_CHECK(conn == 4 || conn == 8, env, "Expected 4 or 8 for options.connectivity but received ", Describe(connV));
  const std::string mode = OptString(o, "mode", "");
  CELLCAM_THROW_IF(mode != "binary" && mode != "label", env, RangeError, "CELLCAM_E_ARG", "Expected 'binary' or 'label' for options.mode but received ", Describe(o.Get("mode")));
  Napi::Value thrV = o.Get("threads");
  CELLCAM_RANGE_CHECK(thrV.IsUndefined() || IsIntIn(thrV, 0, 1 << 30), env, "Expected an integer >= 0 for options.threads but received ", Describe(thrV));
  const int64_t threads = OptInt(o, "threads", 0);
  const Napi::Value devV = o.Get("device");
  const std::string device = devV.IsUndefined() ? "cpu" : devV.IsString() ? devV.As<Napi::String>().Utf8Value() : "";
  CELLCAM_THROW_IF(device != "cpu" && device != "cuda", env, RangeError, "CELLCAM_E_ARG",
                   "Expected 'cpu' or 'cuda' for options.device but received ", Describe(devV));

  auto* w = new LabelWorker(env, ViewOf(input), ViewOf(out), width, height, static_cast<int>(conn), mode == "label", static_cast<int>(threads),
                            device == "cuda");
  w->Pin(input);
  w->Pin(out);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace cellcam
