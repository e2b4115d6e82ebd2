// CUDA discovery for the one-binary design: cudart is linked statically, so this runs (and fails
// gracefully) on machines with no driver; the reason is kept for `capabilities()` and the CLI.
#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "../gpu.h"

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
}  // namespace cellcam
