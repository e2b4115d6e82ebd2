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

// cudaCopyBandwidth({bytes, reps}) -> Promise<{bytesPerSecond, bytes, reps, device}>: what a
// device-to-device copy reaches (gpu::CopyBandwidth); CELLCAM_E_CUDA without a usable device.
class BandwidthWorker : public KernelWorker {
 public:
  BandwidthWorker(Napi::Env env, int64_t bytes, int reps) : KernelWorker(env, "cellcam:cudaCopyBandwidth"), bytes_(bytes), reps_(reps) {}

 protected:
  void Run() override {
    const GpuInfo& g = Gpu();
    if (g.devices == 0) throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "cudaCopyBandwidth: no CUDA device is usable: " + g.reason);
#if defined(CELLCAM_HAVE_CUDA)
    std::string err;
    if (!gpu::CopyBandwidth(bytes_, reps_, &rate_, &err)) throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "cudaCopyBandwidth: CUDA error: " + err);
#endif
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("bytesPerSecond", rate_);
    o.Set("bytes", static_cast<double>(bytes_));
    o.Set("reps", reps_);
    o.Set("device", Gpu().names.empty() ? std::string() : Gpu().names[0]);
    return o;
  }

 private:
  int64_t bytes_;
  int reps_;
  double rate_ = 0;
};

Napi::Value CudaCopyBandwidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value optV = info[0];
  CELLCAM_TYPE_CHECK(optV.IsObject(), env, "Expected an object {bytes, reps} for options but received ", Describe(optV));
  const Napi::Object o = optV.As<Napi::Object>();
  const int64_t bytes = OptInt(o, "bytes", 256 << 20), reps = OptInt(o, "reps", 10);
  CELLCAM_RANGE_CHECK(bytes >= 1 && bytes <= (int64_t{1} << 34), env, "Expected an integer in [1, 2^34] for options.bytes but received ", Describe(o.Get("bytes")));
  CELLCAM_RANGE_CHECK(reps >= 1 && reps <= 1000, env, "Expected an integer in [1, 1000] for options.reps but received ", Describe(o.Get("reps")));
  auto* w = new BandwidthWorker(env, bytes, static_cast<int>(reps));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
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
  exports.Set("modelFreeMaps", Napi::Function::New(env, ModelFree, "modelFreeMaps"));
  exports.Set("cudaCopyBandwidth", Napi::Function::New(env, CudaCopyBandwidth, "cudaCopyBandwidth"));
  return exports;
}

}  // namespace
}  // namespace cellcam

static Napi::Object InitCellcam(Napi::Env env, Napi::Object exports) { return cellcam::Init(env, exports); }
NODE_API_MODULE(cellcam_native, InitCellcam)
