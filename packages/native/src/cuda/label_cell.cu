// CUDA labelCell: the post-processing chain of label_cell_parallel.h ('fifo' watershed ties) on
// the device, one upload of the two predictions and one download of the two label images; outputs
// equal label_cell.cc's chain with tieBreak 'fifo'. A batch of images of one size runs as one
// stacked chain, sharing its launches and host round trips.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../gpu.h"
#include "../label_cell_parallel.h"
#include "cuda_util.cuh"
#include "device_exec.cuh"

namespace cellcam {
namespace gpu {

int64_t LabelCellCore(const uint8_t* const* hostNp, const uint8_t* const* hostCp, int64_t W, int64_t H, const LabelCellConstants& k,
                      uint16_t* const* hostNuclei, uint16_t* const* hostCells, LabelCellStats* stats, Timings* timings, std::string* error,
                      int64_t images, int64_t* counts) {
  const int64_t m = W * H, n = m * images;
  cudaStream_t s;
  if (!cudautil::Begin(&s, error)) return -1;
  cudautil::PhaseClock clock(s, timings);
  DeviceExec ex(s, error);  // frees its buffers (stream-ordered) on return
  uint8_t* np = ex.Alloc<uint8_t>(3 * n);
  uint8_t* cp = ex.Alloc<uint8_t>(3 * n);
  uint16_t* nuclei = ex.Alloc<uint16_t>(n);
  uint16_t* cells = ex.Alloc<uint16_t>(n);
  if (!np || !cp || !nuclei || !cells) return -1;
  clock.Skip();
  // Each image from its own host array into its rows of the stack: no stacking copy on the host.
  for (int64_t b = 0; b < images; ++b) {
    if (!cudautil::Upload(np + 3 * m * b, hostNp[b], 3 * m, s, "cudaMemcpyAsync(nucleiPred)", error) ||
        !cudautil::Upload(cp + 3 * m * b, hostCp[b], 3 * m, s, "cudaMemcpyAsync(cellPred)", error)) {
      return -1;
    }
  }
  clock.Mark(&Timings::uploadMs);
  lcpar::ChainStats st;
  if (!lcpar::LabelCellChain(ex, np, cp, static_cast<int32_t>(W), static_cast<int32_t>(H * images), k, nuclei, cells, &st,
                             static_cast<int32_t>(images))) {
    return -1;
  }
  clock.Mark(&Timings::kernelMs);
  for (int64_t b = 0; b < images; ++b) {
    if (!cudautil::Download(hostNuclei[b], nuclei + m * b, m * sizeof(uint16_t), s, "cudaMemcpyAsync(nuclei)", error) ||
        !cudautil::Download(hostCells[b], cells + m * b, m * sizeof(uint16_t), s, "cudaMemcpyAsync(cells)", error)) {
      return -1;
    }
  }
  clock.Mark(&Timings::downloadMs);
  stats->watersheds[0] = st.nuclei;
  stats->watersheds[1] = st.cells;
  stats->watersheds[2] = st.extension;
  stats->launches = ex.launches;
  stats->reads = ex.reads;
  std::copy(st.cellCounts.begin(), st.cellCounts.end(), counts);
  return st.cellCount;
}

}  // namespace gpu
}  // namespace cellcam
