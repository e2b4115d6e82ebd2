// CAM-to-cell pooling shared by pool.cc (g++) and cuda/pool.cu (nvcc): the plan (interpolation
// tables + run table) and the per-run arithmetic, written once so CPU and CUDA cannot drift apart.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gpu.h"

#if defined(__CUDACC__)
#define CELLCAM_POOL_HD __host__ __device__ __forceinline__
#else
#define CELLCAM_POOL_HD inline
#endif

namespace cellcam {
namespace pool {

// Explicitly rounded double operations: on the device the _rn intrinsics are never fused into FMA,
// whatever the compiler flags; on the host -ffp-contract=off gives the same guarantee.
CELLCAM_POOL_HD double Mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
CELLCAM_POOL_HD double Add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
CELLCAM_POOL_HD double Sub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
// max that propagates NaN (like numpy/torch) and keeps the first of equal values (+0/-0 included),
// so every implementation returns the same bits.
CELLCAM_POOL_HD double MaxNan(double a, double b) { return (a != a || a >= b) ? a : b; }

// A maximal horizontal span [a, b) of row y with one cell id (1..cells) and one region.
struct Run {
  int32_t y, a, b, id, region;
};

// Everything that does not depend on the channel: built once, shared by all threads and the GPU.
struct Plan {
  int channels = 0, mapHeight = 0, mapWidth = 0, width = 0, height = 0, cells = 0, regionCount = 0;
  // Per image row Y: source rows y0/y1 and weights ly, wy0 = 1 - ly.
  std::vector<int32_t> y0, y1;
  std::vector<double> ly, wy0;
  // Per image column X: source columns x0/x1, weights lx, wx0 = 1 - lx, and segEnd = the first
  // X' > X with x0(X') != x0(X) (W at the end). A0/A1 (W + 1): prefix sums of wx0 / lx.
  std::vector<int32_t> x0, x1, segEnd;
  std::vector<double> lx, wx0, A0, A1;
  // Runs in raster order; runs of row Y are [rowBegin[Y], rowBegin[Y + 1]).
  std::vector<Run> runs;
  std::vector<int64_t> rowBegin;
};

// Raw pointers to the column tables (what a device kernel can take by value).
struct ColumnTables {
  const int32_t* x0;
  const int32_t* x1;
  const int32_t* segEnd;
  const double* lx;
  const double* wx0;
  const double* A0;
  const double* A1;
};

// One segment [X, q) of a run: the pixels whose source column x0 is the same. Its sum of upsampled
// values is T[xa]*w0 + T[xb]*w1 with w0 = A0[q]-A0[X], w1 = A1[q]-A1[X]; at the clamped right edge
// (xa == xb, so V = T[xa]) it is exactly T[xa]*w0 with w0 = q - X.
struct Segment {
  int32_t q, xa, xb;
  double w0, w1;
};

CELLCAM_POOL_HD Segment NextSegment(int32_t X, int32_t b, const ColumnTables& t) {
  Segment s;
  s.q = t.segEnd[X] < b ? t.segEnd[X] : b;
  s.xa = t.x0[X];
  s.xb = t.x1[X];
  if (s.xa == s.xb) {
    s.w0 = static_cast<double>(s.q - X);
    s.w1 = 0.0;
  } else {
    s.w0 = Sub(t.A0[s.q], t.A0[X]);
    s.w1 = Sub(t.A1[s.q], t.A1[X]);
  }
  return s;
}

CELLCAM_POOL_HD double SegmentSum(double ta, double tb, bool single, double w0, double w1) {
  return single ? Mul(ta, w0) : Add(Mul(ta, w0), Mul(tb, w1));
}

// V at a column with weights (wx0, lx) inside a segment.
CELLCAM_POOL_HD double SegmentValue(double ta, double tb, bool single, double wx0, double lx) {
  return single ? ta : Add(Mul(ta, wx0), Mul(tb, lx));
}

// Sum and max of the upsampled values over run [a, b) of one channel, segments left to right.
// `T(x)` returns the row interpolation T_c[x] of the run's row. V is linear in lx inside a segment,
// so its max there is max(V(X), V(q-1)), taken in that order.
template <bool kMax, class RowFn>
CELLCAM_POOL_HD void RunSumMax(int32_t a, int32_t b, const ColumnTables& t, const RowFn& T, double* sumOut,
                               double* maxOut) {
  double s = 0.0;
  double m = -HUGE_VAL;
  int32_t X = a;
  while (X < b) {
    const Segment g = NextSegment(X, b, t);
    const bool single = g.xa == g.xb;
    const double ta = T(g.xa), tb = single ? ta : T(g.xb);
    s = Add(s, SegmentSum(ta, tb, single, g.w0, g.w1));
    if (kMax) {
      m = MaxNan(m, SegmentValue(ta, tb, single, t.wx0[X], t.lx[X]));
      const int32_t e = g.q - 1;
      if (e > X) m = MaxNan(m, SegmentValue(ta, tb, single, t.wx0[e], t.lx[e]));
    }
    X = g.q;
  }
  *sumOut = s;
  if (kMax) *maxOut = m;
}

// T_c[x] of image row Y from the map channel `mc` ([mapHeight][mapWidth]).
CELLCAM_POOL_HD double RowValue(const float* mc, int mapWidth, int32_t y0, int32_t y1, double ly, double wy0, int32_t x) {
  const double m0 = static_cast<double>(mc[static_cast<int64_t>(y0) * mapWidth + x]);
  if (y1 == y0) return m0;
  const double m1 = static_cast<double>(mc[static_cast<int64_t>(y1) * mapWidth + x]);
  return Add(Mul(m0, wy0), Mul(m1, ly));
}

#if defined(CELLCAM_HAVE_CUDA)
// The whole pooling on CUDA device 0 (cuda/pool.cu): runs, per-run values and per-slot
// accumulation in pool.cc's order, so mean/max/area are bit-identical to the CPU. `plan` carries
// the dimensions and the interpolation tables (BuildTables), not the runs. An invalid pixel (id
// outside [0, cells], region >= regionCount) sets *badPixel to its raster index (else -1) and
// returns true with the outputs unwritten. Returns false with a message naming the failed CUDA call.
bool PoolCuda(const Plan& plan, const void* labels, bool labels16, const uint8_t* regions, const float* map, float* mean,
              float* max, int32_t* area, int64_t* badPixel, gpu::Timings* timings, std::string* error);
#endif

}  // namespace pool
}  // namespace cellcam
