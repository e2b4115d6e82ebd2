// Model-free prediction maps: stand-ins for the HPA U-Nets' nuclei and cell maps, built from the raw
// stains, byte for byte as the TypeScript twin (core/src/segment/model-free.ts). Every step repeats
// the twin's double operations in the twin's order, rounding to float32 where the twin stores into a
// Float32Array, and its exp is the twin's fixed sequence (ExpFixed), not the C library's. The
// per-pixel steps and the horizontal box blurs are split over rows, the vertical ones over columns;
// each output value comes out of the same sequential recurrence as in the twin, so the thread count
// changes nothing. The distance transform stays sequential: each pixel needs its left and upper
// neighbours' final values.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "scratch.h"

namespace cellcam {
namespace {

// The twin's constants: JavaScript's Math.LOG2E, Math.LN2 and Math.SQRT2, written as JS prints them.
constexpr double kLog2E = 1.4426950408889634, kLn2 = 0.6931471805599453, kSqrt2 = 1.4142135623730951;

// The twin's table of 2^(j/64) = e^(j ln2/64), each entry a Taylor series to t^13, as the twin
// computes it (n! is exact in double up to 18!).
struct ExpTable {
  double v[64];
  ExpTable() {
    for (int j = 0; j < 64; ++j) {
      const double t = (j * kLn2) / 64;
      double p = 1 / 6227020800.0;
      for (int n = 12; n >= 0; --n) {
        double f = 1;
        for (int k = 2; k <= n; ++k) f *= k;
        p = p * t + 1 / f;
      }
      v[j] = p;
    }
  }
};
const ExpTable kExpTable;

// floor for |x| < 2^62 through an integer conversion: without SSE4.1 (the build's x86-64 baseline)
// std::floor is a libm call, and it was the larger part of this file's time. Same value.
inline double Floor(double x) {
  const double t = static_cast<double>(static_cast<int64_t>(x));
  return t > x ? t - 1 : t;
}

// 2^k for an integer k in [-1022, 1023], built from its bits (the twin's pow2).
double Pow2(int64_t k) {
  const uint64_t bits = static_cast<uint64_t>(k + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// The twin's expFixed: x = (64k + j) ln2/64 + r, 2^k * 2^(j/64) * (Taylor series of e^r to r^6).
double ExpFixed(double x) {
  if (x > 709) return HUGE_VAL;
  if (x < -708) return 0;
  const double m = Floor(x * (64 * kLog2E) + 0.5);
  const double r = x - m * (kLn2 / 64);
  const double j = m - 64 * Floor(m / 64);
  const double p = (((((r / 720 + 1.0 / 120) * r + 1.0 / 24) * r + 1.0 / 6) * r + 0.5) * r + 1) * r + 1;
  return kExpTable.v[static_cast<int>(j)] * p * Pow2(static_cast<int64_t>((m - j) / 64));
}

inline double Sigmoid(double x) { return 1 / (1 + ExpFixed(-x)); }

// JavaScript's Math.round: the nearest integer, halves towards +infinity (x - floor(x) is exact).
double RoundSigned(double x) {
  const double f = Floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

struct Options {
  int64_t W = 0, H = 0;
  int bitDepth = 8;
  double lengthScale = 1, nucleusSigma = 3, cellSigma = 8, decay = 220, intensityWeight = 0;
  int threads = 1;
};

// The counts of binOf(i) over [0, n) (bins in [0, bins); -1 counts nowhere), from one histogram per
// thread: integer counts, so their sum does not depend on the thread count.
template <class BinOf>
std::vector<uint64_t> Histogram(int64_t n, int bins, int threads, const BinOf& binOf) {
  std::vector<std::vector<uint64_t>> parts(static_cast<size_t>(threads), std::vector<uint64_t>(static_cast<size_t>(bins), 0));
  ParallelFor(n, threads, [&](int64_t b, int64_t e, int t) {
    uint64_t* h = parts[static_cast<size_t>(t)].data();
    for (int64_t i = b; i < e; ++i) {
      const int k = binOf(i);
      if (k >= 0) ++h[k];
    }
  });
  std::vector<uint64_t> hist(static_cast<size_t>(bins), 0);
  for (const auto& p : parts) {
    for (size_t v = 0; v < hist.size(); ++v) hist[v] += p[v];
  }
  return hist;
}

// Index of the first bin whose cumulative count exceeds q * (n - 1) (normalizeStain's percentile).
int64_t Percentile(const std::vector<uint64_t>& hist, int64_t n, double q) {
  const double target = q * static_cast<double>(n - 1);
  double acc = 0;
  for (size_t v = 0; v < hist.size(); ++v) {
    acc += static_cast<double>(hist[v]);
    if (acc > target) return static_cast<int64_t>(v);
  }
  return static_cast<int64_t>(hist.size()) - 1;
}

// normalizeStain: [0, 1] between the 0.5th and 99.8th percentiles of the stain's histogram.
template <typename T>
void NormalizeStain(const T* data, int64_t n, int bins, int threads, float* out) {
  const std::vector<uint64_t> hist = Histogram(n, bins, threads, [&](int64_t i) { return static_cast<int>(data[i]); });
  const int64_t lo = Percentile(hist, n, 0.005), hi = Percentile(hist, n, 0.998);
  const double span = static_cast<double>(std::max<int64_t>(1, hi - lo));
  ParallelFor(n, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const double v = (static_cast<double>(data[i]) - static_cast<double>(lo)) / span;
      out[i] = static_cast<float>(v < 0 ? 0 : v > 1 ? 1 : v);
    }
  });
}

// One box pass along rows (boxH) or columns (boxV) of radius r, edges clamped, as the twin.
void BoxH(const float* src, float* dst, int64_t w, int64_t h, int64_t r, int threads) {
  const double norm = 1 / static_cast<double>(2 * r + 1);
  ParallelFor(h, threads, [&](int64_t yb, int64_t ye, int) {
    for (int64_t y = yb; y < ye; ++y) {
      const float* row = src + y * w;
      float* o = dst + y * w;
      double acc = 0;
      for (int64_t k = -r; k <= r; ++k) acc += row[std::min(w - 1, std::max<int64_t>(0, k))];
      for (int64_t x = 0; x < w; ++x) {
        o[x] = static_cast<float>(acc * norm);
        acc += static_cast<double>(row[std::min(w - 1, x + r + 1)]) - static_cast<double>(row[std::max<int64_t>(0, x - r)]);
      }
    }
  });
}

void BoxV(const float* src, float* dst, int64_t w, int64_t h, int64_t r, int threads) {
  const double norm = 1 / static_cast<double>(2 * r + 1);
  ParallelFor(w, threads, [&](int64_t xb, int64_t xe, int) {
    std::vector<double> acc(static_cast<size_t>(xe - xb), 0.0);
    for (int64_t k = -r; k <= r; ++k) {
      const float* row = src + std::min(h - 1, std::max<int64_t>(0, k)) * w;
      for (int64_t x = xb; x < xe; ++x) acc[static_cast<size_t>(x - xb)] += row[x];
    }
    for (int64_t y = 0; y < h; ++y) {
      const float* add = src + std::min(h - 1, y + r + 1) * w;
      const float* sub = src + std::max<int64_t>(0, y - r) * w;
      float* o = dst + y * w;
      for (int64_t x = xb; x < xe; ++x) {
        double& a = acc[static_cast<size_t>(x - xb)];
        o[x] = static_cast<float>(a * norm);
        a += static_cast<double>(add[x]) - static_cast<double>(sub[x]);
      }
    }
  });
}

// gaussianBlur: three box blurs per axis whose convolution has variance sigma² (Wells 1986).
void GaussianBlur(float* a, int64_t w, int64_t h, double sigma, int threads) {
  if (sigma <= 0) return;
  const double wIdeal = std::sqrt((12 * sigma * sigma) / 3 + 1);
  double wl = std::floor(wIdeal);
  if (std::fmod(wl, 2) == 0) wl -= 1;
  const double wu = wl + 2;
  const double m = RoundSigned((12 * sigma * sigma - 3 * wl * wl - 12 * wl - 9) / (-4 * wl - 4));
  Scratch<float> tmp(static_cast<size_t>(w * h));
  for (int i = 0; i < 3; ++i) {
    const int64_t r = static_cast<int64_t>(((i < m ? wl : wu) - 1) / 2);
    BoxH(a, tmp.get(), w, h, r, threads);
    BoxV(tmp.get(), a, w, h, r, threads);
  }
}

// otsu01: the Otsu threshold of values in [0, 1] on 256 bins (bin centres).
double Otsu01(const float* a, int64_t n, int threads) {
  const std::vector<uint64_t> counts =
      Histogram(n, 256, threads, [&](int64_t i) { return static_cast<int>(std::min(255.0, std::max(0.0, Floor(static_cast<double>(a[i]) * 256)))); });
  double hist[256];
  for (int v = 0; v < 256; ++v) hist[v] = static_cast<double>(counts[static_cast<size_t>(v)]);
  double total = 0, sumAll = 0;
  for (int b = 0; b < 256; ++b) {
    total += hist[b];
    sumAll += hist[b] * (b + 0.5);
  }
  double w0 = 0, sum0 = 0, best = 0;
  int bestB = 127;
  for (int b = 0; b < 255; ++b) {
    w0 += hist[b];
    sum0 += hist[b] * (b + 0.5);
    const double w1 = total - w0;
    if (w0 == 0 || w1 == 0) continue;
    const double m0 = sum0 / w0, m1 = (sumAll - sum0) / w1;
    const double v = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (v > best) {
      best = v;
      bestB = b;
    }
  }
  return (bestB + 1) / 256.0;
}

// distanceTo: the chamfer (1, sqrt 2) distance to the nearest seed pixel, two raster passes.
void DistanceTo(const uint8_t* seed, int64_t w, int64_t h, float* d) {
  const int64_t n = w * h;
  for (int64_t i = 0; i < n; ++i) d[i] = seed[i] ? 0.0f : 1e9f;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      double v = d[i];
      if (x > 0) v = std::min(v, static_cast<double>(d[i - 1]) + 1);
      if (y > 0) {
        v = std::min(v, static_cast<double>(d[i - w]) + 1);
        if (x > 0) v = std::min(v, static_cast<double>(d[i - w - 1]) + kSqrt2);
        if (x < w - 1) v = std::min(v, static_cast<double>(d[i - w + 1]) + kSqrt2);
      }
      d[i] = static_cast<float>(v);
    }
  }
  for (int64_t y = h - 1; y >= 0; --y) {
    for (int64_t x = w - 1; x >= 0; --x) {
      const int64_t i = y * w + x;
      double v = d[i];
      if (x < w - 1) v = std::min(v, static_cast<double>(d[i + 1]) + 1);
      if (y < h - 1) {
        v = std::min(v, static_cast<double>(d[i + w]) + 1);
        if (x < w - 1) v = std::min(v, static_cast<double>(d[i + w + 1]) + kSqrt2);
        if (x > 0) v = std::min(v, static_cast<double>(d[i + w - 1]) + kSqrt2);
      }
      d[i] = static_cast<float>(v);
    }
  }
}

// modelFreeMaps: channel 2 of both maps (channels 0 and 1 are zero), as the twin.
template <typename T>
void ModelFreeMaps(const T* red, const T* blue, const T* yellow, const Options& o, uint8_t* nucleiPred, uint8_t* cellPred) {
  const int64_t W = o.W, H = o.H, n = W * H;
  const int threads = o.threads, bins = o.bitDepth == 16 ? 65536 : 256;
  const double s = o.lengthScale;
  std::memset(nucleiPred, 0, static_cast<size_t>(3 * n));
  std::memset(cellPred, 0, static_cast<size_t>(3 * n));
  Scratch<float> blueRaw(static_cast<size_t>(n)), blurred(static_cast<size_t>(n)), redN(static_cast<size_t>(n)), yellowN(static_cast<size_t>(n));
  Scratch<uint8_t> nucMask(static_cast<size_t>(n));
  NormalizeStain(blue, n, bins, threads, blueRaw.get());
  float* const blueS = blurred.get();
  std::memcpy(blueS, blueRaw.get(), static_cast<size_t>(n) * sizeof(float));
  GaussianBlur(blueS, W, H, o.nucleusSigma * s, threads);
  const double tb = Otsu01(blueS, n, threads);
  const double kb = 12 / std::max(0.05, tb);
  uint8_t* const mask = nucMask.get();
  // Saturated pixels skip the exp (most of a field: background and nucleus interiors). Below
  // x = -7 the sigmoid is under 9.2e-4, so 255 p < 0.24 rounds to 0 and p < 0.5; above 7 it is over
  // 0.99908, so 255 p > 254.76 rounds to 255 and p > 0.5: far from any rounding boundary, for the
  // twin's full computation (relative error 2e-13) as for the exact function.
  ParallelFor(n, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const double x = (static_cast<double>(blueS[i]) - tb) * kb;
      if (x < -7 || x > 7) {
        nucleiPred[i * 3 + 2] = x > 7 ? 255 : 0;
        mask[i] = x > 7 ? 1 : 0;
        continue;
      }
      const double p = Sigmoid(x);
      nucleiPred[i * 3 + 2] = static_cast<uint8_t>(RoundSigned(p * 255));
      mask[i] = p > 0.5 ? 1 : 0;
    }
  });
  NormalizeStain(red, n, bins, threads, redN.get());
  NormalizeStain(yellow, n, bins, threads, yellowN.get());
  // The cytoplasm map reuses the blurred blue's buffer; the red's holds the distances after it.
  float* const cyto = blurred.get();
  const float *const rN = redN.get(), *const yN = yellowN.get(), *const bR = blueRaw.get();
  ParallelFor(n, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      cyto[i] = static_cast<float>(std::max(std::max(static_cast<double>(rN[i]), static_cast<double>(yN[i])), 0.5 * static_cast<double>(bR[i])));
    }
  });
  GaussianBlur(cyto, W, H, o.cellSigma * s, threads);
  const double tc = Otsu01(cyto, n, threads);
  float* const dist = redN.get();
  DistanceTo(mask, W, H, dist);
  const double decay = o.decay * s;
  const double kc = 10 / std::max(0.05, tc);
  const double wi = o.intensityWeight;
  // The bright end of the cells: the 98th percentile of the values above the threshold.
  double hi = 0;
  {
    const std::vector<uint64_t> hist = Histogram(n, 1024, threads, [&](int64_t i) {
      return cyto[i] > tc ? static_cast<int>(std::min(1023.0, Floor(static_cast<double>(cyto[i]) * 1024))) : -1;
    });
    double count = 0;
    for (const uint64_t c : hist) count += static_cast<double>(c);
    double acc = 0;
    for (int b = 0; b < 1024; ++b) {
      acc += static_cast<double>(hist[static_cast<size_t>(b)]);
      if (acc >= 0.98 * count) {
        hi = (b + 1) / 1024.0;
        break;
      }
    }
    if (hi <= 0) hi = 1;
  }
  // Below x = -6.5 the cell sigmoid is under 1.51e-3 and level <= 1, so 255 fg level < 0.39
  // rounds to 0 (as in the twin, far from the boundary); above, fg and level are needed exactly.
  ParallelFor(n, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const double c = cyto[i];
      const double x = (c - tc * 0.7) * kc;
      if (x < -6.5) {
        cellPred[i * 3 + 2] = 0;
        continue;
      }
      const double fg = Sigmoid(x);
      const double near = 1 / (1 + static_cast<double>(dist[i]) / decay);
      const double inten = std::min(1.0, c / hi);
      const double level = 0.35 + 0.65 * ((1 - wi) * near + wi * inten * (0.5 + 0.5 * near));
      cellPred[i * 3 + 2] = static_cast<uint8_t>(RoundSigned(255 * fg * level));
    }
  });
}

