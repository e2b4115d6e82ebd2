// CUDA half of cell RLE: every cell's column-major runs in one pass over the label image (run
// boundary events, compacted in column-major order, stably sorted by cell); rle.cc encodes them.
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "../gpu.h"
#include "cuda_util.cuh"

namespace cellcam {
namespace gpu {
namespace {

using cudautil::Alloc;
using cudautil::DeviceBuffer;
using cudautil::Ok;

// Rows per thread: one thread walks a band of one column, so a warp reads 32 adjacent columns of a
// row at a time (coalesced) while the walk itself follows the column-major order.
constexpr int32_t kBand = 64;
constexpr int kThreads = 128;

// In column-major order j = x*H + y, a cell's runs are the maximal spans of equal value; a span
// starts where the previous pixel in that order differs and ends where the next one differs. The
// previous of (x, 0) is (x-1, H-1), which is how runs continue across columns as in pycocotools.
// Out of the image is 0, never a cell. Each valid pixel of id v emits a start event (j) and/or an
// end event (j + 1, exclusive), start first. kWrite = false counts events per band; true writes
// them at the band's offset, so the compacted list is in column-major order with starts and ends
// of each cell alternating.
template <typename T, bool kWrite>
__global__ void BandKernel(const T* L, int32_t W, int32_t H, int32_t nBands, int64_t cells, int64_t* counts,
                           const int64_t* offsets, uint32_t* keys, int32_t* events, int32_t* bad) {
  const int32_t x = static_cast<int32_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int32_t b = static_cast<int32_t>(blockIdx.y);
  if (x >= W) return;
  const int32_t y0 = b * kBand, y1 = min(H, y0 + kBand);
  const int64_t w = W;
  auto at = [&](int32_t xx, int32_t yy) -> int64_t { return static_cast<int64_t>(L[static_cast<int64_t>(yy) * w + xx]); };
  int64_t prev = y0 > 0 ? at(x, y0 - 1) : (x > 0 ? at(x - 1, H - 1) : 0);
  int64_t v = at(x, y0);
  const int64_t slot = static_cast<int64_t>(x) * nBands + b;
  int64_t k = kWrite ? offsets[slot] : 0;
  int32_t minBad = INT_MAX;
  for (int32_t y = y0; y < y1; ++y) {
    const int64_t next = y + 1 < H ? at(x, y + 1) : (x + 1 < W ? at(x + 1, 0) : 0);
    if (v != 0) {
      const int32_t j = static_cast<int32_t>(static_cast<int64_t>(x) * H + y);
      if (v < 0 || v > cells) {
        // The first offending pixel in column-major order starts a span (its predecessor is
        // either another value or offending with a smaller j), so span starts suffice.
        if (!kWrite && prev != v && j < minBad) minBad = j;
      } else {
        if (prev != v) {
          if (kWrite) {
            keys[k] = static_cast<uint32_t>(v);
            events[k] = j;
          }
          ++k;
        }
        if (next != v) {
          if (kWrite) {
            keys[k] = static_cast<uint32_t>(v);
            events[k] = j + 1;
          }
          ++k;
        }
      }
    }
    prev = v;
    v = next;
  }
  if (!kWrite) {
    counts[slot] = k;
    if (minBad != INT_MAX) atomicMin(bad, minBad);
  }
}

template <typename T>
bool RleTyped(const T* host, int64_t width, int64_t height, int64_t cells, std::vector<int32_t>* first,
              std::vector<int32_t>* pos, std::vector<int32_t>* len, int64_t* badJ, int32_t* badV, Timings* timings,
              std::string* error) {
  const int64_t n = width * height;
  *badJ = -1;
  *badV = 0;
  first->assign(static_cast<size_t>(cells + 2), 0);
  pos->clear();
  len->clear();
  if (n > (int64_t{1} << 30)) {
    *error = "rle: image too large";
    return false;
  }
  cudaStream_t s;
  if (!cudautil::Begin(&s, error)) return false;
  cudautil::PhaseClock clock(s, timings);
  const int32_t W = static_cast<int32_t>(width), H = static_cast<int32_t>(height);
  const int32_t nBands = (H + kBand - 1) / kBand;
  const int64_t slots = width * nBands;
  DeviceBuffer dL, dCounts, dOffsets, dBad;
  if (!Alloc(dL, n * sizeof(T), s, "cudaMallocAsync(labels)", error) ||
      !Alloc(dCounts, slots * sizeof(int64_t), s, "cudaMallocAsync(counts)", error) ||
      !Alloc(dOffsets, slots * sizeof(int64_t), s, "cudaMallocAsync(offsets)", error) ||
      !Alloc(dBad, sizeof(int32_t), s, "cudaMallocAsync(bad)", error) ||
      // 0x7f bytes: a big positive sentinel that atomicMin lowers (any j < 0x7f7f7f7f, n <= 2^30)
      !Ok(cudaMemsetAsync(dBad.ptr, 0x7f, sizeof(int32_t), s), "cudaMemsetAsync(bad)", error)) {
    return false;
  }
  clock.Skip();
  if (!cudautil::Upload(dL.ptr, host, n * sizeof(T), s, "cudaMemcpyAsync(labels)", error)) return false;
  clock.Mark(&Timings::uploadMs);
  const T* L = static_cast<const T*>(dL.ptr);
  int64_t* counts = static_cast<int64_t*>(dCounts.ptr);
  int64_t* offsets = static_cast<int64_t*>(dOffsets.ptr);
  int32_t* bad = static_cast<int32_t*>(dBad.ptr);
  const dim3 grid(static_cast<unsigned>((W + kThreads - 1) / kThreads), static_cast<unsigned>(nBands));
  BandKernel<T, false><<<grid, kThreads, 0, s>>>(L, W, H, nBands, cells, counts, nullptr, nullptr, nullptr, bad);
  if (!Ok(cudaGetLastError(), "rle count launch", error)) return false;

  if (!cudautil::ExclusiveSum(counts, offsets, slots, s, error)) return false;
  // The event count sizes the next allocations: the one host round trip inside the call.
  int64_t lastOffset = 0, lastCount = 0;
  int32_t badHost = INT_MAX;
  if (!Ok(cudaMemcpyAsync(&lastOffset, offsets + slots - 1, sizeof(int64_t), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(total)", error) ||
      !Ok(cudaMemcpyAsync(&lastCount, counts + slots - 1, sizeof(int64_t), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(total)", error) ||
      !Ok(cudaMemcpyAsync(&badHost, bad, sizeof(int32_t), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(bad)", error) ||
      !Ok(cudaStreamSynchronize(s), "rle count", error)) {
    return false;
  }
  if (badHost != 0x7f7f7f7f) {
    const int64_t x = badHost / height, y = badHost % height;
    T v;
    if (!cudautil::ReadScalar(&v, L + y * width + x, s, "cudaMemcpyAsync(bad value)", error)) return false;
    *badJ = badHost;
    *badV = static_cast<int32_t>(v);
    return true;
  }
  const int64_t total = lastOffset + lastCount;  // even: every run has one start and one end
  if (total > INT32_MAX) {
    *error = "rle: too many runs for one launch";
    return false;
  }
  if (total == 0) return true;

  DeviceBuffer dKeys0, dKeys1, dEv0, dEv1;
  if (!Alloc(dKeys0, total * sizeof(uint32_t), s, "cudaMallocAsync(keys)", error) ||
      !Alloc(dKeys1, total * sizeof(uint32_t), s, "cudaMallocAsync(keys)", error) ||
      !Alloc(dEv0, total * sizeof(int32_t), s, "cudaMallocAsync(events)", error) ||
      !Alloc(dEv1, total * sizeof(int32_t), s, "cudaMallocAsync(events)", error)) {
    return false;
  }
  BandKernel<T, true><<<grid, kThreads, 0, s>>>(L, W, H, nBands, cells, nullptr, offsets, static_cast<uint32_t*>(dKeys0.ptr),
                                          static_cast<int32_t*>(dEv0.ptr), bad);
  if (!Ok(cudaGetLastError(), "rle write launch", error)) return false;
  // LSD radix sort is stable: each cell keeps the column-major order of its events.
  cub::DoubleBuffer<uint32_t> keys(static_cast<uint32_t*>(dKeys0.ptr), static_cast<uint32_t*>(dKeys1.ptr));
  cub::DoubleBuffer<int32_t> events(static_cast<int32_t*>(dEv0.ptr), static_cast<int32_t*>(dEv1.ptr));
  if (!cudautil::SortPairs(keys, events, total, static_cast<uint64_t>(cells), s, error)) return false;
  clock.Mark(&Timings::kernelMs);
  std::vector<uint32_t> k(static_cast<size_t>(total));
  std::vector<int32_t> e(static_cast<size_t>(total));
  if (!cudautil::Download(k.data(), keys.Current(), total * sizeof(uint32_t), s, "cudaMemcpyAsync(keys)", error) ||
      !cudautil::Download(e.data(), events.Current(), total * sizeof(int32_t), s, "cudaMemcpyAsync(events)", error)) {
    return false;
  }
  clock.Mark(&Timings::downloadMs);
  const int64_t runs = total / 2;
  pos->resize(static_cast<size_t>(runs));
  len->resize(static_cast<size_t>(runs));
  for (int64_t r = 0; r < runs; ++r) {
    ++(*first)[k[2 * r] + 1];
    (*pos)[r] = e[2 * r];
    (*len)[r] = e[2 * r + 1] - e[2 * r];
  }
  for (int64_t c = 0; c <= cells; ++c) (*first)[c + 1] += (*first)[c];
  return true;
}

}  // namespace

bool RleRuns(const void* labels, Dtype dtype, int64_t width, int64_t height, int64_t cells, std::vector<int32_t>* first,
             std::vector<int32_t>* pos, std::vector<int32_t>* len, int64_t* badJ, int32_t* badV, Timings* timings,
             std::string* error) {
  if (dtype == Dtype::U16) {
    return RleTyped(static_cast<const uint16_t*>(labels), width, height, cells, first, pos, len, badJ, badV, timings, error);
  }
  return RleTyped(static_cast<const int32_t*>(labels), width, height, cells, first, pos, len, badJ, badV, timings, error);
}

}  // namespace gpu
}  // namespace cellcam
