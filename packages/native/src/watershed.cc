// PLACEHOLDER: replaced by the watershed implementation.
#include "common.h"
#include "kernels.h"
namespace cellcam {
Napi::Value Watershed(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "watershed: not implemented yet").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
}  // namespace cellcam
