// COCO RLE counts strings (pycocotools rleEncode + rleToString) of every cell of a label image in
// one row-contiguous pass: column runs per column range in parallel, bucketed per cell, encoded.
// The CUDA path (cuda/rle.cu) finds the same runs on the device; the encoding here is shared.
#include <chrono>
#include <cstring>

#include "common.h"
#include "gpu.h"
#include "kernels.h"

namespace cellcam {
namespace {

constexpr int64_t kMaxCells = int64_t(1) << 24;

// A vertical run of one id in column x: rows [y0, y1).
struct ColRun {
  int32_t x, v, y0, y1;
};

// Streams counts into cocoapi's string form; deltas against the count two back start at i = 3.
class CountsEncoder {
 public:
  explicit CountsEncoder(std::string& out) : out_(out) {}
  void Push(int64_t count) {
    int64_t x = count;
    if (i_ > 2) x -= prev2_;
    prev2_ = prev1_;
    prev1_ = count;
    ++i_;
    bool more = true;
    while (more) {
      int64_t c = x & 0x1f;
      x >>= 5;  // arithmetic: x may be negative
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      out_.push_back(static_cast<char>(c + 48));
    }
  }

 private:
  std::string& out_;
  int64_t prev1_ = 0, prev2_ = 0;
  int64_t i_ = 0;
};


class RleWorker : public KernelWorker {
 public:
  RleWorker(Napi::Env env, ArrayView labels, int64_t width, int64_t height, int64_t cells, int threads, bool cuda)
      : KernelWorker(env, "cellcam.rle"), labels_(labels), width_(width), height_(height), cells_(cells), threads_(threads),
        cuda_(cuda) {}

 protected:
  void Run() override {
    if (cuda_) {
      const GpuInfo& g = Gpu();
      if (g.devices == 0) {
        throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "rle: options.device is 'cuda' but no CUDA device is usable: " + g.reason);
      }
    }
    if (labels_.type == napi_uint16_array) Encode<uint16_t>();
    else Encode<int32_t>();
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array a = Napi::Array::New(env, strings_.size());
    Napi::String empty;
    for (size_t i = 0; i < strings_.size(); ++i) {
      if (strings_[i].empty()) {
        if (empty.IsEmpty()) empty = Napi::String::New(env, empty_);
        a.Set(static_cast<uint32_t>(i), empty);
      } else {
        a.Set(static_cast<uint32_t>(i), Napi::String::New(env, strings_[i]));
      }
    }
    // Non-enumerable, so the result still reads (and serialises) as a plain array of strings.
    if (cuda_) a.DefineProperty(Napi::PropertyDescriptor::Value("timings", TimingsObject(env, timings_), napi_default));
    return a;
  }

 private:
  // Scans columns [xa, xb) row by row in strips narrow enough that the per-column state stays in
  // L1, and appends that range's runs in column-major order (x ascending, then y ascending).
  template <typename T>
  void ScanColumns(const T* labels, int64_t xa, int64_t xb, std::vector<ColRun>& out, int64_t& badJ, int32_t& badV) const {
    const int64_t width = width_, height = height_, cells = cells_;
    constexpr int64_t kStrip = 256, kBlock = 32 / sizeof(T);
    T cur[kStrip];
    int32_t start[kStrip];
    std::vector<ColRun> emitted;
    std::vector<int32_t> perCol(kStrip + 1);
    auto emit = [&](int64_t x, T v, int32_t y0, int32_t y1) {
      if (v == 0) return;
      const int64_t iv = static_cast<int64_t>(v);
      if (iv < 0 || iv > cells) {
        const int64_t j = x * height + y0;
        if (badJ < 0 || j < badJ) {
          badJ = j;
          badV = static_cast<int32_t>(iv);
        }
        return;
      }
      emitted.push_back(ColRun{static_cast<int32_t>(x), static_cast<int32_t>(iv), y0, y1});
    };
    for (int64_t sa = xa; sa < xb; sa += kStrip) {
      const int64_t s = std::min(kStrip, xb - sa);
      emitted.clear();
      std::memcpy(cur, labels + sa, s * sizeof(T));
      std::fill(start, start + s, 0);
      for (int64_t y = 1; y < height; ++y) {
        const T* row = labels + y * width + sa;
        // Most pixels repeat the one above: test blocks of kBlock with a vectorizable OR of XORs
        // and only walk the blocks that changed.
        for (int64_t cb = 0; cb < s; cb += kBlock) {
          const int64_t ce = std::min(cb + kBlock, s);
          if (ce - cb == kBlock) {
            T diff = 0;
            for (int64_t k = 0; k < kBlock; ++k) diff |= static_cast<T>(row[cb + k] ^ cur[cb + k]);
            if (diff == 0) continue;
          }
          for (int64_t c = cb; c < ce; ++c) {
            const T v = row[c];
            if (v != cur[c]) {
              emit(sa + c, cur[c], start[c], static_cast<int32_t>(y));
              cur[c] = v;
              start[c] = static_cast<int32_t>(y);
            }
          }
        }
      }
      for (int64_t c = 0; c < s; ++c) emit(sa + c, cur[c], start[c], static_cast<int32_t>(height));
      // Runs were emitted in order of their end row; a stable counting sort by column restores
      // column-major order (runs of one column end in increasing rows).
      std::fill(perCol.begin(), perCol.end(), 0);
      for (const ColRun& r : emitted) ++perCol[r.x - sa + 1];
      for (int64_t c = 0; c < s; ++c) perCol[c + 1] += perCol[c];
      const size_t base = out.size();
      out.resize(base + emitted.size());
      for (const ColRun& r : emitted) out[base + perCol[r.x - sa]++] = r;
    }
  }

