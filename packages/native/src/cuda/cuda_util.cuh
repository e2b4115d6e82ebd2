// Host-side helpers shared by the CUDA kernels: error capture that names the failing call, a
// per-thread stream, stream-ordered pooled allocations, host<->device copies through pinned
// staging buffers, cub's scan and sort with pooled temporaries, and phase timing.
#pragma once

#include <cuda_runtime.h>

#include <cub/block/block_radix_sort.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "../gpu.h"

namespace cellcam {
namespace cudautil {

// Records "<what>: <name>: <text>" for a failed call and clears the non-sticky error state, so
// later calls in this process start clean.
inline bool Ok(cudaError_t e, const char* what, std::string* error) {
  if (e == cudaSuccess) return true;
  *error = std::string(what) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
  cudaGetLastError();
  return false;
}

// The calling thread's stream on device 0. Each libuv worker thread gets its own non-blocking
// stream, so images handled concurrently (a batch of promises) overlap their copies and kernels.
// The device's default memory pool keeps freed blocks (release threshold = max): after the first
// image, cudaMallocAsync is a pool hit instead of a cudaMalloc/cudaFree pair that synchronises
// the whole device.
inline bool Begin(cudaStream_t* stream, std::string* error) {
  if (!Ok(cudaSetDevice(0), "cudaSetDevice", error)) return false;
  static std::once_flag once;
  static cudaError_t poolErr = cudaSuccess;
  std::call_once(once, [] {
    cudaMemPool_t pool;
    poolErr = cudaDeviceGetDefaultMemPool(&pool, 0);
    if (poolErr != cudaSuccess) return;
    uint64_t keep = UINT64_MAX;
    poolErr = cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  });
  if (!Ok(poolErr, "cudaMemPoolSetAttribute(release threshold)", error)) return false;
  // Never destroyed: the stream lives as long as its thread, and CUDA tears it down at exit.
  thread_local cudaStream_t s = nullptr;
  if (s == nullptr && !Ok(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate", error)) return false;
  *stream = s;
  return true;
}

// Device memory a call can allocate now: the free memory plus the default pool's idle blocks
// (Begin keeps them; cudaMallocAsync reuses them). After Begin.
inline bool AvailableBytes(double* bytes, std::string* error) {
  size_t free = 0, total = 0;
  cudaMemPool_t pool;
  uint64_t reserved = 0, used = 0;
  if (!Ok(cudaMemGetInfo(&free, &total), "cudaMemGetInfo", error) || !Ok(cudaDeviceGetDefaultMemPool(&pool, 0), "cudaDeviceGetDefaultMemPool", error) ||
      !Ok(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved), "cudaMemPoolGetAttribute(reserved)", error) ||
      !Ok(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used), "cudaMemPoolGetAttribute(used)", error)) {
    return false;
  }
  *bytes = static_cast<double>(free) + static_cast<double>(reserved > used ? reserved - used : 0);
  return true;
}

// Stream-ordered device allocation, returned to the pool on every exit path.
struct DeviceBuffer {
  void* ptr = nullptr;
  cudaStream_t stream = nullptr;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr) cudaFreeAsync(ptr, stream);
  }
};

inline bool Alloc(DeviceBuffer& b, size_t bytes, cudaStream_t s, const char* what, std::string* error) {
  b.stream = s;
  return Ok(cudaMallocAsync(&b.ptr, bytes == 0 ? 1 : bytes, s), what, error);
}

// Host<->device copies of the caller's (pageable) TypedArrays. 'pinned' (the default) moves them
// through two page-locked chunks per thread, so the host memcpy of one chunk overlaps the DMA of
// the other; 'pageable' hands the caller's memory to the driver as is. CELLCAM_CUDA_STAGING picks
// one (read per call, so a benchmark can compare both in one process).
inline bool PinnedStaging() { return gpu::SwitchOn("CELLCAM_CUDA_STAGING", "pageable"); }

// The executors' host reads (a flood's counters, a level table) through the same chunks: a
// device->host copy into pageable memory goes through the driver's own staging, and the floods'
// host loops read a few thousand times per labelCell (on the H100, ~21 µs per read; reads were
// 28 % of one image's device time). CELLCAM_CUDA_READBACK=pageable: into the caller's memory.
inline bool PinnedReadBack() { return gpu::SwitchOn("CELLCAM_CUDA_READBACK", "pageable"); }

class Staging {
 public:
  static constexpr size_t kChunk = size_t{8} << 20;
  // The calling thread's two chunks and their "copy done" events, allocated on first use.
  static Staging* ForThread(std::string* error) {
    thread_local Staging st;
    if (st.host_[0] == nullptr) {
      for (int i = 0; i < 2; ++i) {
        if (!Ok(cudaMallocHost(&st.host_[i], kChunk), "cudaMallocHost(staging)", error) ||
            !Ok(cudaEventCreateWithFlags(&st.done_[i], cudaEventDisableTiming), "cudaEventCreate(staging)", error)) {
          return nullptr;
        }
      }
    }
    return &st;
  }

