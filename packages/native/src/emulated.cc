// Test-only exports that run CUDA code paths on the host executor (host_exec.h), so that CI, which
// has no GPU, checks their code against the CPU: `_watershedEmulated` (watershed_levels.h) and
// `_labelCellEmulated` (label_cell_parallel.h). Synchronous and checked only for types and
// lengths: test harnesses, not an API.
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "host_exec.h"
#include "kernels.h"
#include "label_cell.h"
#include "label_cell_parallel.h"
#include "watershed_levels.h"

namespace cellcam {
namespace {

template <typename LT>
bool FloodOn(HostExec& ex, const LT* lev, int32_t levels, const int32_t* markers, const uint8_t* mask, int32_t* out, int32_t W,
             int32_t H, int conn, bool wsl, wslevels::Stats* stats, int32_t Hi) {
  return wslevels::Flood(ex, lev, levels, markers, mask, out, W, H, conn, wsl, stats, Hi);
}

// The options {width, height, order} of an emulation call (at most 2^24 pixels).
struct Shape {
  int64_t W = 0, H = 0, n = 0;
  Order order = Order::kForward;
  Napi::Object o;
};

// "" or what is wrong with the options.
std::string ReadShape(const Napi::Value& optV, Shape* sh) {
  if (!optV.IsObject()) return "Expected an object for options but received " + Describe(optV);
  const Napi::Object o = optV.As<Napi::Object>();
  if (!IsIntIn(o.Get("width"), 1, 65536)) return "Expected an integer in [1, 65536] for options.width but received " + Describe(o.Get("width"));
  if (!IsIntIn(o.Get("height"), 1, 65536)) return "Expected an integer in [1, 65536] for options.height but received " + Describe(o.Get("height"));
  sh->W = OptInt(o, "width", 0);
  sh->H = OptInt(o, "height", 0);
  sh->n = sh->W * sh->H;
  if (sh->n > (int64_t{1} << 24)) return MakeString("Expected at most 2^24 pixels for options.width*height but received number ", sh->n);
  const std::string s = OptString(o, "order", "forward");
  if (s != "forward" && s != "reverse" && s != "strided") {
    return "Expected 'forward', 'reverse' or 'strided' for options.order but received " + Describe(o.Get("order"));
  }
  sh->order = s == "forward" ? Order::kForward : s == "reverse" ? Order::kReverse : Order::kStrided;
  sh->o = o;
  return "";
}

// [{site: 'file.h:line', launches, items, reads}] from the executor's per-line counts, most items first.
Napi::Array SitesArray(Napi::Env env, const std::map<std::pair<std::string, int>, HostExec::SiteCount>& sites) {
  std::vector<std::pair<std::string, HostExec::SiteCount>> v;
  for (const auto& [key, c] : sites) {
    const std::string& f = key.first;
    v.emplace_back(f.substr(f.find_last_of('/') + 1) + ":" + std::to_string(key.second), c);  // npos + 1 = 0: no folder
  }
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.items > b.second.items; });
  Napi::Array arr = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("site", v[i].first);
    s.Set("launches", static_cast<double>(v[i].second.launches));
    s.Set("items", static_cast<double>(v[i].second.items));
    s.Set("reads", static_cast<double>(v[i].second.reads));
    arr.Set(static_cast<uint32_t>(i), s);
  }
  return arr;
}

}  // namespace

