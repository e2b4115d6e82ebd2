// PLACEHOLDER: replaced by the pool implementation.
#include "common.h"
#include "kernels.h"
namespace cellcam {
Napi::Value Pool(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "pool: not implemented yet").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
}  // namespace cellcam
