// Shared plumbing for every kernel: argument guards that name the argument, the Promise-returning
// AsyncWorker base, typed-array views and a tiny thread pool helper. Kernels include this only.
#pragma once

#include <napi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gpu.h"

namespace cellcam {

template <typename... Args>
std::string MakeString(const Args&... args) {
  std::ostringstream ss;
  (ss << ... << args);
  return ss.str();
}

// Error kinds map to JS constructors; codes are the stable CELLCAM_E_* strings.
enum class ErrorKind { Error, TypeError, RangeError };

Napi::Error MakeError(Napi::Env env, ErrorKind kind, const std::string& code, const std::string& message);

// One-line guards for the N-API boundary. Core has validated everything already; these stop a
// direct caller of the addon from crashing the process, and name the offending argument.
#define CELLCAM_THROW_IF(cond, env, kind, code, ...)                                              \
  do {                                                                                            \
    if (cond) {                                                                                   \
      ::cellcam::MakeError((env), ::cellcam::ErrorKind::kind, (code), ::cellcam::MakeString(__VA_ARGS__)) \
          .ThrowAsJavaScriptException();                                                          \
      return (env).Undefined();                                                                   \
    }                                                                                             \
  } while (0)
#define CELLCAM_TYPE_CHECK(cond, env, ...) CELLCAM_THROW_IF(!(cond), env, TypeError, "CELLCAM_E_DTYPE", __VA_ARGS__)
#define CELLCAM_RANGE_CHECK(cond, env, ...) CELLCAM_THROW_IF(!(cond), env, RangeError, "CELLCAM_E_RANGE", __VA_ARGS__)
#define CELLCAM_SHAPE_CHECK(cond, env, ...) CELLCAM_THROW_IF(!(cond), env, RangeError, "CELLCAM_E_SHAPE", __VA_ARGS__)

const char* TypedArrayTypeName(napi_typedarray_type t);

// Mirrors core's describe() for boundary messages: "Float32Array of length 4", "number 6", "string 'x'".
std::string Describe(const Napi::Value& v);

// True for an integer-valued number in [lo, hi].
bool IsIntIn(const Napi::Value& v, double lo, double hi);

// Reads a numeric/boolean/string field of the flat options object.
int64_t OptInt(const Napi::Object& o, const char* key, int64_t fallback);
double OptDouble(const Napi::Object& o, const char* key, double fallback);
bool OptBool(const Napi::Object& o, const char* key, bool fallback);
std::string OptString(const Napi::Object& o, const char* key, const std::string& fallback);
// A required option: an integer (or a number) in [lo, hi]; else throws a coded JS error naming
// options.<key>, what was expected and what was received.
int64_t IntOption(Napi::Env env, const Napi::Object& o, const char* key, int64_t lo, int64_t hi);
double NumberOption(Napi::Env env, const Napi::Object& o, const char* key, double lo, double hi);

// Number of worker threads to use: `requested` (>0) or all hardware threads.
int ResolveThreads(int64_t requested);

// Milliseconds since t0 (the `totalMs` of gpu::Timings).
inline double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// `timings` of a result that ran on CUDA: { totalMs, hostMs, uploadMs, kernelMs, downloadMs }.
Napi::Object TimingsObject(Napi::Env env, const gpu::Timings& t);
// {phases, generations, lineRounds, burstGenerations, placedGenerations, oneBlockGenerations, levelRuns} of a CUDA (or emulated) watershed.
Napi::Object WatershedStatsObject(Napi::Env env, const gpu::WatershedStats& st);

// Runs fn(begin, end) over [0, n) split into `threads` contiguous chunks, on std::threads.
void ParallelFor(int64_t n, int threads, const std::function<void(int64_t, int64_t, int)>& fn);

// A failure raised inside Execute(): carries kind and code to OnError.
struct KernelError : std::exception {
  ErrorKind kind;
  std::string code;
  std::string message;
  KernelError(ErrorKind k, std::string c, std::string m) : kind(k), code(std::move(c)), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
};

// Base for every kernel worker: owns the Promise, pins the caller's TypedArrays (zero-copy) for the
// worker's lifetime, and turns KernelError/std::exception from Execute() into coded JS errors.
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  // Keeps a JS value (TypedArray, options object) alive until the worker completes.
  void Pin(const Napi::Value& v) {
    pinned_.push_back(Napi::Persistent(v));
  }

 protected:
  // Kernels implement Run() and may throw KernelError.
  virtual void Run() = 0;
  // Builds the resolved value on the main thread; default undefined.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

  void Execute() final {
    try {
      Run();
    } catch (const KernelError& e) {
      kind_ = e.kind;
      code_ = e.code;
      SetError(e.message);
    } catch (const std::bad_alloc&) {
      code_ = "CELLCAM_E_NOMEM";
      SetError("out of memory");
    } catch (const std::exception& e) {
      code_ = "CELLCAM_E_INTERNAL";
      SetError(e.what());
    }
  }
  void OnOK() final {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) final {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    deferred_.Reject(MakeError(env, kind_, code_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> pinned_;
  ErrorKind kind_ = ErrorKind::Error;
  std::string code_ = "CELLCAM_E_INTERNAL";
};

// A non-owning view of a TypedArray's memory.
struct ArrayView {
  void* data = nullptr;
  size_t length = 0;  // elements
  napi_typedarray_type type = napi_uint8_array;
};
ArrayView ViewOf(const Napi::TypedArray& a);

// True when v is a TypedArray of type t.
bool IsType(const Napi::Value& v, napi_typedarray_type t);

// True when the byte ranges [a, a + aBytes) and [b, b + bBytes) share memory: kernels that write
// an output while reading an input reject aliasing they cannot handle.
bool Overlap(const ArrayView& a, size_t aBytes, const ArrayView& b, size_t bBytes);

}  // namespace cellcam
