// The HPA post-processing (hpacellseg 0.1.8 label_cell / label_nuclei) chained in C++ in one worker:
// thresholds, size filters, three watersheds, closing, hole filling, relabelling. Twin:
// packages/core/src/segment/label-cell.ts; semantics and quirks: docs/segmentation.md.
#include "label_cell.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "kernels.h"
#include "label.h"
#include "morphology.h"
#include "watershed.h"

namespace cellcam {
namespace {

using Constants = LabelCellConstants;

// numpy's round(): half to even.
double RoundHalfEven(double x) {
  const double f = std::floor(x), d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

}  // namespace

LabelCellConstants LabelCellConstantsFor(double s) {
  auto a = [&](double n) { return static_cast<int64_t>(RoundHalfEven(n * s * s)); };
  return {a(500), a(1000), a(8), a(2500), a(5500), static_cast<int>(RoundHalfEven(6 * s))};
}

namespace {

// The float64 comparisons of the official code on 0..255 values, as tables.
struct Tables {
  uint8_t border[256], seed[256], nucleus[256], green[256];
  Tables() {
    const double seedT = 0.4 + -0.25;
    for (int v = 0; v < 256; ++v) {
      border[v] = 1 - v / 255.0 > 0.05;
      seed[v] = v / 255.0 > seedT;
      nucleus[v] = v / 255.0 > 0.4;
      green[v] = v / 255.0 > 0.05;
    }
  }
};

// Keeps the labels of size >= min, renumbered 1.. in the same (raster) order. Returns the count.
int64_t Compact(int32_t* lab, int64_t n, int64_t count, const std::vector<int32_t>& sizes, int64_t min) {
  std::vector<int32_t> map(static_cast<size_t>(count + 1), 0);
  int32_t k = 0;
  for (int64_t l = 1; l <= count; ++l)
    if (sizes[l] >= min) map[l] = ++k;
  const int32_t* const mp = map.data();
  for (int64_t i = 0; i < n; ++i) lab[i] = mp[lab[i]];
  return k;
}

// hpacellseg's __fill_holes: zero thick boundaries, binary_fill_holes(> 0), ndi.label (4-conn).
// `b` is an n-byte scratch buffer.
template <typename T>
int64_t FillHoles(const T* labels, int64_t W, int64_t H, int32_t* out, uint8_t* b, int threads) {
  const int64_t n = W * H;
  morph::FindBoundaries(labels, b, W, H, threads);
  for (int64_t i = 0; i < n; ++i) b[i] = !((labels[i] != 0) & (b[i] == 0));  // background of the boundary-free mask
  std::vector<int32_t> sizes;
  const int64_t count = LabelComponents(b, napi_uint8_array, out, W, H, 4, false, threads, sizes);
  std::vector<uint8_t> outside(static_cast<size_t>(count + 1), 0);
  for (int64_t x = 0; x < W; ++x) outside[out[x]] = outside[out[(H - 1) * W + x]] = 1;
  for (int64_t y = 0; y < H; ++y) outside[out[y * W]] = outside[out[y * W + W - 1]] = 1;
  const uint8_t* const os = outside.data();
  for (int64_t i = 0; i < n; ++i) b[i] = (b[i] == 0) | (os[out[i]] == 0);
  return LabelComponents(b, napi_uint8_array, out, W, H, 4, false, threads, sizes);
}

// round(s / c), ties to even (cvRound), s >= 0, c > 0.
inline uint8_t DivRoundEven(int64_t s, int64_t c) {
  const int64_t q = s / c, r = s - q * c;
  return static_cast<uint8_t>(2 * r > c || (2 * r == c && (q & 1)) ? q + 1 : q);
}

// Threads for a resize of `pixels` full-resolution pixels: one per 256 Ki pixels at most, since
// each band is a std::thread start (~50 us).
int ResizeThreads(int threads, int64_t pixels) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, pixels >> 18)));
}

