// The CUDA executor of the kernels written against an executor (watershed_levels.h,
// label_cell_parallel.h): For() is one launch of a __host__ __device__ lambda on the calling
// thread's stream, buffers come from the stream-ordered pool and are freed when the executor goes
// out of scope, sorts and scans are cub's. Failures name the CUDA call in *error.
// CELLCAM_CUDA_PROFILE=1 adds StepProfile: each step's time by the source line that issued it.
#pragma once

#include <cuda_runtime.h>

#include <cub/block/block_scan.cuh>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "../parallel_ops.h"
#include "cuda_util.cuh"

namespace cellcam {
namespace gpu {

constexpr int kExecBlock = 256;

template <class F>
__global__ void ForKernel(int64_t n, F f) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) f(i);
}

// f(i) for i < min(n, *count): a bound the host knows and a count an earlier launch wrote (no
// round trip to learn it). The grid is capped at what the device holds at once (GridBlocks) and
// strides over the rest, so a loose bound launches no idle threads.
template <class F>
__device__ void GridStride(int64_t n, const int32_t* count, const F& f) {
  const int64_t end = count == nullptr ? n : min(n, static_cast<int64_t>(*count));
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < end; i += stride) f(i);
}
template <class F>
__global__ void ForUpToKernel(int64_t n, const int32_t* count, F f) {
  GridStride(n, count, f);
}

// f over [0, n) (up to *count when count is not null, as ForUpToKernel), then g over [0, m) by
// the last block to finish (one launch instead of two: the
// flood's host loop is bound by its launches). Each block takes a ticket once all its threads'
// writes are fenced; the block with the last ticket sees every block's writes, runs g in a
// block-stride loop and puts the ticket counter back to 0 for the next launch in the stream. g
// must read what f's atomics wrote past L1 (LoadCoherent).
template <class F, class G>
__global__ void ForThenKernel(int64_t n, const int32_t* count, F f, int64_t m, G g, unsigned int* tickets) {
  GridStride(n, count, f);
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(tickets, 1u) == gridDim.x - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) g(j);
  if (threadIdx.x == 0) *tickets = 0;
}

// One block runs the phases of an InBlock launch (parallel_ops.h) one after another, with a
// barrier after each: what one phase wrote, the next reads (one block, one SM: __syncthreads
// orders global memory too). 512 threads: the flood's small generations are at most a few
// thousand pops, and the pops' lambda needs more registers than 1024 threads would leave it.
constexpr int kInBlockThreads = 512;

template <class F>
__device__ void RunInBlock(const parallel::ForPhase<F>& p) {
  for (int64_t j = threadIdx.x; j < p.n; j += blockDim.x) p.f(j);
  __syncthreads();
}
template <class F>
__device__ void RunInBlock(const parallel::UpToPhase<F>& p) {
  const int64_t end = min(p.n, static_cast<int64_t>(*p.count));
  for (int64_t j = threadIdx.x; j < end; j += blockDim.x) p.f(j);
  __syncthreads();
}
// Tiles of 8 entries per thread (blocked arrangement), each tile's total carried into the next.
// Also the executor's scan of up to kInBlockScanMax entries (DeviceExec::ExclusiveSum).
constexpr int kInBlockScanItems = 8;
constexpr int64_t kInBlockScanMax = 2 * int64_t{kInBlockThreads} * kInBlockScanItems;  // two tiles
__device__ inline void RunInBlock(const parallel::ScanPhase& p) {
  using Scan = cub::BlockScan<int32_t, kInBlockThreads>;
  __shared__ typename Scan::TempStorage temp;
  __shared__ int32_t carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  for (int64_t tile = 0; tile < p.n; tile += int64_t{kInBlockThreads} * kInBlockScanItems) {
    const int64_t first = tile + static_cast<int64_t>(threadIdx.x) * kInBlockScanItems;
    int32_t v[kInBlockScanItems], sums[kInBlockScanItems];
    for (int i = 0; i < kInBlockScanItems; ++i) v[i] = first + i < p.n ? p.in[first + i] : 0;
    int32_t total = 0;
    Scan(temp).ExclusiveSum(v, sums, total);
    for (int i = 0; i < kInBlockScanItems; ++i) {
      if (first + i < p.n) p.out[first + i] = carry + sums[i];
    }
    __syncthreads();  // every thread has read carry, and temp may be used again
    if (threadIdx.x == 0) carry += total;
    __syncthreads();
  }
}
// A generation's keys by cuda_util's BlockSortPairs, over the bits that keys up to maxKey use.
__device__ inline void RunInBlock(const parallel::SortPhase& p) {
  constexpr int kItems = 8;
  static_assert(int64_t{kInBlockThreads} * kItems == parallel::kSortPhaseMax, "a SortPhase's pairs fill the block");
  cudautil::BlockSortPairs<kInBlockThreads, kItems>(p.keysIn, p.valsIn, p.keysOut, p.valsOut, p.n, cudautil::KeyBits(p.maxKey, 64));
  __syncthreads();
}

