// CUDA half of CAM-to-cell pooling: one thread per (run, channel) evaluates pool::RunSumMax with
// the map rows interpolated on the fly; the host (pool.cc) accumulates per cell in raster order.
#include <cuda_runtime.h>

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

template <typename T>
bool Upload(DeviceBuffer& buf, const T* host, size_t count, const char* what, std::string* error) {
  const size_t bytes = count * sizeof(T);
  if (!Ok(cudaMalloc(&buf.ptr, bytes == 0 ? 1 : bytes), what, error)) return false;
  if (bytes == 0) return true;
  return Ok(cudaMemcpy(buf.ptr, host, bytes, cudaMemcpyHostToDevice), what, error);
}

}  // namespace

bool PoolRunsCuda(const Plan& plan, const float* map, int c0, int c1, bool wantMax, double* runSum, double* runMax,
                  std::string* error) {
  const int64_t nRuns = static_cast<int64_t>(plan.runs.size());
  const int nc = c1 - c0;
  if (nRuns == 0 || nc <= 0) return true;
  if (nc > 65535) {
    *error = "pool: too many channels for one launch";
    return false;
  }
  if (!Ok(cudaSetDevice(0), "cudaSetDevice", error)) return false;
  const int64_t plane = static_cast<int64_t>(plan.mapHeight) * plan.mapWidth;
  DeviceBuffer dMap, dRuns, dY0, dY1, dLy, dWy0, dX0, dX1, dSeg, dLx, dWx0, dA0, dA1, dSum, dMax;
  if (!Upload(dMap, map + c0 * plane, static_cast<size_t>(nc * plane), "cudaMalloc/cudaMemcpy(map)", error) ||
      !Upload(dRuns, plan.runs.data(), plan.runs.size(), "cudaMalloc/cudaMemcpy(runs)", error) ||
      !Upload(dY0, plan.y0.data(), plan.y0.size(), "cudaMalloc/cudaMemcpy(y0)", error) ||
      !Upload(dY1, plan.y1.data(), plan.y1.size(), "cudaMalloc/cudaMemcpy(y1)", error) ||
      !Upload(dLy, plan.ly.data(), plan.ly.size(), "cudaMalloc/cudaMemcpy(ly)", error) ||
      !Upload(dWy0, plan.wy0.data(), plan.wy0.size(), "cudaMalloc/cudaMemcpy(wy0)", error) ||
      !Upload(dX0, plan.x0.data(), plan.x0.size(), "cudaMalloc/cudaMemcpy(x0)", error) ||
      !Upload(dX1, plan.x1.data(), plan.x1.size(), "cudaMalloc/cudaMemcpy(x1)", error) ||
      !Upload(dSeg, plan.segEnd.data(), plan.segEnd.size(), "cudaMalloc/cudaMemcpy(segEnd)", error) ||
      !Upload(dLx, plan.lx.data(), plan.lx.size(), "cudaMalloc/cudaMemcpy(lx)", error) ||
      !Upload(dWx0, plan.wx0.data(), plan.wx0.size(), "cudaMalloc/cudaMemcpy(wx0)", error) ||
      !Upload(dA0, plan.A0.data(), plan.A0.size(), "cudaMalloc/cudaMemcpy(A0)", error) ||
      !Upload(dA1, plan.A1.data(), plan.A1.size(), "cudaMalloc/cudaMemcpy(A1)", error)) {
    return false;
  }
  const size_t outBytes = static_cast<size_t>(nc) * nRuns * sizeof(double);
  if (!Ok(cudaMalloc(&dSum.ptr, outBytes), "cudaMalloc(runSum)", error)) return false;
  if (wantMax && !Ok(cudaMalloc(&dMax.ptr, outBytes), "cudaMalloc(runMax)", error)) return false;

  const RowTables rows{static_cast<const int32_t*>(dY0.ptr), static_cast<const int32_t*>(dY1.ptr),
                       static_cast<const double*>(dLy.ptr), static_cast<const double*>(dWy0.ptr)};
  const ColumnTables cols{static_cast<const int32_t*>(dX0.ptr), static_cast<const int32_t*>(dX1.ptr),
                          static_cast<const int32_t*>(dSeg.ptr), static_cast<const double*>(dLx.ptr),
                          static_cast<const double*>(dWx0.ptr), static_cast<const double*>(dA0.ptr),
                          static_cast<const double*>(dA1.ptr)};
  const int block = 128;
  const dim3 grid(static_cast<unsigned>((nRuns + block - 1) / block), static_cast<unsigned>(nc));
  const float* m = static_cast<const float*>(dMap.ptr);
  const Run* runs = static_cast<const Run*>(dRuns.ptr);
  double* s = static_cast<double*>(dSum.ptr);
  double* mx = static_cast<double*>(dMax.ptr);
  if (wantMax) RunsKernel<true><<<grid, block>>>(m, plan.mapHeight, plan.mapWidth, runs, nRuns, rows, cols, s, mx);
  else RunsKernel<false><<<grid, block>>>(m, plan.mapHeight, plan.mapWidth, runs, nRuns, rows, cols, s, mx);
  if (!Ok(cudaGetLastError(), "pool kernel launch", error)) return false;
  if (!Ok(cudaDeviceSynchronize(), "pool kernel", error)) return false;
  if (!Ok(cudaMemcpy(runSum, s, outBytes, cudaMemcpyDeviceToHost), "cudaMemcpy(runSum)", error)) return false;
  if (wantMax && !Ok(cudaMemcpy(runMax, mx, outBytes, cudaMemcpyDeviceToHost), "cudaMemcpy(runMax)", error)) return false;
  return true;
}

}  // namespace pool
}  // namespace cellcam