// Block-mean downscale of channels 1 and 2 by f into out (w × h × 3; partial blocks at the
// right/bottom edge average the pixels they have); channel 0 is 0. Rows of blocks run in bands;
// each block sums its own columns, so no pixel pays for a division.
void Downscale(const uint8_t* pred, int64_t W, int64_t H, int64_t f, int64_t w, int64_t h, uint8_t* out, int threads) {
  ParallelFor(h, ResizeThreads(threads, W * H), [=](int64_t b0, int64_t b1, int) {
    std::vector<int64_t> s1(w), s2(w);
    for (int64_t by = b0; by < b1; ++by) {
      std::fill(s1.begin(), s1.end(), 0);
      std::fill(s2.begin(), s2.end(), 0);
      const int64_t y1 = std::min(H, (by + 1) * f);
      for (int64_t y = by * f; y < y1; ++y) {
        const uint8_t* row = pred + y * W * 3;
        for (int64_t bx = 0; bx < w; ++bx) {
          const int64_t x1 = std::min(W, (bx + 1) * f);
          int64_t a1 = 0, a2 = 0;
          for (int64_t x = bx * f; x < x1; ++x) {
            a1 += row[3 * x + 1];
            a2 += row[3 * x + 2];
          }
          s1[bx] += a1;
          s2[bx] += a2;
        }
      }
      const int64_t bh = y1 - by * f;
      for (int64_t bx = 0; bx < w; ++bx) {
        const int64_t cnt = bh * (std::min(W, (bx + 1) * f) - bx * f);
        uint8_t* o = out + (by * w + bx) * 3;
        o[0] = 0;
        o[1] = DivRoundEven(s1[bx], cnt);
        o[2] = DivRoundEven(s2[bx], cnt);
      }
    }
  });
}

// Nearest-exact upscale by f: the first row of each block is expanded, the others copy it.
void Upscale(const uint16_t* low, int64_t w, uint16_t* out, int64_t W, int64_t H, int64_t f, int threads) {
  const int64_t h = (H + f - 1) / f;
  ParallelFor(h, ResizeThreads(threads, W * H), [=](int64_t b0, int64_t b1, int) {
    for (int64_t by = b0; by < b1; ++by) {
      const uint16_t* src = low + by * w;
      uint16_t* first = out + by * f * W;
      for (int64_t bx = 0; bx < w; ++bx) {
        const uint16_t v = src[bx];
        const int64_t x1 = std::min(W, (bx + 1) * f);
        for (int64_t x = bx * f; x < x1; ++x) first[x] = v;
      }
      const int64_t y1 = std::min(H, (by + 1) * f);
      for (int64_t y = by * f + 1; y < y1; ++y) std::memcpy(out + y * W, first, static_cast<size_t>(W) * sizeof(uint16_t));
    }
  });
}

