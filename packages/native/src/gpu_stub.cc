// CPU-only builds: GPU discovery answers "not compiled" so callers fall back to the CPU kernels.
#ifndef CELLCAM_HAVE_CUDA
#include "gpu.h"

namespace cellcam {
const GpuInfo& Gpu() {
  static const GpuInfo info = [] {
    GpuInfo g;
    g.compiled = false;
    g.reason = "built without CUDA (nvcc was not found at build time, or CELLCAM_WITH_CUDA=OFF)";
    return g;
  }();
  return info;
}
}  // namespace cellcam
#endif