  [[noreturn]] void ThrowBadId(int64_t bj, int32_t bv) const {
    throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                      MakeString("Expected ids in [0, ", cells_, "] for labels but received number ", bv, " at (x=", bj / height_, ", y=", bj % height_, ")"));
  }

  // Runs of every cell on the CPU: runs of cell id are [first[id], first[id + 1]) as column-major
  // (start, length) pairs in increasing start; a column run ending at row H-1 is not yet merged
  // with one starting at row 0 of the next column (the encoder does that).
  template <typename T>
  int RunsCpu(std::vector<int32_t>& first, std::vector<int32_t>& pos, std::vector<int32_t>& len) {
    const T* labels = static_cast<const T*>(labels_.data);
    const int64_t width = width_, height = height_, n = width_ * height_, cells = cells_;
    const int threads = threads_ > 0 ? static_cast<int>(std::min<int64_t>(ResolveThreads(threads_), width))
                                     : static_cast<int>(std::min<int64_t>({ResolveThreads(0), std::max<int64_t>(1, n / (1 << 18)), std::max<int64_t>(1, width / 64)}));
    std::vector<std::vector<ColRun>> runs(threads);
    std::vector<int64_t> badJ(threads, -1);
    std::vector<int32_t> badV(threads, 0);
    ParallelFor(threads, threads, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) ScanColumns<T>(labels, width * t / threads, width * (t + 1) / threads, runs[t], badJ[t], badV[t]);
    });
    // Report the first offending pixel in column-major order, whatever the thread split.
    int64_t bj = -1;
    int32_t bv = 0;
    for (int t = 0; t < threads; ++t) {
      if (badJ[t] >= 0 && (bj < 0 || badJ[t] < bj)) {
        bj = badJ[t];
        bv = badV[t];
      }
    }
    if (bj >= 0) ThrowBadId(bj, bv);

    // Bucket runs per cell as (column-major start, length), keeping column-major order.
    first.assign(cells + 2, 0);
    for (const auto& rs : runs)
      for (const ColRun& r : rs) ++first[r.v + 1];
    for (int64_t c = 0; c <= cells; ++c) first[c + 1] += first[c];
    const int32_t total = first[cells + 1];
    pos.resize(total);
    len.resize(total);
    {
      std::vector<int32_t> fill(first.begin(), first.end() - 1);
      for (auto& rs : runs) {
        for (const ColRun& r : rs) {
          const int32_t k = fill[r.v]++;
          pos[k] = static_cast<int32_t>(r.x * height + r.y0);
          len[k] = r.y1 - r.y0;
        }
        std::vector<ColRun>().swap(rs);
      }
    }
    return threads;
  }

  template <typename T>
  void Encode() {
    const int64_t n = width_ * height_, cells = cells_;
    {
      std::string e;
      CountsEncoder enc(e);
      enc.Push(n);
      empty_ = e;
    }
    std::vector<int32_t> first, pos, len;
    int threads;
    const auto t0 = std::chrono::steady_clock::now();
    if (cuda_) {
      threads = ResolveThreads(threads_);  // only the encoding below runs on CPU threads
      RunsCuda(first, pos, len);
    } else {
      threads = RunsCpu<T>(first, pos, len);
    }
    const int32_t total = first[cells + 1];

    strings_.assign(cells, std::string());
    auto encodeCell = [&](int64_t id) {
      const int32_t k0 = first[id], k1 = first[id + 1];
      if (k0 == k1) return;  // absent: Result() uses the shared empty-mask string
      std::string& s = strings_[id - 1];
      s.reserve(static_cast<size_t>(k1 - k0) * 4 + 8);
      CountsEncoder enc(s);
      int64_t lastEnd = 0, a = pos[k0], e = int64_t(pos[k0]) + len[k0];
      for (int32_t k = k0 + 1; k < k1; ++k) {
        // A run ending at row H-1 continues into the next column when that starts at row 0.
        if (pos[k] == e) {
          e += len[k];
          continue;
        }
        enc.Push(a - lastEnd);
        enc.Push(e - a);
        lastEnd = e;
        a = pos[k];
        e = a + len[k];
      }
      enc.Push(a - lastEnd);
      enc.Push(e - a);
      if (e < n) enc.Push(n - e);
    };
    ParallelFor(cells, std::min<int64_t>(threads, std::max<int64_t>(1, total / 4096)), [&](int64_t b, int64_t e, int) {
      for (int64_t id = b + 1; id <= e; ++id) encodeCell(id);
    });
    timings_.totalMs = MsSince(t0);  // the device phases are in timings_; the encoding is host work
  }

  // The same (first, pos, len) from the device; its runs are already merged across columns.
  void RunsCuda(std::vector<int32_t>& first, std::vector<int32_t>& pos, std::vector<int32_t>& len) {
#if defined(CELLCAM_HAVE_CUDA)
    int64_t bj = -1;
    int32_t bv = 0;
    std::string err;
    const gpu::Dtype dt = labels_.type == napi_uint16_array ? gpu::Dtype::U16 : gpu::Dtype::I32;
    if (!gpu::RleRuns(labels_.data, dt, width_, height_, cells_, &first, &pos, &len, &bj, &bv, &timings_, &err)) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "rle: CUDA error: " + err);
    }
    if (bj >= 0) ThrowBadId(bj, bv);
