// Run-time CUDA discovery. Implemented in cuda/device.cu when built with CUDA, else gpu_stub.cc.
// One binary serves both: a CUDA build on a machine without a driver reports 0 devices and why.
#pragma once
#include <string>
#include <vector>

namespace cellcam {
struct GpuInfo {
  bool compiled = false;          // built with nvcc
  int devices = 0;                // usable devices (0 when none or when the runtime failed)
  std::string reason;             // why devices == 0, or "" when a device is usable
  int runtimeVersion = 0;         // cudaRuntimeGetVersion, 0 when not compiled
  int driverVersion = 0;          // cudaDriverGetVersion, 0 when unknown
  std::vector<std::string> names; // device names
};
// Probed once per process and cached (thread-safe).
const GpuInfo& Gpu();
}  // namespace cellcam