// heap: skimage's binary-heap order for watershed seeds of equal level in all three watersheds
// (exact; the golden cases and the replica need it in the 2nd and 3rd), else raster order (faster).
int64_t LabelCellCore(const uint8_t* np, const uint8_t* cp, int64_t W, int64_t H, const Constants& k, int threads,
                      bool heap, uint16_t* nucleiOut, uint16_t* cellsOut) {
  const int64_t n = W * H;
  static const Tables T;
  const Tables* tp = &T;
  std::vector<int32_t> sizes;
  // Pointwise passes split in bands: by-value captures and raw pointers (uint8 stores alias all).
  const int pt = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, n >> 18)));
  auto bufA = morph::Buffer<uint8_t>(n), bufB = morph::Buffer<uint8_t>(n), bufC = morph::Buffer<uint8_t>(n), bufD = morph::Buffer<uint8_t>(n);
  auto bufI = morph::Buffer<int32_t>(n), bufJ = morph::Buffer<int32_t>(n), bufK = morph::Buffer<int32_t>(n);
  uint8_t *const A = bufA.get(), *const B = bufB.get(), *const C = bufC.get(), *const E = bufD.get();
  int32_t *const I = bufI.get(), *const J = bufJ.get(), *const K = bufK.get();

  // Nuclei. numpy adds the two uint8 border channels modulo 256.
  uint8_t* const seedMask = A;
  uint8_t* const mask = B;
  ParallelFor(n, pt, [=](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const uint8_t n2 = np[3 * i + 2];
      seedMask[i] = tp->border[static_cast<uint8_t>(np[3 * i + 1] + cp[3 * i + 1])] & tp->seed[n2];
      mask[i] = tp->nucleus[n2];
    }
  });
  // remove_small_objects(seeds) then ndi.label: dropping components keeps the raster order.
  int32_t* const markers = I;
  int64_t count = LabelComponents(seedMask, napi_uint8_array, markers, W, H, 4, false, threads, sizes);
  Compact(markers, n, count, sizes, k.seedMinSize);
  morph::RemoveSmallHoles(mask, mask, W, H, 4, k.holeArea, threads);
  morph::RemoveSmallObjectsBinary(mask, mask, W, H, 4, k.maskMinSize, threads);
  // Elevation = the 0/1 mask itself: every pixel that floods is on one level.
  int32_t* const ws = J;
  WatershedFlood(mask, napi_uint8_array, markers, mask, ws, W, H, 4, true, heap);
  morph::RemoveSmallObjectsLabels<int32_t>(ws, ws, n, k.nucleusMinSize);
  int32_t* const nucleiLabel = I;
  LabelComponents(ws, napi_int32_array, nucleiLabel, W, H, 8, true, threads, sizes);

  // Cells. -distance: clip(a, lo, a) is a itself, so 255 - c2 orders like the official float.
  uint8_t* const c2 = A;
  uint8_t* const elev = C;
  ParallelFor(n, pt, [=](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const uint8_t v = cp[3 * i + 2];
      c2[i] = v;
      elev[i] = static_cast<uint8_t>(255 - v);
    }
  });
  const double t = morph::Otsu<uint8_t>(c2, n, 255.0) * 0.5;
  const double thr = t > 0.22 ? t : 0.22;  // Python max(0.22, t)
  uint8_t above[256];
  for (int v = 0; v < 256; ++v) above[v] = v / 255.0 > thr;
  uint8_t* const region = B;
  ParallelFor(n, pt, [=, &above](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) region[i] = above[c2[i]];
  });
  int32_t* const cl = J;
  WatershedFlood(elev, napi_uint8_array, nucleiLabel, region, cl, W, H, 4, false, heap);
  morph::RemoveSmallObjectsLabels<int32_t>(cl, cl, n, k.cellMinSize);
  uint8_t* const lab8 = A;  // c2 is not needed any more (elev holds it)
  ParallelFor(n, pt, [=](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) lab8[i] = static_cast<uint8_t>(cl[i]);  // .astype(np.uint8) wraps
  });
  uint8_t* const closed = B;
  morph::Grey<uint8_t>(lab8, closed, W, H, k.closingRadius, morph::GreyOp::kClosing, threads);
  int32_t* const filled = K;
  FillHoles<uint8_t>(closed, W, H, filled, E, threads);
  uint8_t* const sk = B;
  ParallelFor(n, pt, [=](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) sk[i] = (filled[i] > 0) | tp->green[cp[3 * i + 1]];
  });
  WatershedFlood(elev, napi_uint8_array, filled, sk, cl, W, H, 4, false, heap);
  FillHoles<int32_t>(cl, W, H, filled, E, threads);
  int32_t* const cellsL = J;
  count = LabelComponents(filled, napi_int32_array, cellsL, W, H, 8, false, threads, sizes);
  const int64_t cellCount = Compact(cellsL, n, count, sizes, k.cellMinSize);
  ParallelFor(n, pt, [=](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) cellsOut[i] = static_cast<uint16_t>(cellsL[i]);
  });

  // Nuclei inside kept cells, large enough, carry their cell's id.
  uint8_t* const nb = E;
  ParallelFor(n, pt, [=](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) nb[i] = (cellsOut[i] != 0) & (nucleiLabel[i] != 0);
  });
  count = LabelComponents(nb, napi_uint8_array, K, W, H, 8, false, threads, sizes);
  std::vector<uint8_t> bigEnough(static_cast<size_t>(count + 1), 0);
  for (int64_t l = 1; l <= count; ++l) bigEnough[l] = sizes[l] >= k.nucleusMinSize;
  const uint8_t* const be = bigEnough.data();
  ParallelFor(n, pt, [=](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) nucleiOut[i] = be[K[i]] ? cellsOut[i] : 0;
  });
  return cellCount;
}

