// CAM-to-cell pooling on the device, from the label image to the per-cell means and maxima: run
// detection (flags, scan, scatter: raster order), one thread per (run, channel) for
// pool::RunSumMax with the map rows interpolated on the fly, then one thread per (cell slot,
// channel) adding its runs' values in raster order, the order pool.cc adds them in, so the double
// sums and the float results are bit-identical to the CPU. The host builds only the small
// interpolation tables (pool.cc BuildTables).
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>


#include "../pool.h"
#include "cuda_util.cuh"

namespace cellcam {
namespace pool {
namespace {

using cudautil::DeviceBuffer;
using cudautil::Ok;

struct RowTables {
  const int32_t* y0;
  const int32_t* y1;
  const double* ly;
  const double* wy0;
};

// T_c[x] of one image row, straight from the map (same expression as the CPU's row buffer).
struct MapRow {
  const float* mc;
  int mapWidth;
  int32_t y0, y1;
  double ly, wy0;
  CELLCAM_POOL_HD double operator()(int32_t x) const { return RowValue(mc, mapWidth, y0, y1, ly, wy0, x); }
};

// 1 where a run starts: a valid nonzero id whose left neighbour has another (id, region). Invalid
// pixels (id outside [0, cells], region >= regionCount) lower *bad to their index instead.
template <typename L>
__global__ void RunStartKernel(const L* lab, const uint8_t* reg, int32_t W, int64_t n, int64_t cells, int regionCount,
                               int32_t* flag, int32_t* bad) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t id = static_cast<int64_t>(lab[i]);
  const int r = reg ? reg[i] : 0;
  const bool invalid = id < 0 || id > cells || (reg && r >= regionCount);
  if (invalid) atomicMin(bad, static_cast<int32_t>(i));
  bool start = id != 0 && !invalid;
  if (start && i % W != 0) start = lab[i - 1] != lab[i] || (reg && reg[i - 1] != r);
  flag[i] = start ? 1 : 0;
}

// Writes run idx[i] from its start pixel i, walking right to its end.
template <typename L>
__global__ void RunWriteKernel(const L* lab, const uint8_t* reg, int32_t W, int64_t n, const int32_t* flag,
                               const int32_t* idx, Run* runs) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n || !flag[i]) return;
  const int64_t y = i / W;
  const int32_t x = static_cast<int32_t>(i - y * W);
  const L* row = lab + y * W;
  const uint8_t* rr = reg ? reg + y * W : nullptr;
  const L id = row[x];
  const int r = rr ? rr[x] : 0;
  int32_t e = x + 1;
  while (e < W && row[e] == id && (!rr || rr[e] == r)) ++e;
  runs[idx[i]] = Run{static_cast<int32_t>(y), x, e, static_cast<int32_t>(id), r};
}

// Each run adds to its cell's slot, and with regions also to its region's slot: entry keys are
// slots, values run indices, in run order (a stable sort keeps that order within a slot).
__global__ void EntryKernel(const Run* runs, int64_t nRuns, int cells, bool regionsOn, uint32_t* keys, int32_t* vals) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= nRuns) return;
  const Run r = runs[k];
  const int64_t e = regionsOn ? 2 * k : k;
  keys[e] = static_cast<uint32_t>(r.id - 1);
  vals[e] = static_cast<int32_t>(k);
  if (regionsOn) {
    keys[e + 1] = static_cast<uint32_t>((1 + r.region) * static_cast<int64_t>(cells) + r.id - 1);
    vals[e + 1] = static_cast<int32_t>(k);
  }
}

// [begin[slot], end[slot]) of the sorted entries (both zero for a slot without runs).
__global__ void RangeKernel(const uint32_t* keys, int64_t nEntries, int32_t* begin, int32_t* end) {
  const int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= nEntries) return;
  const uint32_t key = keys[p];
  if (p == 0 || keys[p - 1] != key) begin[key] = static_cast<int32_t>(p);
  if (p + 1 == nEntries || keys[p + 1] != key) end[key] = static_cast<int32_t>(p + 1);
}

