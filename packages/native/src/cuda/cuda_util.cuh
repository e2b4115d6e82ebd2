// Host-side helpers shared by the CUDA kernels: an owning device allocation and error capture
// that names the failing call.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

namespace cellcam {
namespace cudautil {

// Device allocation freed on every exit path.
struct DeviceBuffer {
  void* ptr = nullptr;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

// Records "<what>: <name>: <text>" for a failed call and clears the non-sticky error state, so
// later calls in this process start clean.
inline bool Ok(cudaError_t e, const char* what, std::string* error) {
  if (e == cudaSuccess) return true;
  *error = std::string(what) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
  cudaGetLastError();
  return false;
}

inline bool Alloc(DeviceBuffer& b, size_t bytes, const char* what, std::string* error) {
  return Ok(cudaMalloc(&b.ptr, bytes == 0 ? 1 : bytes), what, error);
}

}  // namespace cudautil
}  // namespace cellcam
