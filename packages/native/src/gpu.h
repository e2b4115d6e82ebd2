// Run-time CUDA discovery. Implemented in cuda/device.cu when built with CUDA, else gpu_stub.cc.
// One binary serves both: a CUDA build on a machine without a driver reports 0 devices and why.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace cellcam {
struct LabelCellConstants;  // label_cell.h

struct GpuInfo {
  bool compiled = false;          // built with nvcc
  int devices = 0;                // usable devices (0 when none or when the runtime failed)
  std::string reason;             // why devices == 0, or "" when a device is usable
  int runtimeVersion = 0;         // cudaRuntimeGetVersion, 0 when not compiled
  int driverVersion = 0;          // cudaDriverGetVersion, 0 when unknown
  std::vector<std::string> names; // device names
  std::vector<double> memory;     // their global memory in bytes
};
// Probed once per process and cached (thread-safe).
const GpuInfo& Gpu();

namespace gpu {
// A switch of the CUDA paths (README, "Development"): on unless the environment variable `name`
// equals `off`. Read per call, so that one process can time a path and the one it replaced.
inline bool SwitchOn(const char* name, const char* off) {
  const char* v = std::getenv(name);
  return v == nullptr || std::strcmp(v, off) != 0;
}

// A number setting of the CUDA paths: the environment variable `name` when it is an integer in
// [lo, hi], else `fallback` (read per call, as the switches are).
inline int64_t Setting(const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  return *end == '\0' && x >= lo && x <= hi ? x : fallback;
}

// Where one CUDA call's wall-clock time went (ms): the whole call (set by the worker), copies to
// and from the device, and device work (kernels, scans, sorts; cudautil::PhaseClock). The rest is
// host work (tables, allocation, string encoding): JS gets it as `hostMs` (TimingsObject).
struct Timings {
  double totalMs = 0, uploadMs = 0, kernelMs = 0, downloadMs = 0;
};

// The CUDA watershed's host loop: levels flooded, generations popped, line rounds, generations with
// bursts (cuda/watershed.cu).
struct WatershedStats {
  int64_t phases = 0, generations = 0, lineRounds = 0, burstGenerations = 0;
  int64_t placedGenerations = 0;  // of the generations: put in key order by counting, not sorted
  int64_t oneBlockGenerations = 0;  // of the generations: run whole in one launch of one block
  int64_t levelRuns = 0;            // launches that ran them (several generations each, up to a burst)
};

inline void AddWatershedStats(WatershedStats* to, const WatershedStats& from) {
  to->phases += from.phases;
  to->generations += from.generations;
  to->lineRounds += from.lineRounds;
  to->burstGenerations += from.burstGenerations;
  to->placedGenerations += from.placedGenerations;
  to->oneBlockGenerations += from.oneBlockGenerations;
  to->levelRuns += from.levelRuns;
}

// What the CUDA labelCell's three watersheds did (nuclei, cells, extension).
struct LabelCellStats {
  WatershedStats watersheds[3];
  int64_t launches = 0, reads = 0;  // of the whole chain: kernel launches (For), host round trips
  int64_t stacks = 0, outOfMemoryRetries = 0;  // how the batch ran (RunInStacks, label_cell.h)
};

// memcpy split over up to 8 threads for large copies (common.cc). The CUDA staging buffers go
// through it: one thread copies ~10 GB/s, and the first write to a fresh output TypedArray
// faults its pages in, which several threads do in parallel.
void HostCopy(void* dst, const void* src, size_t bytes);
}  // namespace gpu

#if defined(CELLCAM_HAVE_CUDA)
// Kernels on CUDA device 0 (cuda/*.cu). Each returns false with a message naming the failed CUDA
// call (no device, old driver, out of memory, ...) so the caller can throw CELLCAM_E_CUDA.
namespace gpu {
enum class Dtype { U8, U16, I32 };

// Connected components with label.cc's semantics and output: labels 1..count in raster order of
// first pixels into `out` (may alias the input), sizes[k] pixels of label k (sizes[0] background).
bool Label(const void* input, Dtype dtype, int32_t* out, int64_t width, int64_t height, int connectivity, bool labelMode,
           std::vector<int32_t>* sizes, int64_t* count, Timings* timings, std::string* error);

// The seeded watershed in 'fifo' order on U8/U16 elevation (cuda/watershed.cu, the flood of
// watershed_levels.h): labels equal to watershed.cc's FloodFifo into `out` (may alias markers),
// with or without a watershed line. Markers must be >= 0 (the caller checks).
bool Watershed(const void* elevation, Dtype dtype, const int32_t* markers, const uint8_t* mask, int32_t* out, int64_t width,
               int64_t height, int connectivity, bool watershedLine, WatershedStats* stats, Timings* timings, std::string* error);

// label_cell's chain at the working resolution (LabelCellCore of label_cell.cc, 'fifo' ties) on the
// device (cuda/label_cell.cu): interleaved W×H×3 predictions in, uint16 label images out, one host
// pointer per image (each image is copied straight into, and out of, its place in the device's
// stack). Returns the cell count, or -1 with *error naming the failed CUDA call. The `images`
// images go through one chain (lcpar::LabelCellChain), and counts[b] gets image b's cell count
// (the return value is their sum).
int64_t LabelCellCore(const uint8_t* const* nucleiPreds, const uint8_t* const* cellPreds, int64_t width, int64_t height,
                      const LabelCellConstants& constants, uint16_t* const* nuclei, uint16_t* const* cells, LabelCellStats* stats,
                      Timings* timings, std::string* error, int64_t images, int64_t* counts);

// The device's memory bandwidth as a device-to-device copy reaches it: `reps` copies of `bytes`
// after one warm-up, timed with events; *bytesPerSecond counts each byte read and written (the
// bench's floor for a kernel is the bytes it must read and write divided by this).
bool CopyBandwidth(int64_t bytes, int reps, double* bytesPerSecond, std::string* error);

// Column-major runs of every cell of a U16/I32 label image, as rle.cc's encoder takes them: the runs
// of cell id are [first[id], first[id + 1]) (first has cells + 2 entries), each a maximal span
// [pos, pos + len) of linear column-major indices j = x*height + y, in increasing j. An id outside
// [0, cells] sets *badJ to the first offending j (else -1) and *badV to its value; returns true.
bool RleRuns(const void* labels, Dtype dtype, int64_t width, int64_t height, int64_t cells, std::vector<int32_t>* first,
             std::vector<int32_t>* pos, std::vector<int32_t>* len, int64_t* badJ, int32_t* badV, Timings* timings,
             std::string* error);
}  // namespace gpu
#endif
}  // namespace cellcam
