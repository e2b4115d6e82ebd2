// PLACEHOLDER: replaced by the rle implementation.
#include "common.h"
#include "kernels.h"
namespace cellcam {
Napi::Value Rle(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "rle: not implemented yet").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
}  // namespace cellcam