// _watershedEmulated(elevation (Uint8Array|Uint16Array), markers, mask|null, out, {width, height,
// connectivity, watershedLine, order: 'forward'|'reverse'|'strided', images = 1})
//   -> {phases, generations, lineRounds, burstGenerations, placedGenerations, oneBlockGenerations, levelRuns}
// images > 1: a batch of that many images of height / images rows, stacked.
Napi::Value WatershedEmulated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value ev = info[0], mv = info[1], kv = info[2], ov = info[3], optV = info[4];
  CELLCAM_TYPE_CHECK(IsType(ev, napi_uint8_array) || IsType(ev, napi_uint16_array), env,
                     "Expected Uint8Array or Uint16Array for elevation but received ", Describe(ev));
  CELLCAM_TYPE_CHECK(IsType(mv, napi_int32_array), env, "Expected Int32Array for markers but received ", Describe(mv));
  const bool hasMask = !kv.IsNull() && !kv.IsUndefined();
  CELLCAM_TYPE_CHECK(!hasMask || IsType(kv, napi_uint8_array), env, "Expected Uint8Array or null for mask but received ", Describe(kv));
  CELLCAM_TYPE_CHECK(IsType(ov, napi_int32_array), env, "Expected Int32Array for out but received ", Describe(ov));
  Shape sh;
  const std::string bad = ReadShape(optV, &sh);
  CELLCAM_THROW_IF(!bad.empty(), env, RangeError, "CELLCAM_E_RANGE", bad);
  const Napi::Object o = sh.o;
  const int64_t W = sh.W, H = sh.H, n = sh.n;
  const ArrayView e = ViewOf(ev.As<Napi::TypedArray>()), m = ViewOf(mv.As<Napi::TypedArray>()), out = ViewOf(ov.As<Napi::TypedArray>());
  const ArrayView k = hasMask ? ViewOf(kv.As<Napi::TypedArray>()) : ArrayView{};
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(e.length) == n && static_cast<int64_t>(m.length) == n && static_cast<int64_t>(out.length) == n &&
                          (!hasMask || static_cast<int64_t>(k.length) == n),
                      env, "Expected elevation, markers, mask and out of length width*height = ", n);
  const int64_t conn = OptInt(o, "connectivity", 4);
  CELLCAM_RANGE_CHECK(conn == 4 || conn == 8, env, "Expected 4 or 8 for options.connectivity but received ", Describe(o.Get("connectivity")));
  const bool wsl = OptBool(o, "watershedLine", false);
  const int64_t images = OptInt(o, "images", 1);
  CELLCAM_RANGE_CHECK(images >= 1 && H % images == 0, env, "Expected a divisor of options.height for options.images but received ",
                      Describe(o.Get("images")));
  const auto Hi = static_cast<int32_t>(H / images);

  HostExec ex(sh.order);
  wslevels::Stats stats;
  const auto* markers = static_cast<const int32_t*>(m.data);
  const auto* mask = hasMask ? static_cast<const uint8_t*>(k.data) : nullptr;
  auto* o32 = static_cast<int32_t*>(out.data);
  const bool ok =
      e.type == napi_uint8_array
          ? FloodOn(ex, static_cast<const uint8_t*>(e.data), 256, markers, mask, o32, static_cast<int32_t>(W), static_cast<int32_t>(H),
                static_cast<int>(conn), wsl, &stats, Hi)
          : FloodOn(ex, static_cast<const uint16_t*>(e.data), 65536, markers, mask, o32, static_cast<int32_t>(W), static_cast<int32_t>(H),
                static_cast<int>(conn), wsl, &stats, Hi);
  CELLCAM_THROW_IF(!ok, env, Error, "CELLCAM_E_INTERNAL", "emulated CUDA watershed: ", ex.error);
  return WatershedStatsObject(env, stats);
}

