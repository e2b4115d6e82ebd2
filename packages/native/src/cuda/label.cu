// CUDA connected-component labelling: pixel union-find with atomicMin (Playne & Hawick 2018), then a
// raster-order relabel (roots are first pixels; a scan of root flags numbers them) equal to label.cc.
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "../gpu.h"
#include "../parallel_ops.h"
#include "cuda_util.cuh"

namespace cellcam {
namespace gpu {
namespace {

using cudautil::Alloc;
using cudautil::DeviceBuffer;
using cudautil::Ok;
using parallel::Find;
using parallel::Union;

constexpr int kBlock = 256;

unsigned Blocks(int64_t n) { return static_cast<unsigned>((n + kBlock - 1) / kBlock); }

// Whether two pixel values belong to one component when adjacent: binary mode joins any two nonzero
// values, label mode equal nonzero values (negative Int32 ids included), exactly as label.cc.
template <typename T, bool kLabelMode>
__device__ __forceinline__ bool Joins(T a, T b) {
  return kLabelMode ? (a == b && a != 0) : (a != 0 && b != 0);
}

__global__ void InitKernel(int32_t* parent, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) parent[i] = static_cast<int32_t>(i);
}

// Each foreground pixel joins its earlier neighbours (left, up, and for 8-connectivity up-left and
// up-right). Neighbours already linked through another union are skipped: when `up` joins, up-left
// and up-right join `up` itself (they are its horizontal neighbours and join is transitive); when
// `left` joins, up-left joins `left` through left's own `up` union.
template <typename T, bool kLabelMode, bool k8>
__global__ void MergeKernel(const T* in, int32_t* parent, int32_t width, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const T v = in[i];
  if (v == 0) return;
  const int32_t x = static_cast<int32_t>(i % width);
  const int64_t y = i / width;
  const int32_t me = static_cast<int32_t>(i);
  const bool left = x > 0 && Joins<T, kLabelMode>(v, in[i - 1]);
  if (left) Union(parent, me, me - 1);
  if (y == 0) return;
  const int64_t u = i - width;
  const bool up = Joins<T, kLabelMode>(v, in[u]);
  if (up) Union(parent, me, static_cast<int32_t>(u));
  if (!k8 || up) return;
  if (!left && x > 0 && Joins<T, kLabelMode>(v, in[u - 1])) Union(parent, me, static_cast<int32_t>(u - 1));
  if (x + 1 < width && Joins<T, kLabelMode>(v, in[u + 1])) Union(parent, me, static_cast<int32_t>(u + 1));
}

// Points every foreground pixel at its root and flags the roots (1 at a component's first pixel).
template <typename T>
__global__ void CompressKernel(const T* in, int32_t* parent, int32_t* rootFlag, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  if (in[i] == 0) {
    rootFlag[i] = 0;
    return;
  }
  const int32_t r = Find(parent, static_cast<int32_t>(i));
  parent[i] = r;
  rootFlag[i] = r == static_cast<int32_t>(i) ? 1 : 0;
}

// out = 1 + (roots before this pixel's root in raster order); sizes by warp-aggregated atomics
// (one atomicAdd per distinct label per warp; integer sums, so the order does not matter).
template <typename T>
__global__ void RelabelKernel(const T* in, const int32_t* parent, const int32_t* rank, int32_t* out, int32_t* sizes,
                              int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int32_t lab = -1;  // lanes past the end take part in the warp vote with a key no pixel has
  if (i < n) {
    lab = in[i] == 0 ? 0 : rank[parent[i]] + 1;
    out[i] = lab;
  }
  const unsigned peers = __match_any_sync(0xffffffffu, lab);
  const int lane = static_cast<int>(threadIdx.x & 31);
  if (lab >= 0 && lane == __ffs(peers) - 1) atomicAdd(sizes + lab, __popc(peers));
}

template <typename T, bool kLabelMode>
void LaunchMerge(const T* in, int32_t* parent, int32_t width, int64_t n, bool eight, cudaStream_t s) {
  if (eight) MergeKernel<T, kLabelMode, true><<<Blocks(n), kBlock, 0, s>>>(in, parent, width, n);
  else MergeKernel<T, kLabelMode, false><<<Blocks(n), kBlock, 0, s>>>(in, parent, width, n);
}

template <typename T>
bool LabelTyped(const T* host, int32_t* out, int64_t width, int64_t height, int connectivity, bool labelMode,
                std::vector<int32_t>* sizes, int64_t* count, Timings* timings, std::string* error) {
  const int64_t n = width * height;
  if (n > INT32_MAX) {
    *error = "label: image too large for 32-bit pixel indices";
    return false;
  }
  cudaStream_t s;
  if (!cudautil::Begin(&s, error)) return false;
  cudautil::PhaseClock clock(s, timings);
  DeviceBuffer dIn, dParent, dFlag, dRank, dSizes;
  if (!Alloc(dIn, n * sizeof(T), s, "cudaMallocAsync(input)", error) ||
      !Alloc(dParent, n * sizeof(int32_t), s, "cudaMallocAsync(parent)", error) ||
      !Alloc(dFlag, n * sizeof(int32_t), s, "cudaMallocAsync(labels)", error) ||
      !Alloc(dRank, n * sizeof(int32_t), s, "cudaMallocAsync(rank)", error)) {
    return false;
  }
  clock.Skip();
  if (!cudautil::Upload(dIn.ptr, host, n * sizeof(T), s, "cudaMemcpyAsync(input)", error)) return false;
  clock.Mark(&Timings::uploadMs);
  const T* in = static_cast<const T*>(dIn.ptr);
  int32_t* parent = static_cast<int32_t*>(dParent.ptr);
  int32_t* flag = static_cast<int32_t*>(dFlag.ptr);  // root flags, then the output labels
  int32_t* rank = static_cast<int32_t*>(dRank.ptr);
  const int32_t w = static_cast<int32_t>(width);

  InitKernel<<<Blocks(n), kBlock, 0, s>>>(parent, n);
  if (labelMode) LaunchMerge<T, true>(in, parent, w, n, connectivity == 8, s);
  else LaunchMerge<T, false>(in, parent, w, n, connectivity == 8, s);
  CompressKernel<T><<<Blocks(n), kBlock, 0, s>>>(in, parent, flag, n);
  if (!Ok(cudaGetLastError(), "label kernels launch", error)) return false;

  if (!cudautil::ExclusiveSum(flag, rank, n, s, error)) return false;
  // The count sizes the next allocation: the one host round trip inside the call.
  int32_t last[2] = {0, 0};
  if (!Ok(cudaMemcpyAsync(&last[0], rank + n - 1, sizeof(int32_t), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(count)", error) ||
      !Ok(cudaMemcpyAsync(&last[1], flag + n - 1, sizeof(int32_t), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(count)", error) ||
      !Ok(cudaStreamSynchronize(s), "label kernels", error)) {
    return false;
  }
  const int64_t c = static_cast<int64_t>(last[0]) + last[1];
  if (!Alloc(dSizes, (c + 1) * sizeof(int32_t), s, "cudaMallocAsync(sizes)", error) ||
      !Ok(cudaMemsetAsync(dSizes.ptr, 0, (c + 1) * sizeof(int32_t), s), "cudaMemsetAsync(sizes)", error)) {
    return false;
  }
  RelabelKernel<T><<<Blocks(n), kBlock, 0, s>>>(in, parent, rank, flag, static_cast<int32_t*>(dSizes.ptr), n);
  if (!Ok(cudaGetLastError(), "label relabel launch", error)) return false;
  clock.Mark(&Timings::kernelMs);
  sizes->assign(static_cast<size_t>(c + 1), 0);
  // `out` may alias the host input: it is written only now, after the input was uploaded.
  if (!cudautil::Download(out, flag, n * sizeof(int32_t), s, "cudaMemcpyAsync(labels)", error) ||
      !cudautil::Download(sizes->data(), dSizes.ptr, (c + 1) * sizeof(int32_t), s, "cudaMemcpyAsync(sizes)", error)) {
    return false;
  }
  clock.Mark(&Timings::downloadMs);
  *count = c;
  return true;
}

}  // namespace

bool Label(const void* input, Dtype dtype, int32_t* out, int64_t width, int64_t height, int connectivity, bool labelMode,
           std::vector<int32_t>* sizes, int64_t* count, Timings* timings, std::string* error) {
  switch (dtype) {
    case Dtype::U8:
      return LabelTyped(static_cast<const uint8_t*>(input), out, width, height, connectivity, labelMode, sizes, count, timings, error);
    case Dtype::U16:
      return LabelTyped(static_cast<const uint16_t*>(input), out, width, height, connectivity, labelMode, sizes, count, timings, error);
    default:
      return LabelTyped(static_cast<const int32_t*>(input), out, width, height, connectivity, labelMode, sizes, count, timings, error);
  }
}

}  // namespace gpu
}  // namespace cellcam
