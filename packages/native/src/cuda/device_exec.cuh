// The CUDA executor of the kernels written against an executor (watershed_levels.h,
// label_cell_parallel.h): For() is one launch of a __host__ __device__ lambda on the calling
// thread's stream, buffers come from the stream-ordered pool and are freed when the executor goes
// out of scope, sorts and scans are cub's. Failures name the CUDA call in *error.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda_util.cuh"

namespace cellcam {
namespace gpu {

constexpr int kExecBlock = 256;

template <class F>
__global__ void ForKernel(int64_t n, F f) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) f(i);
}

class DeviceExec {
 public:
  DeviceExec(cudaStream_t s, std::string* error) : s_(s), error_(error) {}
  int64_t launches = 0, reads = 0;  // For() launches, Read() calls (host round trips)

  template <class F>
  bool For(int64_t n, const F& f) {
    if (n <= 0) return true;
    ++launches;
    ForKernel<<<static_cast<unsigned>((n + kExecBlock - 1) / kExecBlock), kExecBlock, 0, s_>>>(n, f);
    return cudautil::Ok(cudaGetLastError(), "kernel launch", error_);
  }

  template <typename T>
  T* Alloc(int64_t count) {
    buffers_.push_back(std::make_unique<cudautil::DeviceBuffer>());
    const size_t bytes = static_cast<size_t>(count > 0 ? count : 1) * sizeof(T);
    if (!cudautil::Alloc(*buffers_.back(), bytes, s_, "cudaMallocAsync", error_)) return nullptr;
    return static_cast<T*>(buffers_.back()->ptr);
  }

  // Buffers allocated after Mark() are freed by Release(mark), in stream order (a kernel's
  // temporaries: the watershed's ~100 bytes per pixel need not outlive it inside labelCell).
  size_t Mark() const { return buffers_.size(); }
  void Release(size_t mark) {
    while (buffers_.size() > mark) buffers_.pop_back();
  }

  bool Zero(void* p, size_t bytes) { return cudautil::Ok(cudaMemsetAsync(p, 0, bytes, s_), "cudaMemsetAsync", error_); }

  bool Read(void* host, const void* dev, size_t bytes) {
    ++reads;
    return cudautil::Ok(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, s_), "cudaMemcpyAsync(device to host)", error_) &&
           cudautil::Ok(cudaStreamSynchronize(s_), "kernels", error_);
  }

  bool ExclusiveSum(const int32_t* in, int32_t* out, int64_t n) { return cudautil::ExclusiveSum(in, out, n, s_, error_); }

  int SortPairs(uint64_t* keys, uint64_t* keysAlt, int32_t* vals, int32_t* valsAlt, int64_t m, uint64_t maxKey) {
    if (m <= cudautil::kBlockSortMax && cudautil::BlockSortEnabled()) {
      ++launches;
      cudautil::BlockSortPairsKernel<cudautil::kBlockSortThreads, cudautil::kBlockSortItems><<<1, cudautil::kBlockSortThreads, 0, s_>>>(
          keys, vals, keysAlt, valsAlt, static_cast<int>(m), cudautil::KeyBits(maxKey, 64));
      return cudautil::Ok(cudaGetLastError(), "block sort launch", error_) ? 1 : -1;
    }
    cub::DoubleBuffer<uint64_t> k(keys, keysAlt);
    cub::DoubleBuffer<int32_t> v(vals, valsAlt);
    if (!cudautil::SortPairs(k, v, m, maxKey, s_, error_)) return -1;
    return k.selector;
  }

 private:
  cudaStream_t s_;
  std::string* error_;
  std::vector<std::unique_ptr<cudautil::DeviceBuffer>> buffers_;
};

}  // namespace gpu
}  // namespace cellcam