// _labelCellEmulated(nucleiPred, cellPred, nuclei, cells, {width, height, scale, order, images = 1, deviceBytes, planBytes})
//   -> {cellCount, cellCounts, watersheds: [{phases, generations, lineRounds, burstGenerations, placedGenerations, oneBlockGenerations, levelRuns} x3], launches, reads, items,
//       sites: [{site: 'file.h:line', launches, items, reads}] (by the line that launched or read them, most items first),
//       peakBytes (the most device memory one stack held), bytesPerPixel (the plan's rate), stacks, outOfMemoryRetries}
// images > 1: that many width × height images stacked in each array go through one chain, or
// several when deviceBytes / planBytes (the memory as the plan sees it) do not hold them at once.
Napi::Value LabelCellEmulated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value npV = info[0], cpV = info[1], nuV = info[2], ceV = info[3], optV = info[4];
  CELLCAM_TYPE_CHECK(IsType(npV, napi_uint8_array) && IsType(cpV, napi_uint8_array), env,
                     "Expected Uint8Array for nucleiPred and cellPred but received ", Describe(npV), " and ", Describe(cpV));
  CELLCAM_TYPE_CHECK(IsType(nuV, napi_uint16_array) && IsType(ceV, napi_uint16_array), env,
                     "Expected Uint16Array for nuclei and cells but received ", Describe(nuV), " and ", Describe(ceV));
  Shape sh;
  const std::string bad = ReadShape(optV, &sh);
  CELLCAM_THROW_IF(!bad.empty(), env, RangeError, "CELLCAM_E_RANGE", bad);
  const Napi::Object o = sh.o;
  const int64_t images = OptInt(o, "images", 1);
  CELLCAM_RANGE_CHECK(images >= 1 && sh.n * images <= (int64_t{1} << 26), env,
                      "Expected an integer >= 1 for options.images, at most 2^26 pixels in all, but received ", Describe(o.Get("images")));
  const int64_t W = sh.W, H = sh.H, n = sh.n * images;
  const ArrayView np = ViewOf(npV.As<Napi::TypedArray>()), cp = ViewOf(cpV.As<Napi::TypedArray>());
  const ArrayView nu = ViewOf(nuV.As<Napi::TypedArray>()), ce = ViewOf(ceV.As<Napi::TypedArray>());
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(np.length) == 3 * n && static_cast<int64_t>(cp.length) == 3 * n &&
                          static_cast<int64_t>(nu.length) == n && static_cast<int64_t>(ce.length) == n,
                      env, "Expected predictions of length width*height*images*3 and outputs of length width*height*images = ", n);
  const Napi::Value sv = o.Get("scale");
  const double scale = sv.IsNumber() ? sv.As<Napi::Number>().DoubleValue() : 1.0;
  CELLCAM_RANGE_CHECK(scale == 1 || scale == 0.5 || scale == 0.25, env, "Expected 1, 0.5 or 0.25 for options.scale but received ", Describe(sv));

  // The device's memory as the CUDA call plans with it (planBytes, default deviceBytes) and as it
  // ends (deviceBytes: an allocation past it fails as on a full device); both unlimited by default.
  const double deviceBytes = OptDouble(o, "deviceBytes", -1), planBytes = OptDouble(o, "planBytes", deviceBytes);
  CELLCAM_RANGE_CHECK(deviceBytes == -1 || deviceBytes >= 0, env, "Expected bytes >= 0 for options.deviceBytes but received ", Describe(o.Get("deviceBytes")));

  lcpar::ChainStats stats;
  std::string error;
  int64_t launches = 0, reads = 0, items = 0;
  size_t peakBytes = 0;
  std::map<std::pair<std::string, int>, HostExec::SiteCount> sites;
  std::vector<int64_t> counts(static_cast<size_t>(images));
  StackStats stackStats;
  // As gpu::LabelCellCore: the images in stacks that the memory holds, each stack one chain on an
  // executor whose memory is the host's (the stack's uploads, its chain, its downloads).
  const LabelCellCoreFn core = [&](const LabelCellImages& at, int64_t w, int64_t h, const LabelCellConstants& k, int64_t* cc) {
    const int64_t m = w * h;
    const double plan = planBytes < 0 ? 1e300 : planBytes;
    const LabelCellStackFn one = [&](const LabelCellImages& part, int64_t* partCounts) {
      const int64_t imgs = part.Count();
      HostExec ex(sh.order);
      if (deviceBytes >= 0) ex.limitBytes = static_cast<size_t>(deviceBytes);
      uint8_t* p1 = ex.Alloc<uint8_t>(3 * m * imgs);
      uint8_t* p2 = ex.Alloc<uint8_t>(3 * m * imgs);
      uint16_t* nuclei = ex.Alloc<uint16_t>(m * imgs);
      uint16_t* cells = ex.Alloc<uint16_t>(m * imgs);
      lcpar::ChainStats st;
      bool ok = p1 && p2 && nuclei && cells;
      if (ok) {
        for (int64_t b = 0; b < imgs; ++b) {
          std::copy(part.nucleiPreds[b], part.nucleiPreds[b] + 3 * m, p1 + 3 * m * b);
          std::copy(part.cellPreds[b], part.cellPreds[b] + 3 * m, p2 + 3 * m * b);
        }
        ok = lcpar::LabelCellChain(ex, p1, p2, static_cast<int32_t>(w), static_cast<int32_t>(h * imgs), k, nuclei, cells, &st,
                                   static_cast<int32_t>(imgs));
      }
      launches += ex.launches;
      reads += ex.reads;
      items += ex.items;
      peakBytes = std::max(peakBytes, ex.peakBytes);
      for (const auto& [site, c] : ex.sites) {
        HostExec::SiteCount& t = sites[site];
        t.launches += c.launches;
        t.items += c.items;
        t.reads += c.reads;
      }
      if (!ok) {
        error = ex.error;
        return error.find("cudaErrorMemoryAllocation") != std::string::npos ? StackEnd::kOutOfMemory : StackEnd::kFailed;
      }
      AddChainStats(&stats, st);
      std::copy(st.cellCounts.begin(), st.cellCounts.end(), partCounts);
      for (int64_t b = 0; b < imgs; ++b) {
        std::copy(nuclei + m * b, nuclei + m * (b + 1), part.nuclei[b]);
        std::copy(cells + m * b, cells + m * (b + 1), part.cells[b]);
      }
      return StackEnd::kDone;
    };
    const StackEnd end = RunInStacks(one, at, ImagesPerStack(at.Count(), m, plan, lcpar::kDeviceBytesPerPixel), cc, &stackStats);
    if (end == StackEnd::kOutOfMemory) error = OutOfDeviceMemory(w, h, lcpar::kDeviceBytesPerPixel, plan, error);
    return end == StackEnd::kDone;
  };
  const LabelCellImages io = LabelCellImages::Stacked(static_cast<const uint8_t*>(np.data), static_cast<const uint8_t*>(cp.data),
                                                      static_cast<uint16_t*>(nu.data), static_cast<uint16_t*>(ce.data), sh.n, images);
  const bool ok = LabelCellRunOn(core, io, W, H, scale, counts.data(), 1);
  CELLCAM_THROW_IF(!ok, env, Error, "CELLCAM_E_INTERNAL", "emulated CUDA labelCell: ", error);
  Napi::Object res = Napi::Object::New(env);
  res.Set("cellCount", static_cast<double>(stats.cellCount));
  Napi::Array cc = Napi::Array::New(env, static_cast<size_t>(images));
  for (int64_t b = 0; b < images; ++b) cc.Set(static_cast<uint32_t>(b), static_cast<double>(counts[b]));
  res.Set("cellCounts", cc);
  Napi::Array ws = Napi::Array::New(env, 3);
  const gpu::WatershedStats* all[3] = {&stats.nuclei, &stats.cells, &stats.extension};
  for (uint32_t i = 0; i < 3; ++i) ws.Set(i, WatershedStatsObject(env, *all[i]));
  res.Set("watersheds", ws);
  res.Set("launches", static_cast<double>(launches));
  res.Set("reads", static_cast<double>(reads));
  res.Set("items", static_cast<double>(items));
  res.Set("sites", SitesArray(env, sites));
  res.Set("peakBytes", static_cast<double>(peakBytes));
  res.Set("bytesPerPixel", lcpar::kDeviceBytesPerPixel);
  res.Set("stacks", static_cast<double>(stackStats.stacks));
  res.Set("outOfMemoryRetries", static_cast<double>(stackStats.retries));
  return res;
}

}  // namespace cellcam
