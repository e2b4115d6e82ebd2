// CUDA labelCell: the post-processing chain of label_cell_parallel.h ('fifo' watershed ties) on
// the device, one upload of the two predictions and one download of the two label images; outputs
// equal label_cell.cc's chain with tieBreak 'fifo'.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "../gpu.h"
#include "../label_cell_parallel.h"
#include "cuda_util.cuh"
#include "device_exec.cuh"

namespace cellcam {
namespace gpu {

int64_t LabelCellCore(const uint8_t* hostNp, const uint8_t* hostCp, int64_t W, int64_t H, const LabelCellConstants& k,
                      uint16_t* hostNuclei, uint16_t* hostCells, LabelCellStats* stats, Timings* timings, std::string* error) {
  const int64_t n = W * H;
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
  if (!cudautil::Upload(np, hostNp, 3 * n, s, "cudaMemcpyAsync(nucleiPred)", error) ||
      !cudautil::Upload(cp, hostCp, 3 * n, s, "cudaMemcpyAsync(cellPred)", error)) {
    return -1;
  }
  clock.Mark(&Timings::uploadMs);
  lcpar::ChainStats st;
  if (!lcpar::LabelCellChain(ex, np, cp, static_cast<int32_t>(W), static_cast<int32_t>(H), k, nuclei, cells, &st)) return -1;
  clock.Mark(&Timings::kernelMs);
  if (!cudautil::Download(hostNuclei, nuclei, n * sizeof(uint16_t), s, "cudaMemcpyAsync(nuclei)", error) ||
      !cudautil::Download(hostCells, cells, n * sizeof(uint16_t), s, "cudaMemcpyAsync(cells)", error)) {
    return -1;
  }
  clock.Mark(&Timings::downloadMs);
  stats->watersheds[0] = st.nuclei;
  stats->watersheds[1] = st.cells;
  stats->watersheds[2] = st.extension;
  stats->launches = ex.launches;
  stats->reads = ex.reads;
  return st.cellCount;
}

}  // namespace gpu
}  // namespace cellcam
