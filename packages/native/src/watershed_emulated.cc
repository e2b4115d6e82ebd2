// The CUDA watershed's kernels (watershed_levels.h) run on the host, one index at a time, in a chosen
// order. CI has no GPU: this is how it checks the parallel formulation and the kernels' own code
// against the CPU flood. A kernel whose result depends on the order its threads run in (a race)
// differs between the orders; memory the kernels read before writing is poisoned (0xA5), as a
// fresh device allocation holds garbage. Test-only: exported as `_watershedEmulated`.
#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "watershed_levels.h"

namespace cellcam {
namespace {

enum class Order { kForward, kReverse, kStrided };

class HostExec {
 public:
  explicit HostExec(Order order) : order_(order) {}
  std::string error;

  template <class F>
  bool For(int64_t n, const F& f) {
    if (n <= 0) return true;
    switch (order_) {
      case Order::kForward:
        for (int64_t i = 0; i < n; ++i) f(i);
        break;
      case Order::kReverse:
        for (int64_t i = n - 1; i >= 0; --i) f(i);
        break;
      case Order::kStrided: {
        // i = k * step mod n visits every index once when gcd(step, n) = 1: neighbours far apart.
        int64_t step = n / 3 + 1;
        while (std::gcd(step, n) != 1) ++step;
        for (int64_t k = 0, i = 0; k < n; ++k, i = (i + step) % n) f(i);
        break;
      }
    }
    return true;
  }

  template <typename T>
  T* Alloc(int64_t count) {
    const size_t bytes = static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T);
    blocks_.emplace_back(new uint64_t[(bytes + 7) / 8]);
    void* p = blocks_.back().get();
    std::memset(p, 0xA5, bytes);
    return static_cast<T*>(p);
  }

  bool Zero(void* p, size_t bytes) {
    std::memset(p, 0, bytes);
    return true;
  }
  bool Read(void* host, const void* dev, size_t bytes) {
    std::memcpy(host, dev, bytes);
    return true;
  }
  bool ExclusiveSum(const int32_t* in, int32_t* out, int64_t n) {
    int32_t acc = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t v = in[i];
      out[i] = acc;
      acc += v;
    }
    return true;
  }
  int SortPairs(uint64_t* keys, uint64_t*, int32_t* vals, int32_t*, int64_t m, uint64_t maxKey) {
    std::vector<int64_t> idx(static_cast<size_t>(m));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
    std::vector<uint64_t> k(static_cast<size_t>(m));
    std::vector<int32_t> v(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
      k[i] = keys[idx[i]];
      v[i] = vals[idx[i]];
      if (k[i] > maxKey) {
        error = "SortPairs: a key above maxKey";
        return -1;
      }
    }
    std::copy(k.begin(), k.end(), keys);
    std::copy(v.begin(), v.end(), vals);
    return 0;
  }

 private:
  Order order_;
  std::vector<std::unique_ptr<uint64_t[]>> blocks_;
};

template <typename LT>
bool Run(HostExec& ex, const LT* lev, int32_t levels, const int32_t* markers, const uint8_t* mask, int32_t* out,
                     int32_t W, int32_t H, int conn, bool wsl, wslevels::Stats* stats) {
  return wslevels::Flood(ex, lev, levels, markers, mask, out, W, H, conn, wsl, stats);
}

}  // namespace