template <bool kMax>
__global__ void RunsKernel(const float* map, int mapHeight, int mapWidth, const Run* runs, int64_t nRuns, RowTables rows,
                           ColumnTables cols, double* runSum, double* runMax) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= nRuns) return;
  const int64_t cl = blockIdx.y;  // channel within the uploaded chunk
  const Run r = runs[k];
  const MapRow T{map + cl * mapHeight * static_cast<int64_t>(mapWidth), mapWidth, rows.y0[r.y], rows.y1[r.y],
                 rows.ly[r.y], rows.wy0[r.y]};
  double s, m = 0;
  RunSumMax<kMax>(r.a, r.b, cols, T, &s, &m);
  runSum[cl * nRuns + k] = s;
  if (kMax) runMax[cl * nRuns + k] = m;
}

// One thread per (slot, channel of the chunk): the slot's runs in raster order, as pool.cc's
// Accumulate; mean = float(S / area), NaN for an empty slot (pool.cc's expressions).
template <bool kMax>
__global__ void SlotKernel(const int32_t* begin, const int32_t* end, const int32_t* order, const Run* runs,
                           const double* runSum, const double* runMax, int64_t nRuns, int64_t stride, int C, int c0,
                           float* mean, float* max, int32_t* area) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= stride) return;
  const int64_t cl = blockIdx.y;
  const double* rs = runSum + cl * nRuns;
  const double* rm = kMax ? runMax + cl * nRuns : nullptr;
  double s = 0.0, m = -HUGE_VAL;
  int32_t a = 0;
  for (int32_t p = begin[i], pe = end[i]; p < pe; ++p) {
    const int32_t k = order[p];
    s = Add(s, rs[k]);
    if (kMax) m = MaxNan(m, rm[k]);
    a += runs[k].b - runs[k].a;
  }
  const float nan = __int_as_float(0x7fc00000);
  const int64_t o = i * C + c0 + cl;
  mean[o] = a == 0 ? nan : __double2float_rn(__ddiv_rn(s, static_cast<double>(a)));
  if (kMax) max[o] = a == 0 ? nan : __double2float_rn(m);
  if (c0 + cl == 0) area[i] = a;
}

unsigned Blocks(int64_t n, int block) { return static_cast<unsigned>((n + block - 1) / block); }

template <typename T>
bool Upload(DeviceBuffer& buf, const T* host, size_t count, cudaStream_t s, const char* what, std::string* error) {
  const size_t bytes = count * sizeof(T);
  return cudautil::Alloc(buf, bytes, s, what, error) && cudautil::Upload(buf.ptr, host, bytes, s, what, error);
}

