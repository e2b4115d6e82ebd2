// Area (box) resampling of one plane to another size, with fractional overlaps: the model input of
// every image (4 × 2048² → 512² per image) used to be resampled on the JS main thread. The
// arithmetic is the TypeScript twin's (packages/core/src/kernels/resample.ts) operation for
// operation — double accumulators, float32 weights and intermediates — so the bytes are equal.
#include <cmath>
#include <vector>

#include "common.h"
#include "kernels.h"

namespace cellcam {
namespace {

// One axis from n to m samples: output d covers source [d·n/m, (d+1)·n/m); w holds each covered
// source sample's overlap divided by the span, rounded to float32 as the twin's Float32Array does.
struct Axis {
  std::vector<int64_t> start, len;
  std::vector<float> w;
  int64_t stride = 0;
};

Axis MakeAxis(int64_t n, int64_t m) {
  Axis ax;
  const double s = static_cast<double>(n) / static_cast<double>(m);
  ax.stride = static_cast<int64_t>(std::ceil(s)) + 1;
  ax.start.resize(m);
  ax.len.resize(m);
  ax.w.assign(static_cast<size_t>(m * ax.stride), 0.0f);
  for (int64_t d = 0; d < m; ++d) {
    const double a = static_cast<double>(d) * s, b = static_cast<double>(d + 1) * s;
    const int64_t i0 = static_cast<int64_t>(std::floor(a));
    const int64_t i1 = std::min<int64_t>(n, static_cast<int64_t>(std::ceil(b)));
    ax.start[d] = i0;
    ax.len[d] = i1 - i0;
    for (int64_t i = i0; i < i1; ++i) {
      const double lo = std::max(static_cast<double>(i), a), hi = std::min(static_cast<double>(i + 1), b);
      ax.w[d * ax.stride + (i - i0)] = static_cast<float>((hi - lo) / s);
    }
  }
  return ax;
}

struct ResampleParams {
  int64_t width = 0, height = 0, outWidth = 0, outHeight = 0, offset = 0;
  double scale = 1;
  int threads = 1;
};

class ResampleWorker : public KernelWorker {
 public:
  ResampleWorker(Napi::Env env, ArrayView src, ArrayView out, ResampleParams p)
      : KernelWorker(env, "cellcam.resample"), src_(src), out_(out), p_(p) {}

 protected:
  void Run() override {
    switch (src_.type) {
      case napi_uint8_array: Go(static_cast<const uint8_t*>(src_.data)); break;
      case napi_uint16_array: Go(static_cast<const uint16_t*>(src_.data)); break;
      case napi_float32_array: Go(static_cast<const float*>(src_.data)); break;
      default: Go(static_cast<const double*>(src_.data)); break;
    }
  }

 private:
  template <typename T>
  void Go(const T* src) {
    const Axis ax = MakeAxis(p_.width, p_.outWidth), ay = MakeAxis(p_.height, p_.outHeight);
    const int64_t W = p_.width, OW = p_.outWidth, OH = p_.outHeight;
    float* out = static_cast<float*>(out_.data) + p_.offset;
    // Bands of output rows; each computes the horizontal pass of exactly the source rows it needs,
    // so bands share no state (a boundary row may be computed by two bands, identically).
    const int bands = static_cast<int>(std::min<int64_t>(p_.threads, std::max<int64_t>(1, OH / 8)));
    ParallelFor(OH, bands, [&](int64_t y0, int64_t y1, int) {
      const int64_t r0 = ay.start[y0], r1 = ay.start[y1 - 1] + ay.len[y1 - 1];
      std::vector<float> tmp(static_cast<size_t>((r1 - r0) * OW));
      for (int64_t y = r0; y < r1; ++y) {
        const T* row = src + y * W;
        float* t = tmp.data() + (y - r0) * OW;
        for (int64_t x = 0; x < OW; ++x) {
          const int64_t s0 = ax.start[x], L = ax.len[x];
          const float* w = ax.w.data() + x * ax.stride;
          double acc = 0;
          for (int64_t k = 0; k < L; ++k) acc += static_cast<double>(row[s0 + k]) * static_cast<double>(w[k]);
          t[x] = static_cast<float>(acc);
        }
      }
      // Vertical pass row by row (loop order swapped for locality; each pixel still sums k = 0..L-1 in order).
      std::vector<double> acc(static_cast<size_t>(OW));
      for (int64_t y = y0; y < y1; ++y) {
        const int64_t s0 = ay.start[y], L = ay.len[y];
        const float* w = ay.w.data() + y * ay.stride;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = 0; k < L; ++k) {
          const float* t = tmp.data() + (s0 + k - r0) * OW;
          const double wk = static_cast<double>(w[k]);
          for (int64_t x = 0; x < OW; ++x) acc[x] += static_cast<double>(t[x]) * wk;
        }
        float* o = out + y * OW;
        for (int64_t x = 0; x < OW; ++x) o[x] = static_cast<float>(acc[x] * p_.scale);
      }
    });
  }