#else
    (void)first;
    (void)pos;
    (void)len;
    throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "rle: " + Gpu().reason);
#endif
  }

  ArrayView labels_;
  int64_t width_, height_, cells_;
  int threads_;  // requested; 0 = automatic
  bool cuda_;
  gpu::Timings timings_;
  std::string empty_;
  std::vector<std::string> strings_;
};

}  // namespace

Napi::Value Rle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value in0 = info[0], in1 = info[1];
  const napi_typedarray_type lt = in0.IsTypedArray() ? in0.As<Napi::TypedArray>().TypedArrayType() : napi_float64_array;
  CELLCAM_TYPE_CHECK(in0.IsTypedArray() && (lt == napi_uint16_array || lt == napi_int32_array), env,
                     "Expected Uint16Array or Int32Array for labels but received ", Describe(in0));
  CELLCAM_TYPE_CHECK(in1.IsObject() && !in1.IsArray() && !in1.IsTypedArray(), env, "Expected an object for options but received ", Describe(in1));
  Napi::TypedArray labels = in0.As<Napi::TypedArray>();
  Napi::Object o = in1.As<Napi::Object>();
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("width"), 1, 65536), env, "Expected an integer in [1, 65536] for options.width but received ", Describe(o.Get("width")));
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("height"), 1, 65536), env, "Expected an integer in [1, 65536] for options.height but received ", Describe(o.Get("height")));
  const int64_t width = OptInt(o, "width", 0), height = OptInt(o, "height", 0), n = width * height;
  CELLCAM_SHAPE_CHECK(n <= (int64_t(1) << 30), env, "Expected at most 2^30 pixels for options.width*height but received number ", n);
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(labels.ElementLength()) == n, env, "Expected ", TypedArrayTypeName(lt), " of length width*height = ", n,
                      " for labels but received ", Describe(in0));
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("cells"), 0, static_cast<double>(kMaxCells)), env, "Expected an integer in [0, ", kMaxCells,
                      "] for options.cells but received ", Describe(o.Get("cells")));
  Napi::Value thrV = o.Get("threads");
  CELLCAM_RANGE_CHECK(thrV.IsUndefined() || IsIntIn(thrV, 0, 1 << 30), env, "Expected an integer >= 0 for options.threads but received ", Describe(thrV));
  const Napi::Value devV = o.Get("device");
  const std::string device = devV.IsUndefined() ? "cpu" : devV.IsString() ? devV.As<Napi::String>().Utf8Value() : "";
  CELLCAM_THROW_IF(device != "cpu" && device != "cuda", env, RangeError, "CELLCAM_E_ARG",
                   "Expected 'cpu' or 'cuda' for options.device but received ", Describe(devV));

  auto* w = new RleWorker(env, ViewOf(labels), width, height, OptInt(o, "cells", 0), static_cast<int>(OptInt(o, "threads", 0)),
                          device == "cuda");
  w->Pin(labels);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace cellcam