class LabelCellWorker : public KernelWorker {
 public:
  // io.cellPreds empty: labelNuclei (one image).
  LabelCellWorker(Napi::Env env, LabelCellImages io, int64_t W, int64_t H, double scale, int threads, bool heap, bool cuda)
      : KernelWorker(env, "cellcam.labelCell"), io_(std::move(io)), W_(W), H_(H), scale_(scale), threads_(threads), heap_(heap),
        cuda_(cuda), cellsToo_(!io_.cellPreds.empty()), counts_(static_cast<size_t>(io_.Count())) {}

 protected:
  void Run() override {
    if (cuda_) {
      RunCuda();
    } else if (cellsToo_) {
      // A batch on the CPU: one image after another (the chain is the same either way).
      count_ = 0;
      for (int64_t b = 0; b < io_.Count(); ++b) {
        counts_[b] = LabelCellRun(io_.nucleiPreds[b], io_.cellPreds[b], io_.nuclei[b], io_.cells[b], W_, H_, scale_, threads_, heap_);
        count_ += counts_[b];
      }
    } else {
      count_ = LabelNucleiRun(io_.nucleiPreds[0], io_.nuclei[0], W_, H_, threads_, heap_);
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set(cellsToo_ ? "cellCount" : "count", Napi::Number::New(env, static_cast<double>(count_)));
    if (cellsToo_) {
      Napi::Array cc = Napi::Array::New(env, counts_.size());
      for (size_t b = 0; b < counts_.size(); ++b) cc.Set(static_cast<uint32_t>(b), static_cast<double>(counts_[b]));
      o.Set("cellCounts", cc);
      o.Set("device", cuda_ ? "cuda" : "cpu");
    }
    if (cuda_) {
      o.Set("timings", TimingsObject(env, timings_));
      Napi::Array ws = Napi::Array::New(env, 3);
      for (uint32_t i = 0; i < 3; ++i) ws.Set(i, WatershedStatsObject(env, stats_.watersheds[i]));
      o.Set("watersheds", ws);
      o.Set("launches", static_cast<double>(stats_.launches));
      o.Set("reads", static_cast<double>(stats_.reads));
      o.Set("stacks", static_cast<double>(stats_.stacks));
      o.Set("outOfMemoryRetries", static_cast<double>(stats_.outOfMemoryRetries));
    }
    return o;
  }

 private:
  void RunCuda() {
    const GpuInfo& g = Gpu();
    if (g.devices == 0) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "labelCell: options.device is 'cuda' but no CUDA device is usable: " + g.reason);
    }
#if defined(CELLCAM_HAVE_CUDA)
    std::string err;
    const auto t0 = std::chrono::steady_clock::now();
    // The chain runs once, at the working resolution (LabelCellRunOn scales around it); a batch
    // runs as one stacked chain.
    const LabelCellCoreFn core = [&](const LabelCellImages& at, int64_t w, int64_t h, const LabelCellConstants& k, int64_t* counts) {
      return gpu::LabelCellCore(at.nucleiPreds.data(), at.cellPreds.data(), w, h, k, at.nuclei.data(), at.cells.data(), &stats_, &timings_,
                                &err, at.Count(), counts) >= 0;
    };
    if (!LabelCellRunOn(core, io_, W_, H_, scale_, counts_.data(), threads_)) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "labelCell: CUDA error: " + err);
    }
    count_ = 0;
    for (int64_t c : counts_) count_ += c;
    timings_.totalMs = MsSince(t0);
#else
    throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "labelCell: " + g.reason);
#endif
  }

  const LabelCellImages io_;
  int64_t W_, H_;
  double scale_;
  int threads_;
  bool heap_, cuda_, cellsToo_;
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  gpu::Timings timings_;
  gpu::LabelCellStats stats_;
};