  bool In(void* dst, const void* src, size_t bytes, cudaStream_t s, std::string* error) {
    const char* from = static_cast<const char*>(src);
    char* to = static_cast<char*>(dst);
    for (size_t off = 0, i = 0; off < bytes; off += kChunk, ++i) {
      const int k = static_cast<int>(i & 1);
      const size_t len = bytes - off < kChunk ? bytes - off : kChunk;
      if (!Ok(cudaEventSynchronize(done_[k]), "cudaEventSynchronize(staging)", error)) return false;
      gpu::HostCopy(host_[k], from + off, len);
      if (!Ok(cudaMemcpyAsync(to + off, host_[k], len, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync(upload)", error) ||
          !Ok(cudaEventRecord(done_[k], s), "cudaEventRecord(staging)", error)) {
        return false;
      }
    }
    return true;
  }

  // Ends with the stream synchronised up to the last chunk: dst is complete on return.
  bool Out(void* dst, const void* src, size_t bytes, cudaStream_t s, std::string* error) {
    char* to = static_cast<char*>(dst);
    const char* from = static_cast<const char*>(src);
    size_t pendingOff = 0, pendingLen = 0;
    int pendingK = -1;
    for (size_t off = 0, i = 0; off < bytes; off += kChunk, ++i) {
      const int k = static_cast<int>(i & 1);
      const size_t len = bytes - off < kChunk ? bytes - off : kChunk;
      if (!Ok(cudaEventSynchronize(done_[k]), "cudaEventSynchronize(staging)", error) ||
          !Ok(cudaMemcpyAsync(host_[k], from + off, len, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(download)", error) ||
          !Ok(cudaEventRecord(done_[k], s), "cudaEventRecord(staging)", error)) {
        return false;
      }
      if (pendingK >= 0 && !Drain(to, pendingK, pendingOff, pendingLen, error)) return false;
      pendingK = k;
      pendingOff = off;
      pendingLen = len;
    }
    return pendingK < 0 || Drain(to, pendingK, pendingOff, pendingLen, error);
  }

 private:
  bool Drain(char* to, int k, size_t off, size_t len, std::string* error) {
    if (!Ok(cudaEventSynchronize(done_[k]), "cudaEventSynchronize(download)", error)) return false;
    gpu::HostCopy(to + off, host_[k], len);
    return true;
  }
  void* host_[2] = {nullptr, nullptr};
  cudaEvent_t done_[2] = {nullptr, nullptr};
};

inline bool Upload(void* dst, const void* src, size_t bytes, cudaStream_t s, const char* what, std::string* error) {
  if (bytes == 0) return true;
  if (!PinnedStaging()) return Ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s), what, error);
  Staging* st = Staging::ForThread(error);
  return st != nullptr && st->In(dst, src, bytes, s, error);
}

// Synchronous for the caller: dst holds the data on return. `pinned`: through the thread's
// page-locked chunks.
inline bool Download(void* dst, const void* src, size_t bytes, cudaStream_t s, const char* what, std::string* error,
                     bool pinned = PinnedStaging()) {
  if (bytes == 0) return true;
  if (!pinned) {
    return Ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s), what, error) &&
           Ok(cudaStreamSynchronize(s), what, error);
  }
  Staging* st = Staging::ForThread(error);
  return st != nullptr && st->Out(dst, src, bytes, s, error);
}

// cub's two calls (temporary size, then the work) with the temporary from the pool; it is freed
// in stream order, after the work.
template <typename T>
bool ExclusiveSum(const T* in, T* out, int64_t n, cudaStream_t s, std::string* error) {
  DeviceBuffer temp;
  size_t bytes = 0;
  return Ok(cub::DeviceScan::ExclusiveSum(nullptr, bytes, in, out, static_cast<int>(n), s), "cub scan (size)", error) &&
         Alloc(temp, bytes, s, "cudaMallocAsync(scan temp)", error) &&
         Ok(cub::DeviceScan::ExclusiveSum(temp.ptr, bytes, in, out, static_cast<int>(n), s), "cub scan", error);
}

// The key bits a radix sort needs for keys up to maxKey: [0, endBit), at least 1, at most `bits`.
__host__ __device__ inline int KeyBits(uint64_t maxKey, int bits) {
  int endBit = 1;
  while (endBit < bits && (maxKey >> endBit) != 0) ++endBit;
  return endBit;
}

