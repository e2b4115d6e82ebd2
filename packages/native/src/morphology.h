// The morphology primitives of the HPA post-processing (scikit-image 0.19 / scipy semantics) as plain
// C++ functions, for the `morphology` entry point and for label_cell.cc's single-worker chain.
#pragma once

#include <cstdint>
#include <vector>

#include "scratch.h"

namespace cellcam {
namespace morph {

// An uninitialised buffer (std::vector would zero it: a pass over memory that is overwritten
// anyway), from the scratch cache (scratch.h).
template <typename T>
Scratch<T> Buffer(int64_t n) {
  return Scratch<T>(static_cast<size_t>(n > 0 ? n : 1));
}

// Half-widths of the rows of skimage.morphology.disk(r): largest dx with dx² + dy² <= r², dy = -r..r.
std::vector<int32_t> DiskHalfWidths(int radius);

// out[i] = in[i*channels + channel] / divisor > value, in double (numpy's `pred / 255 > t`).
// T: uint8_t, uint16_t, float, double. Returns the number of pixels set.
template <typename T>
int64_t Threshold(const T* in, uint8_t* out, int64_t n, int channels, int channel, double divisor, double value, int threads);

// remove_small_objects on a bool mask: components (4/8-connected) of < minSize pixels removed,
// out is 0/1 and may alias in. Returns the components kept.
int64_t RemoveSmallObjectsBinary(const uint8_t* in, uint8_t* out, int64_t width, int64_t height, int connectivity,
                                 int64_t minSize, int threads);

// remove_small_objects on a label image: labels with < minSize pixels (anywhere) become 0; out may
// alias in. T: uint8_t, uint16_t, int32_t (a negative value throws CELLCAM_E_RANGE naming `name`).
// Returns the labels kept.
template <typename T>
int64_t RemoveSmallObjectsLabels(const T* in, T* out, int64_t n, int64_t minSize, const char* name = "input");

// remove_small_holes: background components (4/8-connected) of < areaThreshold pixels become 1;
// out is 0/1 and may alias in. Returns the holes filled.
int64_t RemoveSmallHoles(const uint8_t* in, uint8_t* out, int64_t width, int64_t height, int connectivity,
                         int64_t areaThreshold, int threads);

// ndi.binary_erosion with the 3×3 cross (4) or square (8); outside pixels are borderValue.
void BinaryErosion(const uint8_t* in, uint8_t* out, int64_t width, int64_t height, int connectivity, bool borderValue,
                   int threads);

// ndi.binary_fill_holes: background not 4-connected to the border becomes 1. out may alias in.
void BinaryFillHoles(const uint8_t* in, uint8_t* out, int64_t width, int64_t height, int threads);

// find_boundaries(mode='thick', connectivity=1): 1 where an in-image 4-neighbour differs.
// T: uint8_t, uint16_t, int32_t. out must not alias in.
template <typename T>
void FindBoundaries(const T* in, uint8_t* out, int64_t width, int64_t height, int threads);

enum class GreyOp { kDilation, kErosion, kClosing, kOpening };

// Grey morphology with the flat disk(radius) footprint, outside pixels ignored (= ndimage 'reflect'
// for this symmetric footprint). T: uint8_t, uint16_t, int32_t. out must not alias in.
template <typename T>
void Grey(const T* in, T* out, int64_t width, int64_t height, int radius, GreyOp op, int threads);

// skimage 0.19 threshold_otsu(in / divisor) on the float64 values (256 bins over [min, max]).
// T: uint8_t, uint16_t, double (finite). n >= 1.
template <typename T>
double Otsu(const T* in, int64_t n, double divisor);

// The same threshold from a histogram of integer values: bins[v] pixels of value v (v < nbins).
double OtsuFromHistogram(const int64_t* bins, int64_t nbins, double divisor);

}  // namespace morph
}  // namespace cellcam
