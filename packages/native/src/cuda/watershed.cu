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

namespace cellcam {
namespace gpu {
namespace {

using cudautil::DeviceBuffer;
using cudautil::Ok;

constexpr int kBlock = 256;

template <class F>
__global__ void ForKernel(int64_t n, F f) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) f(i);
}

// The executor of watershed_levels.h on one stream: buffers from the stream-ordered pool, freed
// when the executor goes out of scope.
class DeviceExec {
 public:
  DeviceExec(cudaStream_t s, std::string* error) : s_(s), error_(error) {}
  std::string error;  // unused: failures go straight to *error_

  template <class F>
  bool For(int64_t n, const F& f) {
    if (n <= 0) return true;
    ForKernel<<<static_cast<unsigned>((n + kBlock - 1) / kBlock), kBlock, 0, s_>>>(n, f);
    return Ok(cudaGetLastError(), "watershed kernel launch", error_);
  }

  template <typename T>
  T* Alloc(int64_t count) {
    buffers_.push_back(std::make_unique<DeviceBuffer>());
    const size_t bytes = static_cast<size_t>(count > 0 ? count : 1) * sizeof(T);
    if (!cudautil::Alloc(*buffers_.back(), bytes, s_, "cudaMallocAsync(watershed)", error_)) return nullptr;
    return static_cast<T*>(buffers_.back()->ptr);
  }

  bool Zero(void* p, size_t bytes) { return Ok(cudaMemsetAsync(p, 0, bytes, s_), "cudaMemsetAsync(watershed)", error_); }

  bool Read(void* host, const void* dev, size_t bytes) {
    return Ok(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, s_), "cudaMemcpyAsync(watershed counters)", error_) &&
           Ok(cudaStreamSynchronize(s_), "watershed kernels", error_);
  }

  bool ExclusiveSum(const int32_t* in, int32_t* out, int64_t n) { return cudautil::ExclusiveSum(in, out, n, s_, error_); }

  int SortPairs(uint64_t* keys, uint64_t* keysAlt, int32_t* vals, int32_t* valsAlt, int64_t m, uint64_t maxKey) {
    cub::DoubleBuffer<uint64_t> k(keys, keysAlt);
    cub::DoubleBuffer<int32_t> v(vals, valsAlt);
    if (!cudautil::SortPairs(k, v, m, maxKey, s_, error_)) return -1;
    return k.selector;
  }

 private:
  cudaStream_t s_;
  std::string* error_;
  std::vector<std::unique_ptr<DeviceBuffer>> buffers_;
};

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