// Stable LSD radix sort of (key, value) pairs on the bits that keys up to maxKey use: equal keys
// keep their input order. The sorted data is keys.Current() / values.Current().
template <typename K, typename V>
bool SortPairs(cub::DoubleBuffer<K>& keys, cub::DoubleBuffer<V>& values, int64_t items, uint64_t maxKey, cudaStream_t s,
               std::string* error) {
  const int endBit = KeyBits(maxKey, static_cast<int>(8 * sizeof(K)));
  DeviceBuffer temp;
  size_t bytes = 0;
  const int n = static_cast<int>(items);
  return Ok(cub::DeviceRadixSort::SortPairs(nullptr, bytes, keys, values, n, 0, endBit, s), "cub sort (size)", error) &&
         Alloc(temp, bytes, s, "cudaMallocAsync(sort temp)", error) &&
         Ok(cub::DeviceRadixSort::SortPairs(temp.ptr, bytes, keys, values, n, 0, endBit, s), "cub sort", error);
}

// Small sorts in one block: most generations of the watershed's flood are tens to hundreds of
// pixels, and cub's device sort is several launches and a temporary allocation each time. On by
// default since its H100 run (equal to the CPU in every case; labelCell 2048² 110 -> 100 ms alone,
// 29.3 -> 26.4 ms per image in a stacked batch of 16). CELLCAM_CUDA_BLOCK_SORT=0 turns it off, and
// the executor's one-block scan with it (DeviceExec::ExclusiveSum; read per call).
constexpr int kBlockSortThreads = 256, kBlockSortItems = 8;
constexpr int64_t kBlockSortMax = int64_t{kBlockSortThreads} * kBlockSortItems;

inline bool BlockSortEnabled() { return gpu::SwitchOn("CELLCAM_CUDA_BLOCK_SORT", "0"); }

// Sorts n <= kThreads * kItems pairs by the key bits [0, endBit) from (keysIn, valsIn) into
// (keysOut, valsOut), with the calling block's kThreads threads. Slots past n hold all-ones keys,
// which sort after every real key (real keys are below maxKey < 2^endBit); keys are unique, so
// stability does not matter. Used by BlockSortPairsKernel and by the one-block generations'
// SortPhase (device_exec.cuh).
template <int kThreads, int kItems>
__device__ void BlockSortPairs(const uint64_t* keysIn, const int32_t* valsIn, uint64_t* keysOut, int32_t* valsOut, int64_t n,
                               int endBit) {
  using Sort = cub::BlockRadixSort<uint64_t, kThreads, kItems, int32_t>;
  __shared__ typename Sort::TempStorage temp;
  uint64_t k[kItems];
  int32_t v[kItems];
  for (int i = 0; i < kItems; ++i) {
    const int64_t idx = static_cast<int64_t>(threadIdx.x) * kItems + i;  // blocked arrangement
    k[i] = idx < n ? keysIn[idx] : ~uint64_t{0};
    v[i] = idx < n ? valsIn[idx] : 0;
  }
  Sort(temp).Sort(k, v, 0, endBit);
  for (int i = 0; i < kItems; ++i) {
    const int64_t idx = static_cast<int64_t>(threadIdx.x) * kItems + i;
    if (idx < n) {
      keysOut[idx] = k[i];
      valsOut[idx] = v[i];
    }
  }
}

// BlockSortPairs as a launch of one block (a template, so that every .cu including this header
// can hold it).
template <int kThreads, int kItems>
__global__ void __launch_bounds__(kThreads) BlockSortPairsKernel(const uint64_t* keysIn, const int32_t* valsIn, uint64_t* keysOut,
                                                                int32_t* valsOut, int n, int endBit) {
  BlockSortPairs<kThreads, kItems>(keysIn, valsIn, keysOut, valsOut, n, endBit);
}

// A small device->host read (a count, a flag) that the host needs before it can go on.
template <typename T>
bool ReadScalar(T* host, const T* device, cudaStream_t s, const char* what, std::string* error) {
  return Ok(cudaMemcpyAsync(host, device, sizeof(T), cudaMemcpyDeviceToHost, s), what, error) &&
         Ok(cudaStreamSynchronize(s), what, error);
}

// Wall-clock phases of one CUDA call (gpu::Timings): each Mark() adds the time since the previous
// mark (or Skip()) to a phase, after the stream has drained, so copies and kernels are timed
// apart; Skip() leaves host work out (it is total minus the phases). The synchronisations cost a
// few microseconds each.
class PhaseClock {
 public:
  PhaseClock(cudaStream_t s, gpu::Timings* t) : s_(s), t_(t), last_(Now()) {}
  void Mark(double gpu::Timings::*phase) {
    if (t_ == nullptr) return;
    cudaStreamSynchronize(s_);
    const double now = Now();
    t_->*phase += now - last_;
    last_ = now;
  }
  void Skip() { last_ = Now(); }

 private:
  static double Now() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  cudaStream_t s_;
  gpu::Timings* t_;
  double last_;
};

}  // namespace cudautil
}  // namespace cellcam