// The block of an InBlock launch as its body sees it (parallel_ops.h). Host-device, so that a
// body's host-device call operator compiles for the host side too.
struct BlockOps {
  template <class P>
  __host__ __device__ void Run(const P& p) const {
#if defined(__CUDA_ARCH__)
    RunInBlock(p);
#endif
  }
  __host__ __device__ void Sync() const {
#if defined(__CUDA_ARCH__)
    __syncthreads();
#endif
  }
  __host__ __device__ bool Leader() const {
#if defined(__CUDA_ARCH__)
    return threadIdx.x == 0;
#else
    return true;
#endif
  }
};

template <class Body>
__global__ void __launch_bounds__(kInBlockThreads) InBlockKernel(Body body) {
  body(BlockOps{});
}

// The executor's small scans as an InBlock body.
struct ScanBody {
  parallel::ScanPhase scan;
  __device__ void operator()(const BlockOps& b) const { b.Run(scan); }
};

// Opt-in (CELLCAM_CUDA_PROFILE=1): where a chain's time goes, by the source line of each step.
// The lent GPU machines have no working Nsight Systems (docs/kernels/gpu-check.md). The host waits
// for the stream before every step, so each step is timed alone: a launch's device time by
// events, a host read's whole round trip by the host clock. That serialises the chain, so the
// wall time printed is above an unprofiled call's; the sums say which steps to work on.
class StepProfile {
 public:
  static bool Enabled() {
    const char* v = std::getenv("CELLCAM_CUDA_PROFILE");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }
  explicit StepProfile(cudaStream_t s) : s_(s), t0_(Now()) {}
  ~StepProfile() { Report(); }

  void Begin() {
    cudaStreamSynchronize(s_);
    hostStart_ = Now();
    cudaEventCreate(&a_);
    cudaEventRecord(a_, s_);
  }
  // kind: "launch", "sort", "scan", "zero" (device time) or "read" (host round trip).
  void End(const char* kind, const char* file, int line, int64_t items) {
    cudaEvent_t b;
    cudaEventCreate(&b);
    cudaEventRecord(b, s_);
    cudaEventSynchronize(b);
    float ms = 0;
    if (std::strcmp(kind, "read") == 0) {
      ms = static_cast<float>(Now() - hostStart_);
    } else {
      cudaEventElapsedTime(&ms, a_, b);
    }
    cudaEventDestroy(a_);
    cudaEventDestroy(b);
    steps_[{kind, file, line}].Add(items, ms);
    sections_[section_].Add(items, ms);
  }
  // The chain's named stretch that the next steps belong to (labelCell's "cells flood", ...).
  void Section(const char* name) {
    if (sections_.find(name) == sections_.end()) order_.push_back(name);
    section_ = name;
    sections_[section_];
  }