// _watershedEmulated(elevation (Uint8Array|Uint16Array), markers, mask|null, out, {width, height,
// connectivity, watershedLine, order: 'forward'|'reverse'|'strided'})
//   -> {phases, generations, lineRounds, burstGenerations}
// Synchronous and unchecked beyond the types and lengths: a test harness, not an API.
Napi::Value WatershedEmulated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value ev = info[0], mv = info[1], kv = info[2], ov = info[3], optV = info[4];
  CELLCAM_TYPE_CHECK(IsType(ev, napi_uint8_array) || IsType(ev, napi_uint16_array), env,
                     "Expected Uint8Array or Uint16Array for elevation but received ", Describe(ev));
  CELLCAM_TYPE_CHECK(IsType(mv, napi_int32_array), env, "Expected Int32Array for markers but received ", Describe(mv));
  const bool hasMask = !kv.IsNull() && !kv.IsUndefined();
  CELLCAM_TYPE_CHECK(!hasMask || IsType(kv, napi_uint8_array), env, "Expected Uint8Array or null for mask but received ", Describe(kv));
  CELLCAM_TYPE_CHECK(IsType(ov, napi_int32_array), env, "Expected Int32Array for out but received ", Describe(ov));
  CELLCAM_TYPE_CHECK(optV.IsObject(), env, "Expected an object for options but received ", Describe(optV));
  const Napi::Object o = optV.As<Napi::Object>();
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("width"), 1, 65536), env, "Expected an integer in [1, 65536] for options.width but received ", Describe(o.Get("width")));
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("height"), 1, 65536), env, "Expected an integer in [1, 65536] for options.height but received ", Describe(o.Get("height")));
  const int64_t W = OptInt(o, "width", 0), H = OptInt(o, "height", 0), n = W * H;
  CELLCAM_SHAPE_CHECK(n <= (int64_t{1} << 24), env, "Expected at most 2^24 pixels for options.width*height but received number ", n);
  const ArrayView e = ViewOf(ev.As<Napi::TypedArray>()), m = ViewOf(mv.As<Napi::TypedArray>()), out = ViewOf(ov.As<Napi::TypedArray>());
  const ArrayView k = hasMask ? ViewOf(kv.As<Napi::TypedArray>()) : ArrayView{};
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(e.length) == n && static_cast<int64_t>(m.length) == n && static_cast<int64_t>(out.length) == n &&
                          (!hasMask || static_cast<int64_t>(k.length) == n),
                      env, "Expected elevation, markers, mask and out of length width*height = ", n);
  const int64_t conn = OptInt(o, "connectivity", 4);
  CELLCAM_RANGE_CHECK(conn == 4 || conn == 8, env, "Expected 4 or 8 for options.connectivity but received ", Describe(o.Get("connectivity")));
  const std::string order = OptString(o, "order", "forward");
  CELLCAM_THROW_IF(order != "forward" && order != "reverse" && order != "strided", env, RangeError, "CELLCAM_E_ARG",
                   "Expected 'forward', 'reverse' or 'strided' for options.order but received ", Describe(o.Get("order")));
  const bool wsl = OptBool(o, "watershedLine", false);

  HostExec ex(order == "forward" ? Order::kForward : order == "reverse" ? Order::kReverse : Order::kStrided);
  wslevels::Stats stats;
  const auto* markers = static_cast<const int32_t*>(m.data);
  const auto* mask = hasMask ? static_cast<const uint8_t*>(k.data) : nullptr;
  auto* o32 = static_cast<int32_t*>(out.data);
  const bool ok =
      e.type == napi_uint8_array
          ? Run(ex, static_cast<const uint8_t*>(e.data), 256, markers, mask, o32, static_cast<int32_t>(W), static_cast<int32_t>(H),
                static_cast<int>(conn), wsl, &stats)
          : Run(ex, static_cast<const uint16_t*>(e.data), 65536, markers, mask, o32, static_cast<int32_t>(W), static_cast<int32_t>(H),
                static_cast<int>(conn), wsl, &stats);
  CELLCAM_THROW_IF(!ok, env, Error, "CELLCAM_E_INTERNAL", "emulated CUDA watershed: ", ex.error);
  Napi::Object res = Napi::Object::New(env);
  res.Set("phases", static_cast<double>(stats.phases));
  res.Set("generations", static_cast<double>(stats.generations));
  res.Set("lineRounds", static_cast<double>(stats.lineRounds));
  res.Set("burstGenerations", static_cast<double>(stats.burstGenerations));
  return res;
}

}  // namespace cellcam
