// C++ access to the connected-component labelling of label.cc for kernels that chain it in one worker.
#pragma once
#include <node_api.h>

#include <cstdint>
#include <vector>

namespace cellcam {

// Labels `input` (napi_uint8_array / napi_uint16_array / napi_int32_array data, width*height values)
// into `out` (may alias an Int32 input): labels 1..count in raster order of first pixels, exactly as
// the `label` kernel. sizes[k] = pixels of label k (sizes[0] = background). connectivity 4 or 8;
// labelMode joins equal nonzero values only; threads 0 = automatic. Returns count.
int64_t LabelComponents(const void* input, napi_typedarray_type type, int32_t* out, int64_t width, int64_t height,
                        int connectivity, bool labelMode, int threads, std::vector<int32_t>& sizes);

}  // namespace cellcam