template <typename L>
bool PoolTyped(const Plan& plan, const L* labels, const uint8_t* regions, const float* map, float* mean, float* max,
               int32_t* area, int64_t* badPixel, gpu::Timings* timings, std::string* error) {
  *badPixel = -1;
  const int64_t W = plan.width, n = W * plan.height;
  const int64_t C = plan.channels, stride = (1 + plan.regionCount) * static_cast<int64_t>(plan.cells);
  const bool regionsOn = plan.regionCount > 0, wantMax = max != nullptr;
  cudaStream_t st;
  if (!cudautil::Begin(&st, error)) return false;
  cudautil::PhaseClock clock(st, timings);
  constexpr int kBlock = 256;

  DeviceBuffer dLab, dReg, dFlag, dIdx, dBad;
  if (!Upload(dLab, labels, static_cast<size_t>(n), st, "cudaMallocAsync/cudaMemcpyAsync(labels)", error) ||
      (regions && !Upload(dReg, regions, static_cast<size_t>(n), st, "cudaMallocAsync/cudaMemcpyAsync(regions)", error))) {
    return false;
  }
  clock.Mark(&gpu::Timings::uploadMs);
  if (!cudautil::Alloc(dFlag, n * sizeof(int32_t), st, "cudaMallocAsync(flags)", error) ||
      !cudautil::Alloc(dIdx, n * sizeof(int32_t), st, "cudaMallocAsync(run index)", error) ||
      !cudautil::Alloc(dBad, sizeof(int32_t), st, "cudaMallocAsync(bad)", error) ||
      !Ok(cudaMemsetAsync(dBad.ptr, 0x7f, sizeof(int32_t), st), "cudaMemsetAsync(bad)", error)) {
    return false;
  }
  const L* lab = static_cast<const L*>(dLab.ptr);
  const uint8_t* reg = static_cast<const uint8_t*>(dReg.ptr);
  int32_t* flag = static_cast<int32_t*>(dFlag.ptr);
  int32_t* idx = static_cast<int32_t*>(dIdx.ptr);
  int32_t* bad = static_cast<int32_t*>(dBad.ptr);
  RunStartKernel<L><<<Blocks(n, kBlock), kBlock, 0, st>>>(lab, reg, static_cast<int32_t>(W), n, plan.cells, plan.regionCount,
                                                          flag, bad);
  if (!Ok(cudaGetLastError(), "pool run starts launch", error) || !cudautil::ExclusiveSum(flag, idx, n, st, error)) return false;
  // The run count sizes the next allocations: the one host round trip inside the call.
  int32_t last[3] = {0, 0, 0};
  if (!Ok(cudaMemcpyAsync(&last[0], idx + n - 1, sizeof(int32_t), cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync(runs)", error) ||
      !Ok(cudaMemcpyAsync(&last[1], flag + n - 1, sizeof(int32_t), cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync(runs)", error) ||
      !Ok(cudaMemcpyAsync(&last[2], bad, sizeof(int32_t), cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync(bad)", error) ||
      !Ok(cudaStreamSynchronize(st), "pool run starts", error)) {
    return false;
  }
  if (last[2] != 0x7f7f7f7f) {
    *badPixel = last[2];
    return true;
  }
  const int64_t nRuns = static_cast<int64_t>(last[0]) + last[1];
  const int64_t nEntries = regionsOn ? 2 * nRuns : nRuns;
  if (nEntries > INT32_MAX) {  // cub's item counts and the slot ranges are 32-bit
    *error = "pool: " + std::to_string(nRuns) + " runs are more than one launch takes (use device 'cpu')";
    return false;
  }

  DeviceBuffer dRuns, dKeys0, dKeys1, dVals0, dVals1, dBegin, dEnd, dMean, dMax, dArea;
  if (!cudautil::Alloc(dRuns, nRuns * sizeof(Run), st, "cudaMallocAsync(runs)", error) ||
      !cudautil::Alloc(dKeys0, nEntries * sizeof(uint32_t), st, "cudaMallocAsync(slot keys)", error) ||
      !cudautil::Alloc(dKeys1, nEntries * sizeof(uint32_t), st, "cudaMallocAsync(slot keys)", error) ||
      !cudautil::Alloc(dVals0, nEntries * sizeof(int32_t), st, "cudaMallocAsync(slot runs)", error) ||
      !cudautil::Alloc(dVals1, nEntries * sizeof(int32_t), st, "cudaMallocAsync(slot runs)", error) ||
      !cudautil::Alloc(dBegin, stride * sizeof(int32_t), st, "cudaMallocAsync(slot ranges)", error) ||
      !cudautil::Alloc(dEnd, stride * sizeof(int32_t), st, "cudaMallocAsync(slot ranges)", error) ||
      !cudautil::Alloc(dMean, stride * C * sizeof(float), st, "cudaMallocAsync(mean)", error) ||
      (wantMax && !cudautil::Alloc(dMax, stride * C * sizeof(float), st, "cudaMallocAsync(max)", error)) ||
      !cudautil::Alloc(dArea, stride * sizeof(int32_t), st, "cudaMallocAsync(area)", error) ||
      !Ok(cudaMemsetAsync(dBegin.ptr, 0, stride * sizeof(int32_t), st), "cudaMemsetAsync(slot ranges)", error) ||
      !Ok(cudaMemsetAsync(dEnd.ptr, 0, stride * sizeof(int32_t), st), "cudaMemsetAsync(slot ranges)", error)) {
    return false;
  }
  Run* runs = static_cast<Run*>(dRuns.ptr);
  const int32_t* order = static_cast<const int32_t*>(dVals0.ptr);
  if (nRuns > 0) {
    RunWriteKernel<L><<<Blocks(n, kBlock), kBlock, 0, st>>>(lab, reg, static_cast<int32_t>(W), n, flag, idx, runs);
    EntryKernel<<<Blocks(nRuns, kBlock), kBlock, 0, st>>>(runs, nRuns, plan.cells, regionsOn,
                                                          static_cast<uint32_t*>(dKeys0.ptr), static_cast<int32_t*>(dVals0.ptr));
    cub::DoubleBuffer<uint32_t> keys(static_cast<uint32_t*>(dKeys0.ptr), static_cast<uint32_t*>(dKeys1.ptr));
    cub::DoubleBuffer<int32_t> vals(static_cast<int32_t*>(dVals0.ptr), static_cast<int32_t*>(dVals1.ptr));
    if (!Ok(cudaGetLastError(), "pool runs launch", error) ||
        !cudautil::SortPairs(keys, vals, nEntries, static_cast<uint64_t>(stride), st, error)) {
      return false;
    }
    RangeKernel<<<Blocks(nEntries, kBlock), kBlock, 0, st>>>(keys.Current(), nEntries, static_cast<int32_t*>(dBegin.ptr),
                                                             static_cast<int32_t*>(dEnd.ptr));
    order = vals.Current();
  }
  clock.Mark(&gpu::Timings::kernelMs);

  // Tables and map channels. Channels go in chunks so that the per-run values stay bounded
  // (K = 512 feature maps over ~10^5 runs would otherwise need GBs).
  DeviceBuffer dY0, dY1, dLy, dWy0, dX0, dX1, dSeg, dLx, dWx0, dA0, dA1;
  if (!Upload(dY0, plan.y0.data(), plan.y0.size(), st, "cudaMallocAsync/cudaMemcpyAsync(y0)", error) ||
      !Upload(dY1, plan.y1.data(), plan.y1.size(), st, "cudaMallocAsync/cudaMemcpyAsync(y1)", error) ||
      !Upload(dLy, plan.ly.data(), plan.ly.size(), st, "cudaMallocAsync/cudaMemcpyAsync(ly)", error) ||
      !Upload(dWy0, plan.wy0.data(), plan.wy0.size(), st, "cudaMallocAsync/cudaMemcpyAsync(wy0)", error) ||
      !Upload(dX0, plan.x0.data(), plan.x0.size(), st, "cudaMallocAsync/cudaMemcpyAsync(x0)", error) ||
      !Upload(dX1, plan.x1.data(), plan.x1.size(), st, "cudaMallocAsync/cudaMemcpyAsync(x1)", error) ||
      !Upload(dSeg, plan.segEnd.data(), plan.segEnd.size(), st, "cudaMallocAsync/cudaMemcpyAsync(segEnd)", error) ||
      !Upload(dLx, plan.lx.data(), plan.lx.size(), st, "cudaMallocAsync/cudaMemcpyAsync(lx)", error) ||
      !Upload(dWx0, plan.wx0.data(), plan.wx0.size(), st, "cudaMallocAsync/cudaMemcpyAsync(wx0)", error) ||
      !Upload(dA0, plan.A0.data(), plan.A0.size(), st, "cudaMallocAsync/cudaMemcpyAsync(A0)", error) ||
      !Upload(dA1, plan.A1.data(), plan.A1.size(), st, "cudaMallocAsync/cudaMemcpyAsync(A1)", error)) {
    return false;
  }
  const RowTables rows{static_cast<const int32_t*>(dY0.ptr), static_cast<const int32_t*>(dY1.ptr),
                       static_cast<const double*>(dLy.ptr), static_cast<const double*>(dWy0.ptr)};
  const ColumnTables cols{static_cast<const int32_t*>(dX0.ptr), static_cast<const int32_t*>(dX1.ptr),
                          static_cast<const int32_t*>(dSeg.ptr), static_cast<const double*>(dLx.ptr),
                          static_cast<const double*>(dWx0.ptr), static_cast<const double*>(dA0.ptr),
                          static_cast<const double*>(dA1.ptr)};
  const int64_t plane = static_cast<int64_t>(plan.mapHeight) * plan.mapWidth;
  const int64_t budget = int64_t{256} << 20;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>({C, int64_t{65535}, budget / std::max<int64_t>(1, nRuns * 8 * (wantMax ? 2 : 1))}));
  DeviceBuffer dMap, dSum, dRunMax;
  if (!cudautil::Alloc(dMap, chunk * plane * sizeof(float), st, "cudaMallocAsync(map)", error) ||
      !cudautil::Alloc(dSum, chunk * nRuns * sizeof(double), st, "cudaMallocAsync(run sums)", error) ||
      (wantMax && !cudautil::Alloc(dRunMax, chunk * nRuns * sizeof(double), st, "cudaMallocAsync(run maxima)", error))) {
    return false;
  }
  for (int64_t c0 = 0; c0 < C; c0 += chunk) {
    const int64_t nc = std::min(C, c0 + chunk) - c0;
    if (!cudautil::Upload(dMap.ptr, map + c0 * plane, nc * plane * sizeof(float), st, "cudaMemcpyAsync(map)", error)) return false;
    clock.Mark(&gpu::Timings::uploadMs);
    const float* m = static_cast<const float*>(dMap.ptr);
    double* sum = static_cast<double*>(dSum.ptr);
    double* mx = static_cast<double*>(dRunMax.ptr);
    if (nRuns > 0) {
      const dim3 grid(Blocks(nRuns, 128), static_cast<unsigned>(nc));
      if (wantMax) RunsKernel<true><<<grid, 128, 0, st>>>(m, plan.mapHeight, plan.mapWidth, runs, nRuns, rows, cols, sum, mx);
      else RunsKernel<false><<<grid, 128, 0, st>>>(m, plan.mapHeight, plan.mapWidth, runs, nRuns, rows, cols, sum, mx);
    }
    const dim3 sgrid(Blocks(stride, 128), static_cast<unsigned>(nc));
    const int32_t* b = static_cast<const int32_t*>(dBegin.ptr);
    const int32_t* e = static_cast<const int32_t*>(dEnd.ptr);
    float* om = static_cast<float*>(dMean.ptr);
    float* ox = static_cast<float*>(dMax.ptr);
    int32_t* oa = static_cast<int32_t*>(dArea.ptr);
    if (stride == 0) continue;  // no cells: the labels were still validated
    if (wantMax) SlotKernel<true><<<sgrid, 128, 0, st>>>(b, e, order, runs, sum, mx, nRuns, stride, static_cast<int>(C), static_cast<int>(c0), om, ox, oa);
    else SlotKernel<false><<<sgrid, 128, 0, st>>>(b, e, order, runs, sum, mx, nRuns, stride, static_cast<int>(C), static_cast<int>(c0), om, ox, oa);
    if (!Ok(cudaGetLastError(), "pool kernels launch", error)) return false;
    clock.Mark(&gpu::Timings::kernelMs);
  }
  if (!cudautil::Download(mean, dMean.ptr, stride * C * sizeof(float), st, "cudaMemcpyAsync(mean)", error) ||
      (wantMax && !cudautil::Download(max, dMax.ptr, stride * C * sizeof(float), st, "cudaMemcpyAsync(max)", error)) ||
      !cudautil::Download(area, dArea.ptr, stride * sizeof(int32_t), st, "cudaMemcpyAsync(area)", error)) {
    return false;
  }
  clock.Mark(&gpu::Timings::downloadMs);
  return true;
}

}  // namespace

bool PoolCuda(const Plan& plan, const void* labels, bool labels16, const uint8_t* regions, const float* map, float* mean,
              float* max, int32_t* area, int64_t* badPixel, gpu::Timings* timings, std::string* error) {
  if (labels16) {
    return PoolTyped(plan, static_cast<const uint16_t*>(labels), regions, map, mean, max, area, badPixel, timings, error);
  }
  return PoolTyped(plan, static_cast<const int32_t*>(labels), regions, map, mean, max, area, badPixel, timings, error);
}

}  // namespace pool
}  // namespace cellcam
