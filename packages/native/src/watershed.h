// C++ access to the seeded watershed of watershed.cc for kernels that chain it in one worker.
#pragma once
#include <node_api.h>

#include <cstdint>

namespace cellcam {

// Floods exactly like the `watershed` kernel (scikit-image 0.19 semantics): elevation data of type
// etype (napi_uint8_array, napi_uint16_array or napi_float32_array, finite), markers >= 0 (labels),
// mask nullptr = everywhere, out (width*height) may be `markers` itself. connectivity 4 or 8;
// heap = 'heap' tie-breaking (skimage's binary heap, bit-identical), else 'fifo'.
// Throws KernelError (CELLCAM_E_RANGE) on a negative marker or a non-finite float.
void WatershedFlood(const void* elevation, napi_typedarray_type etype, const int32_t* markers, const uint8_t* mask,
                    int32_t* out, int64_t width, int64_t height, int connectivity, bool watershedLine, bool heap);

}  // namespace cellcam