 private:
  struct Step {
    int64_t calls = 0, items = 0;
    double ms = 0;
    void Add(int64_t n, double t) {
      ++calls;
      items += n;
      ms += t;
    }
  };
  static double Now() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
  void Report() {
    cudaStreamSynchronize(s_);
    std::vector<std::pair<std::tuple<std::string, std::string, int>, Step>> v(steps_.begin(), steps_.end());
    std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second.ms > y.second.ms; });
    double device = 0, reads = 0;
    int64_t calls = 0;
    for (const auto& [key, st] : v) {
      (std::get<0>(key) == "read" ? reads : device) += st.ms;
      calls += st.calls;
    }
    std::fprintf(stderr, "cellcam CUDA profile: %lld steps, %.2f ms wall (one step at a time), %.2f ms device, %.2f ms in host reads\n",
                 static_cast<long long>(calls), Now() - t0_, device, reads);
    std::fprintf(stderr, "(items: threads of a launch, keys of a sort or scan, bytes of a zero or read)\n");
    const auto row = [&](const Step& st, const std::string& what) {
      std::fprintf(stderr, "%10.3f %6.1f %8lld %14lld  %s\n", st.ms, 100 * st.ms / (device + reads), static_cast<long long>(st.calls),
                   static_cast<long long>(st.items), what.c_str());
    };
    if (order_.size() > 1) {
      std::fprintf(stderr, "%10s %6s %8s %14s  %s\n", "ms", "%", "steps", "items", "section");
      for (const std::string& name : order_) {
        if (sections_[name].calls > 0) row(sections_[name], name);
      }
    }
    std::fprintf(stderr, "%10s %6s %8s %14s  %-6s %s\n", "ms", "%", "calls", "items", "kind", "site");
    for (size_t i = 0; i < v.size() && i < 40; ++i) {
      const auto& [key, st] = v[i];
      const auto& [kind, file, line] = key;
      char kindCol[8];
      std::snprintf(kindCol, sizeof kindCol, "%-6s", kind.c_str());
      row(st, std::string(kindCol) + " " + file.substr(file.find_last_of('/') + 1) + ":" + std::to_string(line));  // npos + 1 = 0
    }
  }
  cudaStream_t s_;
  double t0_, hostStart_ = 0;
  cudaEvent_t a_ = nullptr;
  std::map<std::tuple<std::string, std::string, int>, Step> steps_;
  std::string section_ = "(start)";
  std::vector<std::string> order_{"(start)"};
  std::map<std::string, Step> sections_;
};

class DeviceExec {
 public:
  DeviceExec(cudaStream_t s, std::string* error)
      : s_(s), error_(error), profile_(StepProfile::Enabled() ? std::make_unique<StepProfile>(s) : nullptr) {}
  int64_t launches = 0, reads = 0;  // For() launches, Read() calls (host round trips)

  template <class F>
  bool For(int64_t n, const F& f, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    if (n <= 0) return true;
    ++launches;
    if (profile_) profile_->Begin();
    ForKernel<<<static_cast<unsigned>((n + kExecBlock - 1) / kExecBlock), kExecBlock, 0, s_>>>(n, f);
    if (profile_) profile_->End("launch", file, line, n);
    return cudautil::Ok(cudaGetLastError(), "kernel launch", error_);
  }

  // f(i) for i < min(n, *count), *count as the launch finds it in device memory (ForUpToKernel).
  template <class F>
  bool ForUpTo(int64_t n, const int32_t* count, const F& f, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    if (n <= 0) return true;
    ++launches;
    if (profile_) profile_->Begin();
    ForUpToKernel<<<GridBlocks(n), kExecBlock, 0, s_>>>(n, count, f);
    if (profile_) profile_->End("launch", file, line, n);
    return cudautil::Ok(cudaGetLastError(), "kernel launch", error_);
  }

  // f over [0, n) (up to *count when count is not null), then g over [0, m) once every f has run,
  // in one launch (ForThenKernel).
  template <class F, class G>
  bool ForThen(int64_t n, const int32_t* count, const F& f, int64_t m, const G& g, const char* file = __builtin_FILE(),
               int line = __builtin_LINE()) {
    if (n <= 0) return For(m, g, file, line);
    if (m <= 0) return count == nullptr ? For(n, f, file, line) : ForUpTo(n, count, f, file, line);
    if (!tickets_) {
      tickets_ = std::make_unique<cudautil::DeviceBuffer>();
      if (!cudautil::Alloc(*tickets_, sizeof(unsigned int), s_, "cudaMallocAsync(tickets)", error_) ||
          !cudautil::Ok(cudaMemsetAsync(tickets_->ptr, 0, sizeof(unsigned int), s_), "cudaMemsetAsync(tickets)", error_)) {
        return false;
      }
    }
    ++launches;
    if (profile_) profile_->Begin();
    ForThenKernel<<<GridBlocks(n), kExecBlock, 0, s_>>>(n, count, f, m, g, static_cast<unsigned int*>(tickets_->ptr));
    if (profile_) profile_->End("launch", file, line, n + m);
    return cudautil::Ok(cudaGetLastError(), "kernel launch", error_);
  }
  template <class F, class G>
  bool ForThen(int64_t n, const F& f, int64_t m, const G& g, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return ForThen(n, nullptr, f, m, g, file, line);
  }