class ModelFreeWorker : public KernelWorker {
 public:
  explicit ModelFreeWorker(Napi::Env env) : KernelWorker(env, "cellcam.modelFreeMaps") {}
  const void *red = nullptr, *blue = nullptr, *yellow = nullptr;
  uint8_t *nucleiPred = nullptr, *cellPred = nullptr;
  Options o;

 protected:
  void Run() override {
    if (o.bitDepth == 16) {
      ModelFreeMaps(static_cast<const uint16_t*>(red), static_cast<const uint16_t*>(blue), static_cast<const uint16_t*>(yellow), o, nucleiPred, cellPred);
    } else {
      ModelFreeMaps(static_cast<const uint8_t*>(red), static_cast<const uint8_t*>(blue), static_cast<const uint8_t*>(yellow), o, nucleiPred, cellPred);
    }
  }
};

}  // namespace

// modelFreeMaps(red, blue, yellow, nucleiPred, cellPred, {width, height, bitDepth, lengthScale,
// nucleusSigma, cellSigma, decay, intensityWeight, threads}) -> Promise<void>: the stains are
// Uint8Array (bitDepth 8) or Uint16Array (16) of width*height, the maps Uint8Array of width*height*3.
Napi::Value ModelFree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value vR = info[0], vB = info[1], vY = info[2], vN = info[3], vC = info[4], vO = info[5];
  CELLCAM_TYPE_CHECK(vO.IsObject(), env, "Expected an object for options but received ", Describe(vO));
  const Napi::Object opts = vO.As<Napi::Object>();
  Options o;
  o.W = IntOption(env, opts, "width", 1, 65536);
  o.H = IntOption(env, opts, "height", 1, 65536);
  o.bitDepth = static_cast<int>(IntOption(env, opts, "bitDepth", 8, 16));
  CELLCAM_THROW_IF(o.bitDepth != 8 && o.bitDepth != 16, env, RangeError, "CELLCAM_E_RANGE", "Expected 8 or 16 for options.bitDepth but received ",
                   Describe(opts.Get("bitDepth")));
  o.lengthScale = NumberOption(env, opts, "lengthScale", 1e-6, 1e6);
  o.nucleusSigma = NumberOption(env, opts, "nucleusSigma", 0, 1e6);
  o.cellSigma = NumberOption(env, opts, "cellSigma", 0, 1e6);
  o.decay = NumberOption(env, opts, "decay", 1e-9, 1e9);
  o.intensityWeight = NumberOption(env, opts, "intensityWeight", 0, 1);
  o.threads = ResolveThreads(IntOption(env, opts, "threads", 0, 1 << 16));
  const int64_t n = o.W * o.H;
  const napi_typedarray_type stain = o.bitDepth == 16 ? napi_uint16_array : napi_uint8_array;
  const char* const stainName = o.bitDepth == 16 ? "Uint16Array" : "Uint8Array";
  const char* const names[3] = {"red", "blue", "yellow"};
  const Napi::Value stains[3] = {vR, vB, vY};
  const void* data[3] = {};
  for (int c = 0; c < 3; ++c) {
    CELLCAM_TYPE_CHECK(IsType(stains[c], stain), env, "Expected ", stainName, " (options.bitDepth ", o.bitDepth, ") for ", names[c], " but received ",
                       Describe(stains[c]));
    const ArrayView v = ViewOf(stains[c].As<Napi::TypedArray>());
    CELLCAM_SHAPE_CHECK(static_cast<int64_t>(v.length) == n, env, "Expected length width*height = ", n, " for ", names[c], " but received ",
                        Describe(stains[c]));
    data[c] = v.data;
  }
  CELLCAM_TYPE_CHECK(IsType(vN, napi_uint8_array) && IsType(vC, napi_uint8_array), env,
                     "Expected Uint8Array for nucleiPred and cellPred but received ", Describe(vN), " and ", Describe(vC));
  const ArrayView nv = ViewOf(vN.As<Napi::TypedArray>()), cv = ViewOf(vC.As<Napi::TypedArray>());
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(nv.length) == 3 * n && static_cast<int64_t>(cv.length) == 3 * n, env,
                      "Expected length width*height*3 = ", 3 * n, " for nucleiPred and cellPred but received ", Describe(vN), " and ", Describe(vC));
  auto* w = new ModelFreeWorker(env);
  w->red = data[0];
  w->blue = data[1];
  w->yellow = data[2];
  w->nucleiPred = static_cast<uint8_t*>(nv.data);
  w->cellPred = static_cast<uint8_t*>(cv.data);
  w->o = o;
  for (const Napi::Value& v : {vR, vB, vY, vN, vC}) w->Pin(v);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace cellcam
