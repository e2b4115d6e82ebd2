// PLACEHOLDER: replaced by the label implementation.
#include "common.h"
#include "kernels.h"
namespace cellcam {
Napi::Value Label(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "label: not implemented yet").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
}  // namespace cellcam
