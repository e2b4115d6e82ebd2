// CUDA discovery for the one-binary design: cudart is linked statically, so this runs (and fails
// gracefully) on machines with no driver; the reason is kept for `capabilities()` and the CLI.
#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "../gpu.h"
#include "cuda_util.cuh"

namespace cellcam {
const GpuInfo& Gpu() {
  static GpuInfo info;
  static std::once_flag once;
  std::call_once(once, [] {
    info.compiled = true;
    cudaRuntimeGetVersion(&info.runtimeVersion);
    if (cudaDriverGetVersion(&info.driverVersion) != cudaSuccess) info.driverVersion = 0;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      info.devices = 0;
      info.reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
      if (err == cudaErrorInsufficientDriver && info.driverVersion == 0) info.reason += " (no NVIDIA driver found)";
      cudaGetLastError();
      return;
    }
    if (n == 0) {
      info.reason = "no CUDA device found";
      return;
    }
    info.devices = n;
    for (int i = 0; i < n; ++i) {
      cudaDeviceProp p;
      if (cudaGetDeviceProperties(&p, i) == cudaSuccess) {
        info.names.emplace_back(p.name);
        info.memory.push_back(static_cast<double>(p.totalGlobalMem));
      } else {
        info.names.emplace_back("device " + std::to_string(i));
        info.memory.push_back(0);
      }
    }
  });
  return info;
}

namespace gpu {
bool CopyBandwidth(int64_t bytes, int reps, double* bytesPerSecond, std::string* error) {
  cudaStream_t s;
  if (!cudautil::Begin(&s, error)) return false;
  cudautil::DeviceBuffer a, b;
  const size_t size = static_cast<size_t>(bytes);
  if (!cudautil::Alloc(a, size, s, "cudaMallocAsync(bandwidth)", error) || !cudautil::Alloc(b, size, s, "cudaMallocAsync(bandwidth)", error) ||
      !cudautil::Ok(cudaMemsetAsync(a.ptr, 1, size, s), "cudaMemsetAsync(bandwidth)", error) ||
      !cudautil::Ok(cudaMemcpyAsync(b.ptr, a.ptr, size, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync(bandwidth warm-up)", error)) {
    return false;
  }
  cudaEvent_t start = nullptr, stop = nullptr;
  bool ok = cudautil::Ok(cudaEventCreate(&start), "cudaEventCreate", error) && cudautil::Ok(cudaEventCreate(&stop), "cudaEventCreate", error) &&
            cudautil::Ok(cudaEventRecord(start, s), "cudaEventRecord", error);
  for (int r = 0; ok && r < reps; ++r) {
    ok = cudautil::Ok(cudaMemcpyAsync(r % 2 ? a.ptr : b.ptr, r % 2 ? b.ptr : a.ptr, size, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync(bandwidth)", error);
  }
  float ms = 0;
  ok = ok && cudautil::Ok(cudaEventRecord(stop, s), "cudaEventRecord", error) && cudautil::Ok(cudaEventSynchronize(stop), "cudaEventSynchronize", error) &&
       cudautil::Ok(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime", error);
  if (start) cudaEventDestroy(start);
  if (stop) cudaEventDestroy(stop);
  if (!ok) return false;
  *bytesPerSecond = 2.0 * static_cast<double>(bytes) * reps / (ms / 1000.0);
  return true;
}
}  // namespace gpu
}  // namespace cellcam
