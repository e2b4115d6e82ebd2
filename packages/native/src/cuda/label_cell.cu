// CUDA labelCell: the post-processing chain of label_cell_parallel.h ('fifo' watershed ties) on
// the device, one upload of the two predictions and one download of the two label images; outputs
// equal label_cell.cc's chain with tieBreak 'fifo'. A batch of images of one size runs as one
// stacked chain, sharing its launches and host round trips, or as several when the device's free
// memory does not hold it (RunInStacks, label_cell.h).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../gpu.h"
#include "../label_cell.h"
#include "../label_cell_parallel.h"
#include "cuda_util.cuh"
#include "device_exec.cuh"

namespace cellcam {
namespace gpu {

namespace {

// One stack of images through one chain: uploads, the chain, downloads. Out of memory leaves
// nothing written (the downloads come last), so the stack can run again in parts.
StackEnd RunStack(const LabelCellImages& at, int64_t W, int64_t H, const LabelCellConstants& k, LabelCellStats* stats, Timings* timings,
                  std::string* error, int64_t* counts) {
  const int64_t images = at.Count(), m = W * H, n = m * images;
  const auto fail = [&] {
    return error->find("cudaErrorMemoryAllocation") != std::string::npos ? StackEnd::kOutOfMemory : StackEnd::kFailed;
  };
  cudaStream_t s;
  if (!cudautil::Begin(&s, error)) return StackEnd::kFailed;
  cudautil::PhaseClock clock(s, timings);
  DeviceExec ex(s, error);  // frees its buffers (stream-ordered) on return
  uint8_t* np = ex.Alloc<uint8_t>(3 * n);
  uint8_t* cp = ex.Alloc<uint8_t>(3 * n);
  uint16_t* nuclei = ex.Alloc<uint16_t>(n);
  uint16_t* cells = ex.Alloc<uint16_t>(n);
  if (!np || !cp || !nuclei || !cells) return fail();
  clock.Skip();
  // Each image from its own host array into its rows of the stack: no stacking copy on the host.
  for (int64_t b = 0; b < images; ++b) {
    if (!cudautil::Upload(np + 3 * m * b, at.nucleiPreds[b], 3 * m, s, "cudaMemcpyAsync(nucleiPred)", error) ||
        !cudautil::Upload(cp + 3 * m * b, at.cellPreds[b], 3 * m, s, "cudaMemcpyAsync(cellPred)", error)) {
      return StackEnd::kFailed;
    }
  }
  clock.Mark(&Timings::uploadMs);
  lcpar::ChainStats st;
  const bool ok = lcpar::LabelCellChain(ex, np, cp, static_cast<int32_t>(W), static_cast<int32_t>(H * images), k, nuclei, cells, &st,
                                        static_cast<int32_t>(images));
  stats->launches += ex.launches;
  stats->reads += ex.reads;
  if (!ok) return fail();
  clock.Mark(&Timings::kernelMs);
  for (int64_t b = 0; b < images; ++b) {
    if (!cudautil::Download(at.nuclei[b], nuclei + m * b, m * sizeof(uint16_t), s, "cudaMemcpyAsync(nuclei)", error) ||
        !cudautil::Download(at.cells[b], cells + m * b, m * sizeof(uint16_t), s, "cudaMemcpyAsync(cells)", error)) {
      return StackEnd::kFailed;
    }
  }
  clock.Mark(&Timings::downloadMs);
  AddWatershedStats(&stats->watersheds[0], st.nuclei);
  AddWatershedStats(&stats->watersheds[1], st.cells);
  AddWatershedStats(&stats->watersheds[2], st.extension);
  std::copy(st.cellCounts.begin(), st.cellCounts.end(), counts);
  return StackEnd::kDone;
}

}  // namespace

int64_t LabelCellCore(const uint8_t* const* hostNp, const uint8_t* const* hostCp, int64_t W, int64_t H, const LabelCellConstants& k,
                      uint16_t* const* hostNuclei, uint16_t* const* hostCells, LabelCellStats* stats, Timings* timings, std::string* error,
                      int64_t images, int64_t* counts) {
  // As many images per stack as the free memory holds (the pool's idle blocks count as free:
  // cudaMallocAsync reuses them); a stack that still runs out runs again in halves.
  cudaStream_t s;
  double available = 0;
  if (!cudautil::Begin(&s, error)) return -1;
  if (!cudautil::AvailableBytes(&available, error)) return -1;
  // A cap of the user's (a GPU shared with a training job): the plan uses at most that much.
  const int64_t capMib = Setting("CELLCAM_CUDA_MEMORY_MB", 0, 1, int64_t{1} << 30);
  if (capMib > 0) available = std::min(available, static_cast<double>(capMib) * 1024 * 1024);
  const LabelCellImages io{{hostNp, hostNp + images}, {hostCp, hostCp + images}, {hostNuclei, hostNuclei + images}, {hostCells, hostCells + images}};
  const int64_t perStack = ImagesPerStack(images, W * H, available, lcpar::kDeviceBytesPerPixel);
  StackStats plan;
  const StackEnd end = RunInStacks([&](const LabelCellImages& part, int64_t* cc) { return RunStack(part, W, H, k, stats, timings, error, cc); },
                                   io, perStack, counts, &plan);
  stats->stacks += plan.stacks;
  stats->outOfMemoryRetries += plan.retries;
  if (end == StackEnd::kOutOfMemory) *error = OutOfDeviceMemory(W, H, lcpar::kDeviceBytesPerPixel, available, *error);
  if (end != StackEnd::kDone) return -1;
  int64_t total = 0;
  for (int64_t b = 0; b < images; ++b) total += counts[b];
  return total;
}

}  // namespace gpu
}  // namespace cellcam
