// Module entry: registers the kernels and the build/run-time introspection functions.
#include <thread>

#include "common.h"
#include "gpu.h"
#include "kernels.h"
#include "scratch.h"

namespace cellcam {
namespace {

Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), CELLCAM_VERSION); }

// {compiledWithCuda, cudaDevices, reason, threads, version, cudaRuntimeVersion, cudaDriverVersion, deviceNames,
//  deviceMemory, scratch: {idleBytes, limitBytes}}
Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const GpuInfo& g = Gpu();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiledWithCuda", g.compiled);
  o.Set("cudaDevices", g.devices);
  o.Set("reason", g.reason);
  o.Set("threads", ResolveThreads(0));
  o.Set("version", CELLCAM_VERSION);
  o.Set("cudaRuntimeVersion", g.runtimeVersion);
  o.Set("cudaDriverVersion", g.driverVersion);
  Napi::Array names = Napi::Array::New(env, g.names.size());
  for (size_t i = 0; i < g.names.size(); ++i) names.Set(static_cast<uint32_t>(i), g.names[i]);
  o.Set("deviceNames", names);
  Napi::Array memory = Napi::Array::New(env, g.memory.size());
  for (size_t i = 0; i < g.memory.size(); ++i) memory.Set(static_cast<uint32_t>(i), g.memory[i]);
  o.Set("deviceMemory", memory);
  Napi::Object scratchInfo = Napi::Object::New(env);
  scratchInfo.Set("idleBytes", static_cast<double>(scratch::IdleBytes()));
  scratchInfo.Set("limitBytes", static_cast<double>(scratch::IdleLimit()));
  o.Set("scratch", scratchInfo);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("capabilities", Napi::Function::New(env, Capabilities, "capabilities"));
  exports.Set("watershed", Napi::Function::New(env, Watershed, "watershed"));
  exports.Set("_watershedEmulated", Napi::Function::New(env, WatershedEmulated, "_watershedEmulated"));
  exports.Set("_labelCellEmulated", Napi::Function::New(env, LabelCellEmulated, "_labelCellEmulated"));
  exports.Set("label", Napi::Function::New(env, Label, "label"));
  exports.Set("pool", Napi::Function::New(env, Pool, "pool"));
  exports.Set("rle", Napi::Function::New(env, Rle, "rle"));
  exports.Set("morphology", Napi::Function::New(env, Morphology, "morphology"));
  exports.Set("labelCell", Napi::Function::New(env, LabelCell, "labelCell"));
  exports.Set("labelNuclei", Napi::Function::New(env, LabelNuclei, "labelNuclei"));
  exports.Set("resample", Napi::Function::New(env, Resample, "resample"));
  return exports;
}

}  // namespace
}  // namespace cellcam

static Napi::Object InitCellcam(Napi::Env env, Napi::Object exports) { return cellcam::Init(env, exports); }
NODE_API_MODULE(cellcam_native, InitCellcam)