  // body(block) in one launch of one block (InBlockKernel; parallel_ops.h).
  template <class Body>
  bool InBlock(const Body& body, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    ++launches;
    if (profile_) profile_->Begin();
    InBlockKernel<<<1, kInBlockThreads, 0, s_>>>(body);
    if (profile_) profile_->End("launch", file, line, kInBlockThreads);
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

  void Section(const char* name) {
    if (profile_) profile_->Section(name);
  }

  bool Zero(void* p, size_t bytes, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    if (profile_) profile_->Begin();
    const bool ok = cudautil::Ok(cudaMemsetAsync(p, 0, bytes, s_), "cudaMemsetAsync", error_);
    if (profile_) profile_->End("zero", file, line, static_cast<int64_t>(bytes));
    return ok;
  }

  bool Read(void* host, const void* dev, size_t bytes, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    ++reads;
    if (profile_) profile_->Begin();
    // Through the thread's page-locked chunks unless CELLCAM_CUDA_READBACK=pageable.
    const bool ok = cudautil::Download(host, dev, bytes, s_, "kernels, then the device to host read", error_, cudautil::PinnedReadBack());
    if (profile_) profile_->End("read", file, line, static_cast<int64_t>(bytes));
    return ok;
  }

  bool ExclusiveSum(const int32_t* in, int32_t* out, int64_t n, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    if (profile_) profile_->Begin();
    // Small sums in one launch of one block (most are a generation's pops or a level table),
    // where cub's device scan is two launches and a temporary allocation.
    bool ok = true;
    if (n <= kInBlockScanMax && cudautil::BlockSortEnabled()) {
      ++launches;
      InBlockKernel<<<1, kInBlockThreads, 0, s_>>>(ScanBody{parallel::ScanPhase{in, out, n}});
      ok = cudautil::Ok(cudaGetLastError(), "block scan launch", error_);
    } else {
      ok = cudautil::ExclusiveSum(in, out, n, s_, error_);
    }
    if (profile_) profile_->End("scan", file, line, n);
    return ok;
  }

  int SortPairs(uint64_t* keys, uint64_t* keysAlt, int32_t* vals, int32_t* valsAlt, int64_t m, uint64_t maxKey,
                const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    if (profile_) profile_->Begin();
    int which = -1;
    if (m <= cudautil::kBlockSortMax && cudautil::BlockSortEnabled()) {
      ++launches;
      cudautil::BlockSortPairsKernel<cudautil::kBlockSortThreads, cudautil::kBlockSortItems><<<1, cudautil::kBlockSortThreads, 0, s_>>>(
          keys, vals, keysAlt, valsAlt, static_cast<int>(m), cudautil::KeyBits(maxKey, 64));
      which = cudautil::Ok(cudaGetLastError(), "block sort launch", error_) ? 1 : -1;
    } else {
      cub::DoubleBuffer<uint64_t> k(keys, keysAlt);
      cub::DoubleBuffer<int32_t> v(vals, valsAlt);
      which = cudautil::SortPairs(k, v, m, maxKey, s_, error_) ? k.selector : -1;
    }
    if (profile_) profile_->End("sort", file, line, m);
    return which;
  }

 private:
  // Blocks for n threads, at most those the device runs at once (2048 threads per SM): the
  // striding kernels cover the rest.
  static unsigned GridBlocks(int64_t n) {
    thread_local int device = -1;
    thread_local int64_t cap = 0;
    int d = 0;
    cudaGetDevice(&d);
    if (d != device || cap == 0) {
      int sms = 0;
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, d);
      device = d;
      cap = std::max<int64_t>(1, int64_t{sms} * (2048 / kExecBlock));
    }
    return static_cast<unsigned>(std::min<int64_t>((n + kExecBlock - 1) / kExecBlock, cap));
  }

  cudaStream_t s_;
  std::string* error_;
  std::vector<std::unique_ptr<cudautil::DeviceBuffer>> buffers_;
  std::unique_ptr<cudautil::DeviceBuffer> tickets_;  // ForThen's ticket counter, 0 between launches
  std::unique_ptr<StepProfile> profile_;  // declared last: reports (after a sync) before the buffers go
};

}  // namespace gpu
}  // namespace cellcam