// One argument of labelCell / labelNuclei as per-image views: a typed array holding all `images`
// images stacked (the only form for one image), or, for a batch, an Array of `images` typed arrays
// of one image each (labelCellBatch's items, used where they are: no stacking copy). "" or the
// error, which names the argument, the expected type and length, and what was received;
// *typeError says whether a type (not a length or count) was wrong.
std::string ImageViews(const Napi::Value& v, const char* name, napi_typedarray_type type, const char* typeName, int64_t perImage,
                       int64_t images, bool rgb, std::vector<ArrayView>* out, bool* typeError) {
  *typeError = false;
  const char* const dimsOne = rgb ? "width*height*3" : "width*height";
  const char* const dimsAll = images == 1 ? dimsOne : rgb ? "width*height*images*3" : "width*height*images";
  const auto one = [&](const Napi::Value& x, int64_t length, const std::string& what, ArrayView* view) -> std::string {
    const char* const dims = length == perImage ? dimsOne : dimsAll;
    if (!IsType(x, type)) {
      *typeError = true;
      return MakeString("Expected ", typeName, " for ", what, " but received ", Describe(x));
    }
    *view = ViewOf(x.As<Napi::TypedArray>());
    if (static_cast<int64_t>(view->length) != length) {
      return MakeString("Expected ", typeName, " of length ", dims, " = ", length, " for ", what, " but received ", Describe(x));
    }
    return "";
  };
  out->assign(static_cast<size_t>(images), ArrayView{});
  if (images > 1 && v.IsArray()) {
    const Napi::Array a = v.As<Napi::Array>();
    if (static_cast<int64_t>(a.Length()) != images) {
      return MakeString("Expected an array of options.images = ", images, " ", typeName, "s for ", name, " but received ", Describe(v));
    }
    for (int64_t b = 0; b < images; ++b) {
      const std::string bad = one(a.Get(static_cast<uint32_t>(b)), perImage, MakeString(name, "[", b, "]"), &(*out)[b]);
      if (!bad.empty()) return bad;
    }
    return "";
  }
  ArrayView all;
  const std::string bad = one(v, perImage * images, name, &all);
  if (!bad.empty()) {
    return images > 1 && !IsType(v, type) ? MakeString("Expected ", typeName, " or an array of ", typeName, "s for ", name, " but received ", Describe(v))
                                          : bad;
  }
  const size_t bytes = static_cast<size_t>(perImage) * (type == napi_uint8_array ? 1 : 2);
  for (int64_t b = 0; b < images; ++b) {
    (*out)[b] = all;
    (*out)[b].data = static_cast<uint8_t*>(all.data) + bytes * b;
    (*out)[b].length = static_cast<size_t>(perImage);
  }
  return "";
}

// True when an output image's memory overlaps any other view (inputs may share memory: one
// prediction can be several items of a batch). One sort and sweep, for batches of any size.
bool OutputsOverlap(const std::vector<ArrayView>& inputs, size_t inBytes, const std::vector<ArrayView>& outputs, size_t outBytes) {
  struct Span {
    uintptr_t begin, end;
    bool output;
  };
  std::vector<Span> spans;
  for (const ArrayView& v : inputs) spans.push_back({reinterpret_cast<uintptr_t>(v.data), reinterpret_cast<uintptr_t>(v.data) + inBytes, false});
  for (const ArrayView& v : outputs) spans.push_back({reinterpret_cast<uintptr_t>(v.data), reinterpret_cast<uintptr_t>(v.data) + outBytes, true});
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  uintptr_t endAll = 0, endOut = 0;
  for (const Span& s : spans) {
    if (s.begin < (s.output ? endAll : endOut)) return true;
    endAll = std::max(endAll, s.end);
    if (s.output) endOut = std::max(endOut, s.end);
  }
  return false;
}