  ArrayView src_, out_;
  ResampleParams p_;
};

}  // namespace

Napi::Value Resample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value in = info[0], outV = info[1], optV = info[2];
  CELLCAM_TYPE_CHECK(IsType(in, napi_uint8_array) || IsType(in, napi_uint16_array) || IsType(in, napi_float32_array) || IsType(in, napi_float64_array),
                     env, "Expected Uint8Array or Uint16Array or Float32Array or Float64Array for src but received ", Describe(in));
  CELLCAM_TYPE_CHECK(IsType(outV, napi_float32_array), env, "Expected Float32Array for out but received ", Describe(outV));
  CELLCAM_TYPE_CHECK(optV.IsObject() && !optV.IsArray() && !optV.IsTypedArray(), env, "Expected an object for options but received ", Describe(optV));
  const Napi::Object o = optV.As<Napi::Object>();
  for (const char* key : {"width", "height", "outWidth", "outHeight"}) {
    CELLCAM_RANGE_CHECK(IsIntIn(o.Get(key), 1, 65536), env, "Expected an integer in [1, 65536] for options.", key, " but received ", Describe(o.Get(key)));
  }
  ResampleParams p;
  p.width = OptInt(o, "width", 0);
  p.height = OptInt(o, "height", 0);
  p.outWidth = OptInt(o, "outWidth", 0);
  p.outHeight = OptInt(o, "outHeight", 0);
  CELLCAM_SHAPE_CHECK(p.width * p.height <= (int64_t{1} << 30), env, "Expected at most 2^30 pixels for options.width*height but received number ", p.width * p.height);
  CELLCAM_SHAPE_CHECK(p.outWidth * p.outHeight <= (int64_t{1} << 30), env, "Expected at most 2^30 pixels for options.outWidth*outHeight but received number ",
                      p.outWidth * p.outHeight);
  const Napi::TypedArray src = in.As<Napi::TypedArray>(), out = outV.As<Napi::TypedArray>();
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(src.ElementLength()) == p.width * p.height, env, "Expected ", TypedArrayTypeName(src.TypedArrayType()),
                      " of length width*height = ", p.width * p.height, " for src but received ", Describe(in));
  const Napi::Value offV = o.Get("offset"), scaleV = o.Get("scale"), thrV = o.Get("threads");
  CELLCAM_RANGE_CHECK(offV.IsUndefined() || IsIntIn(offV, 0, static_cast<double>(out.ElementLength())), env,
                      "Expected an integer in [0, out.length] for options.offset but received ", Describe(offV));
  p.offset = OptInt(o, "offset", 0);
  CELLCAM_SHAPE_CHECK(p.offset + p.outWidth * p.outHeight <= static_cast<int64_t>(out.ElementLength()), env, "Expected Float32Array of length >= offset + outWidth*outHeight = ",
                      p.offset + p.outWidth * p.outHeight, " for out but received ", Describe(outV));
  CELLCAM_RANGE_CHECK(scaleV.IsUndefined() || (scaleV.IsNumber() && std::isfinite(scaleV.As<Napi::Number>().DoubleValue())), env,
                      "Expected a finite number for options.scale but received ", Describe(scaleV));
  p.scale = scaleV.IsUndefined() ? 1.0 : scaleV.As<Napi::Number>().DoubleValue();
  CELLCAM_RANGE_CHECK(thrV.IsUndefined() || IsIntIn(thrV, 0, 1024), env, "Expected an integer in [0, 1024] for options.threads but received ", Describe(thrV));
  p.threads = ResolveThreads(OptInt(o, "threads", 0));
  const ArrayView sv = ViewOf(src), ov = ViewOf(out);
  CELLCAM_THROW_IF(Overlap(sv, src.ByteLength(), ov, out.ByteLength()), env, RangeError, "CELLCAM_E_ARG",
                   "Expected out not to share memory with src but received ", Describe(outV));

  auto* w = new ResampleWorker(env, sv, ov, p);
  w->Pin(in);
  w->Pin(outV);
  Napi::Promise promise = w->Promise();
  w->Queue();
  return promise;
}

}  // namespace cellcam
