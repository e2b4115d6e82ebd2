// Implementation of the shared plumbing declared in common.h.
#include "common.h"

#include <cmath>
#include <cstring>

namespace cellcam {

Napi::Error MakeError(Napi::Env env, ErrorKind kind, const std::string& code, const std::string& message) {
  Napi::Error err;
  switch (kind) {
    case ErrorKind::TypeError: err = Napi::TypeError::New(env, message); break;
    case ErrorKind::RangeError: err = Napi::RangeError::New(env, message); break;
    default: err = Napi::Error::New(env, message); break;
  }
  err.Set("code", Napi::String::New(env, code));
  return err;
}

const char* TypedArrayTypeName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

std::string Describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    return MakeString(TypedArrayTypeName(a.TypedArrayType()), " of length ", a.ElementLength());
  }
  if (v.IsArray()) return MakeString("Array of length ", v.As<Napi::Array>().Length());
  // JS formatting (Infinity, 1e+21, 0.1), as core's describe() prints it; ostream would give inf and 6 digits.
  if (v.IsNumber()) return MakeString("number ", v.ToString().Utf8Value());
  if (v.IsString()) return MakeString("string '", v.As<Napi::String>().Utf8Value(), "'");
  if (v.IsBoolean()) return "boolean";
  if (v.IsFunction()) return "function";
  return "object";
}

bool IsIntIn(const Napi::Value& v, double lo, double hi) {
  if (!v.IsNumber()) return false;
  const double d = v.As<Napi::Number>().DoubleValue();
  return d >= lo && d <= hi && d == static_cast<double>(static_cast<int64_t>(d));
}

int64_t OptInt(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return fallback;
  return v.As<Napi::Number>().Int64Value();
}

double OptDouble(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

int64_t IntOption(Napi::Env env, const Napi::Object& o, const char* key, int64_t lo, int64_t hi) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber() || std::floor(v.As<Napi::Number>().DoubleValue()) != v.As<Napi::Number>().DoubleValue()) {
    throw MakeError(env, ErrorKind::TypeError, "CELLCAM_E_DTYPE",
                    MakeString("Expected an integer for options.", key, " but received ", Describe(v)));
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw MakeError(env, ErrorKind::RangeError, "CELLCAM_E_RANGE",
                    MakeString("Expected an integer in [", lo, ", ", hi, "] for options.", key, " but received ", Describe(v)));
  }
  return static_cast<int64_t>(d);
}

double NumberOption(Napi::Env env, const Napi::Object& o, const char* key, double lo, double hi) {
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!(d >= lo && d <= hi)) {
    throw MakeError(env, ErrorKind::RangeError, "CELLCAM_E_RANGE",
                    MakeString("Expected a number in [", lo, ", ", hi, "] for options.", key, " but received ", Describe(v)));
  }
  return d;
}

bool OptBool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) return fallback;
  return v.As<Napi::Boolean>().Value();
}

std::string OptString(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) return fallback;
  return v.As<Napi::String>().Utf8Value();
}

int ResolveThreads(int64_t requested) {
  if (requested > 0) return static_cast<int>(std::min<int64_t>(requested, 256));
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void ParallelFor(int64_t n, int threads, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  if (threads == 1) {
    fn(0, n, 0);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  for (int t = 0; t < threads; ++t) {
    int64_t b = n * t / threads, e = n * (t + 1) / threads;
    pool.emplace_back([&, b, e, t] {
      try {
        fn(b, e, t);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (auto& ep : errors)
    if (ep) std::rethrow_exception(ep);
}

ArrayView ViewOf(const Napi::TypedArray& a) {
  ArrayView v;
  v.type = a.TypedArrayType();
  v.length = a.ElementLength();
  uint8_t* base = static_cast<uint8_t*>(a.ArrayBuffer().Data());
  v.data = base + a.ByteOffset();
  return v;
}

bool IsType(const Napi::Value& v, napi_typedarray_type t) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == t;
}

bool Overlap(const ArrayView& a, size_t aBytes, const ArrayView& b, size_t bBytes) {
  const auto* pa = static_cast<const uint8_t*>(a.data);
  const auto* pb = static_cast<const uint8_t*>(b.data);
  return aBytes > 0 && bBytes > 0 && pa < pb + bBytes && pb < pa + aBytes;
}

void gpu::HostCopy(void* dst, const void* src, size_t bytes) {
  constexpr size_t kPerThread = size_t{1} << 20;
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = static_cast<int>(std::min<size_t>({bytes / kPerThread + 1, size_t{8}, static_cast<size_t>(hw)}));
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  ParallelFor(threads, threads, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      const size_t lo = bytes * t / threads, hi = bytes * (t + 1) / threads;
      std::memcpy(d + lo, s + lo, hi - lo);
    }
  });
}

Napi::Object TimingsObject(Napi::Env env, const gpu::Timings& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("totalMs", t.totalMs);
  o.Set("hostMs", std::max(0.0, t.totalMs - t.uploadMs - t.kernelMs - t.downloadMs));
  o.Set("uploadMs", t.uploadMs);
  o.Set("kernelMs", t.kernelMs);
  o.Set("downloadMs", t.downloadMs);
  return o;
}

Napi::Object WatershedStatsObject(Napi::Env env, const gpu::WatershedStats& st) {
  Napi::Object s = Napi::Object::New(env);
  s.Set("phases", static_cast<double>(st.phases));
  s.Set("generations", static_cast<double>(st.generations));
  s.Set("lineRounds", static_cast<double>(st.lineRounds));
  s.Set("burstGenerations", static_cast<double>(st.burstGenerations));
  s.Set("placedGenerations", static_cast<double>(st.placedGenerations));
  s.Set("oneBlockGenerations", static_cast<double>(st.oneBlockGenerations));
  s.Set("levelRuns", static_cast<double>(st.levelRuns));
  return s;
}

}  // namespace cellcam