// Shared argument checks of labelCell / labelNuclei: sizes, threads, lengths, no aliasing.
Napi::Value Start(const Napi::CallbackInfo& info, bool cellsToo) {
  Napi::Env env = info.Env();
  const Napi::Value npV = info[0];
  const Napi::Value cpV = cellsToo ? info[1] : env.Null();
  const Napi::Value nuV = cellsToo ? info[2] : info[1];
  const Napi::Value ceV = cellsToo ? info[3] : env.Null();
  const Napi::Value optV = cellsToo ? info[4] : info[2];
  CELLCAM_TYPE_CHECK(optV.IsObject() && !optV.IsArray() && !optV.IsTypedArray(), env, "Expected an object for options but received ", Describe(optV));
  const Napi::Object o = optV.As<Napi::Object>();
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("width"), 1, 65536), env, "Expected an integer in [1, 65536] for options.width but received ", Describe(o.Get("width")));
  CELLCAM_RANGE_CHECK(IsIntIn(o.Get("height"), 1, 65536), env, "Expected an integer in [1, 65536] for options.height but received ", Describe(o.Get("height")));
  const int64_t W = OptInt(o, "width", 0), H = OptInt(o, "height", 0);
  CELLCAM_SHAPE_CHECK(W * H <= (int64_t{1} << 30), env, "Expected at most 2^30 pixels for options.width*height but received number ", W * H);
  // labelCell's `images`: a batch of that many width × height images, stacked in each array or one
  // array per image (ImageViews).
  const Napi::Value imV = o.Get("images");
  CELLCAM_RANGE_CHECK(imV.IsUndefined() || (cellsToo && IsIntIn(imV, 1, 65536)), env,
                      "Expected an integer in [1, 65536] for options.images but received ", Describe(imV));
  const int64_t images = OptInt(o, "images", 1);
  const int64_t n = W * H;
  CELLCAM_SHAPE_CHECK(n * images <= (int64_t{1} << 30), env, "Expected at most 2^30 pixels for options.width*height*images but received number ",
                      n * images);
  const Napi::Value thrV = o.Get("threads");
  CELLCAM_RANGE_CHECK(thrV.IsUndefined() || IsIntIn(thrV, 0, 1024), env, "Expected an integer in [0, 1024] for options.threads but received ", Describe(thrV));
  const int threads = ResolveThreads(OptInt(o, "threads", 1));
  double scale = 1;
  if (cellsToo) {
    const Napi::Value sv = o.Get("scale");
    scale = sv.IsNumber() ? sv.As<Napi::Number>().DoubleValue() : (sv.IsUndefined() ? 1.0 : -1.0);
    CELLCAM_RANGE_CHECK(scale == 1 || scale == 0.5 || scale == 0.25, env, "Expected 1, 0.5 or 0.25 for options.scale but received ", Describe(sv));
  }
  const std::string tie = OptString(o, "tieBreak", "heap");
  CELLCAM_THROW_IF(tie != "heap" && tie != "fifo", env, RangeError, "CELLCAM_E_ARG", "Expected 'heap' or 'fifo' for options.tieBreak but received ",
                   Describe(o.Get("tieBreak")));
  bool cuda = false;
  if (cellsToo) {
    const Napi::Value dv = o.Get("device");
    const std::string device = dv.IsUndefined() ? "cpu" : dv.IsString() ? dv.As<Napi::String>().Utf8Value() : "";
    CELLCAM_THROW_IF(device != "cpu" && device != "cuda", env, RangeError, "CELLCAM_E_ARG", "Expected 'cpu' or 'cuda' for options.device but received ",
                     Describe(dv));
    cuda = device == "cuda";
    // The device's watersheds flood in FIFO order: the heap's ties are sequential.
    CELLCAM_THROW_IF(cuda && tie == "heap", env, RangeError, "CELLCAM_E_ARG",
                     "Expected 'fifo' for options.tieBreak with options.device 'cuda' but received ", Describe(o.Get("tieBreak")));
  }
  std::vector<ArrayView> np, cp, nu, ce;
  // A wrong type is a TypeError, a wrong length a shape error: the same split as for one image.
  const auto check = [&](const Napi::Value& v, const char* name, napi_typedarray_type type, const char* typeName, int64_t perImage,
                         bool rgb, std::vector<ArrayView>* out) {
    bool typeError = false;
    const std::string bad = ImageViews(v, name, type, typeName, perImage, images, rgb, out, &typeError);
    if (bad.empty()) return true;
    MakeError(env, typeError ? ErrorKind::TypeError : ErrorKind::RangeError, typeError ? "CELLCAM_E_DTYPE" : "CELLCAM_E_SHAPE", bad)
        .ThrowAsJavaScriptException();
    return false;
  };
  if (!check(npV, "nucleiPred", napi_uint8_array, "Uint8Array", 3 * n, true, &np)) return env.Undefined();
  if (cellsToo && !check(cpV, "cellPred", napi_uint8_array, "Uint8Array", 3 * n, true, &cp)) return env.Undefined();
  if (!check(nuV, "nuclei", napi_uint16_array, "Uint16Array", n, false, &nu)) return env.Undefined();
  if (cellsToo && !check(ceV, "cells", napi_uint16_array, "Uint16Array", n, false, &ce)) return env.Undefined();
  // The outputs are written while the predictions are still read.
  std::vector<ArrayView> inputs = np, outputs = nu;
  inputs.insert(inputs.end(), cp.begin(), cp.end());
  outputs.insert(outputs.end(), ce.begin(), ce.end());
  CELLCAM_THROW_IF(OutputsOverlap(inputs, static_cast<size_t>(3 * n), outputs, static_cast<size_t>(2 * n)), env, RangeError, "CELLCAM_E_ARG",
                   "Expected output memory not overlapping the predictions or the other outputs for ", cellsToo ? "nuclei/cells" : "nuclei",
                   " but received ", Describe(nuV));

  LabelCellImages io;
  for (int64_t b = 0; b < images; ++b) {
    io.nucleiPreds.push_back(static_cast<const uint8_t*>(np[b].data));
    io.nuclei.push_back(static_cast<uint16_t*>(nu[b].data));
    if (cellsToo) {
      io.cellPreds.push_back(static_cast<const uint8_t*>(cp[b].data));
      io.cells.push_back(static_cast<uint16_t*>(ce[b].data));
    }
  }
  auto* w = new LabelCellWorker(env, std::move(io), W, H, scale, threads, tie == "heap", cuda);
  // Each typed array is pinned itself: the caller may change an Array form's elements meanwhile.
  for (const Napi::Value& v : {npV, nuV, cpV, ceV}) {
    if (!v.IsArray()) {
      if (!v.IsNull()) w->Pin(v);
      continue;
    }
    const Napi::Array a = v.As<Napi::Array>();
    for (uint32_t b = 0; b < a.Length(); ++b) w->Pin(a.Get(b));
  }
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

