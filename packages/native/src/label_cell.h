// The HPA post-processing (hpacellseg 0.1.8 label_cell / label_nuclei, scikit-image 0.19 semantics)
// as plain C++ over caller-owned buffers; label_cell.cc runs it in one worker.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

namespace cellcam {

// label_cell's size and radius constants at a scale (area constants × s², radius round(6 s), numpy
// rounding): seeds, holes, mask objects, nuclei and cells (pixels), and the closing radius.
struct LabelCellConstants {
  int64_t seedMinSize, holeArea, maskMinSize, nucleusMinSize, cellMinSize;
  int closingRadius;
};
LabelCellConstants LabelCellConstantsFor(double scale);

// label_cell on interleaved H×W×3 uint8 predictions (channel 1 = border, 2 = interior). scale 1
// is exact; 0.5 / 0.25 run at reduced resolution (block-mean downscale, area constants × s²,
// closing radius round(6 s), labels replicated back). threads >= 1 for the parallel steps (the
// output never depends on it). heap: skimage's heap order for watershed seeds of equal level
// (exact); false: raster order (faster, may differ in tied pixels). Returns the cell count.
int64_t LabelCellRun(const uint8_t* nucleiPred, const uint8_t* cellPred, uint16_t* nuclei, uint16_t* cells,
                     int64_t width, int64_t height, double scale, int threads, bool heap = true);

// One batch's buffers, one pointer per image of width × height (predictions interleaved × 3): the
// caller's own arrays, so that a batch is neither stacked nor split on the host.
struct LabelCellImages {
  std::vector<const uint8_t*> nucleiPreds, cellPreds;
  std::vector<uint16_t*> nuclei, cells;
  int64_t Count() const { return static_cast<int64_t>(nuclei.size()); }
  // The images of arrays that hold `images` images of `pixels` pixels each, one after another.
  static LabelCellImages Stacked(const uint8_t* nucleiPreds, const uint8_t* cellPreds, uint16_t* nuclei, uint16_t* cells, int64_t pixels,
                                 int64_t images) {
    LabelCellImages io;
    for (int64_t b = 0; b < images; ++b) {
      io.nucleiPreds.push_back(nucleiPreds + 3 * pixels * b);
      io.cellPreds.push_back(cellPreds + 3 * pixels * b);
      io.nuclei.push_back(nuclei + pixels * b);
      io.cells.push_back(cells + pixels * b);
    }
    return io;
  }
  // Images [first, first + count).
  LabelCellImages Slice(int64_t first, int64_t count) const {
    const auto part = [&](const auto& v) { return std::decay_t<decltype(v)>(v.begin() + first, v.begin() + first + count); };
    return LabelCellImages{part(nucleiPreds), part(cellPreds), part(nuclei), part(cells)};
  }
};

// The chain at the working resolution, on the images of `io` (w × h each): core(io, w, h,
// constants, counts) writes each image's labels and cell count and returns false on failure. The
// CUDA chain (one stacked chain on the device for a batch) and its emulation plug in here;
// LabelCellRun plugs in the CPU chain.
using LabelCellCoreFn = std::function<bool(const LabelCellImages&, int64_t, int64_t, const LabelCellConstants&, int64_t*)>;
// LabelCellRun's host part around `core`, for the width × height images of `io`: at scale 1 the
// core works on the caller's buffers; else each image is downscaled into a working buffer and its
// labels replicated back, on up to `threads` threads. False when the core failed.
bool LabelCellRunOn(const LabelCellCoreFn& core, const LabelCellImages& io, int64_t width, int64_t height, double scale, int64_t* counts,
                    int threads);

// A batch on a device whose memory may not hold it at once. `run` runs the chain on a stack of
// images and says how it ended: done (labels and counts written), out of device memory (nothing
// written; run again smaller) or failed (the caller keeps the error).
enum class StackEnd { kDone, kOutOfMemory, kFailed };
using LabelCellStackFn = std::function<StackEnd(const LabelCellImages&, int64_t* counts)>;
struct StackStats {
  int64_t stacks = 0;   // stacks that ran to the end
  int64_t retries = 0;  // attempts that ran out of memory
};
// The images of `io` in order, in stacks of at most `perStack`; a stack that runs out of memory
// runs again as halves (and so do the stacks after it), down to one image. kDone, or how the first
// stack that could not be run ended (kOutOfMemory: one image alone did not fit).
StackEnd RunInStacks(const LabelCellStackFn& run, const LabelCellImages& io, int64_t perStack, int64_t* counts, StackStats* stats);
// The images of `pixels` pixels each that `availableBytes` of device memory hold in one stack at
// `bytesPerPixel`: from 1 to `images`.
int64_t ImagesPerStack(int64_t images, int64_t pixels, double availableBytes, double bytesPerPixel);
// The error of an image that does not fit alone: its size, the memory it needs, what was free.
std::string OutOfDeviceMemory(int64_t width, int64_t height, double bytesPerPixel, double availableBytes, const std::string& cause);

// label_nuclei (hpa-spec §4.2) on an interleaved H×W×3 uint8 prediction. Returns the nucleus count.
int64_t LabelNucleiRun(const uint8_t* nucleiPred, uint16_t* nuclei, int64_t width, int64_t height, int threads, bool heap = true);

}  // namespace cellcam
