// CUDA seeded watershed, 'fifo' order: the level- and generation-synchronous flood of
// watershed_levels.h on the device (kernels launched from its host loop, claims by atomicMin of
// queue keys, generations sorted by cub). Output equals FloodFifo of watershed.cc.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../gpu.h"
#include "../watershed_levels.h"
#include "cuda_util.cuh"
#include "device_exec.cuh"

namespace cellcam {
namespace gpu {
namespace {

using cudautil::DeviceBuffer;
using cudautil::Ok;

template <typename LT>
bool Run(const LT* hostLev, int32_t levels, const int32_t* hostMarkers, const uint8_t* hostMask, int32_t* hostOut, int64_t W,
         int64_t H, int conn, bool wsl, WatershedStats* stats, Timings* timings, std::string* error) {
  const int64_t n = W * H;
  cudaStream_t s;
  if (!cudautil::Begin(&s, error)) return false;
  cudautil::PhaseClock clock(s, timings);
  DeviceExec ex(s, error);  // frees its buffers (stream-ordered) on return
  LT* lev = ex.Alloc<LT>(n);
  int32_t* markers = ex.Alloc<int32_t>(n);
  uint8_t* mask = hostMask ? ex.Alloc<uint8_t>(n) : nullptr;
  int32_t* out = ex.Alloc<int32_t>(n);
  if (!lev || !markers || !out || (hostMask && !mask)) return false;
  clock.Skip();
  if (!cudautil::Upload(lev, hostLev, n * sizeof(LT), s, "cudaMemcpyAsync(elevation)", error) ||
      !cudautil::Upload(markers, hostMarkers, n * sizeof(int32_t), s, "cudaMemcpyAsync(markers)", error) ||
      (hostMask && !cudautil::Upload(mask, hostMask, n, s, "cudaMemcpyAsync(mask)", error))) {
    return false;
  }
  clock.Mark(&Timings::uploadMs);
  if (!wslevels::Flood(ex, lev, levels, markers, mask, out, static_cast<int32_t>(W), static_cast<int32_t>(H), conn, wsl, stats)) {
    return false;
  }
  clock.Mark(&Timings::kernelMs);
  // `out` may alias the host markers: written only now, after they were uploaded.
  if (!cudautil::Download(hostOut, out, n * sizeof(int32_t), s, "cudaMemcpyAsync(labels)", error)) return false;
  clock.Mark(&Timings::downloadMs);
  return true;
}

}  // namespace

bool Watershed(const void* elevation, Dtype dtype, const int32_t* markers, const uint8_t* mask, int32_t* out,
              int64_t width, int64_t height, int connectivity, bool watershedLine, WatershedStats* stats, Timings* timings,
              std::string* error) {
  if (dtype == Dtype::U8) {
    return Run(static_cast<const uint8_t*>(elevation), 256, markers, mask, out, width, height, connectivity, watershedLine, stats,
               timings, error);
  }
  return Run(static_cast<const uint16_t*>(elevation), 65536, markers, mask, out, width, height, connectivity, watershedLine, stats,
             timings, error);
}

}  // namespace gpu
}  // namespace cellcam