bool LabelCellRunOn(const LabelCellCoreFn& core, const LabelCellImages& io, int64_t W, int64_t H, double scale, int64_t* counts,
                    int threads) {
  const Constants k = LabelCellConstantsFor(scale);
  if (scale == 1) return core(io, W, H, k, counts);
  const int64_t images = io.Count();
  const int64_t f = static_cast<int64_t>(std::lround(1 / scale));
  const int64_t w = (W + f - 1) / f, h = (H + f - 1) / f, m = w * h;
  std::vector<uint8_t> np(static_cast<size_t>(3 * m * images)), cp(np.size());
  std::vector<uint16_t> ln(static_cast<size_t>(m * images)), lc(ln.size());
  for (int64_t b = 0; b < images; ++b) {
    Downscale(io.nucleiPreds[b], W, H, f, w, h, np.data() + 3 * m * b, threads);
    Downscale(io.cellPreds[b], W, H, f, w, h, cp.data() + 3 * m * b, threads);
  }
  const LabelCellImages small = LabelCellImages::Stacked(np.data(), cp.data(), ln.data(), lc.data(), m, images);
  if (!core(small, w, h, k, counts)) return false;
  for (int64_t b = 0; b < images; ++b) {
    Upscale(small.nuclei[b], w, io.nuclei[b], W, H, f, threads);
    Upscale(small.cells[b], w, io.cells[b], W, H, f, threads);
  }
  return true;
}

StackEnd RunInStacks(const LabelCellStackFn& run, const LabelCellImages& io, int64_t perStack, int64_t* counts, StackStats* stats) {
  const int64_t images = io.Count();
  int64_t size = std::max<int64_t>(1, std::min(perStack, images));
  for (int64_t first = 0; first < images;) {
    const int64_t count = std::min(size, images - first);
    const StackEnd end = run(io.Slice(first, count), counts + first);
    if (end == StackEnd::kDone) {
      ++stats->stacks;
      first += count;
      continue;
    }
    if (end == StackEnd::kFailed) return end;
    ++stats->retries;
    if (count == 1) return end;
    size = (count + 1) / 2;
  }
  return StackEnd::kDone;
}

int64_t ImagesPerStack(int64_t images, int64_t pixels, double availableBytes, double bytesPerPixel) {
  const double fit = std::floor(availableBytes / (bytesPerPixel * static_cast<double>(std::max<int64_t>(pixels, 1))));
  return fit >= static_cast<double>(images) ? images : std::max<int64_t>(1, static_cast<int64_t>(fit));
}

std::string OutOfDeviceMemory(int64_t width, int64_t height, double bytesPerPixel, double availableBytes, const std::string& cause) {
  const double mib = 1024.0 * 1024.0;
  return MakeString("out of device memory: one ", width, "x", height, " image (at the working resolution) needs about ",
                    std::lround(bytesPerPixel * static_cast<double>(width * height) / mib), " MiB, ",
                    std::lround(availableBytes / mib), " MiB were free (", cause, ")");
}

int64_t LabelCellRun(const uint8_t* nucleiPred, const uint8_t* cellPred, uint16_t* nuclei, uint16_t* cells, int64_t W, int64_t H,
                     double scale, int threads, bool heap) {
  int64_t count = 0;
  const LabelCellImages io{{nucleiPred}, {cellPred}, {nuclei}, {cells}};
  LabelCellRunOn([&](const LabelCellImages& at, int64_t w, int64_t h, const LabelCellConstants& k, int64_t* counts) {
    counts[0] = LabelCellCore(at.nucleiPreds[0], at.cellPreds[0], w, h, k, threads, heap, at.nuclei[0], at.cells[0]);
    return true;
  }, io, W, H, scale, &count, threads);
  return count;
}

int64_t LabelNucleiRun(const uint8_t* np, uint16_t* nuclei, int64_t W, int64_t H, int threads, bool heap) {
  const int64_t n = W * H;
  std::vector<int32_t> sizes;
  // Raw 0..255 values against 0.05 / 0.15 / 0.4: "> 0" tests, as upstream.
  std::vector<uint8_t> seeds(n), mask(n), eroded(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t p1 = np[3 * i + 1], p2 = np[3 * i + 2];
    seeds[i] = p1 == 0 && p2 > 0;
    mask[i] = p2 > 0;
  }
  morph::BinaryErosion(seeds.data(), eroded.data(), W, H, 4, true, threads);
  std::vector<int32_t> markers(n), ws(n);
  LabelComponents(eroded.data(), napi_uint8_array, markers.data(), W, H, 8, false, threads, sizes);
  morph::RemoveSmallHoles(mask.data(), mask.data(), W, H, 4, 1000, threads);
  WatershedFlood(mask.data(), napi_uint8_array, markers.data(), mask.data(), ws.data(), W, H, 4, true, heap);
  morph::RemoveSmallObjectsLabels<int32_t>(ws.data(), ws.data(), n, 2500);
  const int64_t count = LabelComponents(ws.data(), napi_int32_array, markers.data(), W, H, 8, true, threads, sizes);
  for (int64_t i = 0; i < n; ++i) nuclei[i] = static_cast<uint16_t>(markers[i]);
  return count;
}

// labelCell(nucleiPred, cellPred, nuclei, cells, {width, height, scale, threads, tieBreak, device})
//   -> Promise<{cellCount, device, timings?, watersheds?}>
Napi::Value LabelCell(const Napi::CallbackInfo& info) { return Start(info, true); }

// labelNuclei(nucleiPred, nuclei, {width, height, threads, tieBreak}) -> Promise<{count}>
Napi::Value LabelNuclei(const Napi::CallbackInfo& info) { return Start(info, false); }

}  // namespace cellcam
