// Seeded watershed with scikit-image 0.19 semantics: a FIFO bucket queue (fast; seed ties break in
// raster order) and an exact emulation of skimage's binary heap (bit-identical, seed ties included).
// docs/kernels/watershed.md explains the semantics, the state encoding and why both are exact.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>
#if defined(_MSC_VER)
#include <intrin.h>
#endif

#include "common.h"
#include "kernels.h"
#include "scratch.h"
#include "watershed.h"

namespace cellcam {
namespace {

// The caller's `out` doubles as the flood state (no extra label/mask arrays):
//   0           inside the mask, not reached yet
//   L > 0       labelled L
//   -L < 0      wsl/fifo only: queued with pending label L (labelled when popped)
//   kMasked     outside the mask, or a watershed-line pixel
// Labels are the caller's markers, 1..2^31-1, so -L never collides with kMasked.
constexpr int32_t kMasked = std::numeric_limits<int32_t>::min();

// The per-neighbour lambdas must inline into the flood loop (GCC otherwise calls them 4-8x/pixel).
#if defined(__GNUC__)
#define CELLCAM_WS_INLINE __attribute__((always_inline))
#else
#define CELLCAM_WS_INLINE
#endif

inline int Ctz64(uint64_t m) {
#if defined(_MSC_VER)
  unsigned long i;
  _BitScanForward64(&i, m);
  return static_cast<int>(i);
#else
  return __builtin_ctzll(m);
#endif
}

// Prefetches base[i] for reading, i clamped into [0, n).
template <typename T>
inline void Prefetch(const T* base, int64_t i, int64_t n) {
  i = i < 0 ? 0 : i >= n ? n - 1 : i;
#if defined(__GNUC__)
  __builtin_prefetch(base + i);
#else
  (void)base;
#endif
}


// The flood's randomly accessed state and queues: uninitialised, from the scratch cache (scratch.h),
// 2 MiB-aligned with transparent huge pages: the flood touches a few rows around each of thousands
// of wavefront pixels spread over the image, which with 4 KiB pages overflows the TLB from 2048^2
// up (a page walk per neighbour row).
template <typename T>
using FloodBuffer = Scratch<T>;

// Pixel indices (seeds, handed-over queue entries) up to a known count, in scratch memory: no
// growth, no copies, no fresh pages once the cache holds a block (2.8 M seeds in labelCell).
class PixelList {
 public:
  explicit PixelList(size_t capacity) : buf_(capacity) {}
  void push_back(int32_t p) { buf_.get()[n_++] = p; }
  size_t size() const { return n_; }
  const int32_t* begin() const { return buf_.get(); }
  const int32_t* end() const { return buf_.get() + n_; }
  int32_t operator[](size_t k) const { return buf_.get()[k]; }

 private:
  Scratch<int32_t> buf_;
  size_t n_ = 0;
};

struct Shape {
  int32_t W;
  int32_t H;
  int64_t N;
  // p / W without a division instruction. Exact for p < 2^30, W <= 2^16: (p + 0.5) / W is at least
  // 0.5 / W >= 2^-17 away from an integer and the two roundings err by less than 2^-21.
  double invW;
  int32_t Row(int32_t p) const { return static_cast<int32_t>((p + 0.5) * invW); }
};

// Which levels are non-empty, as a tree of 64-bit words, so the next non-empty level is found in a
// few ctz steps even with millions of levels (float32 ranks). Levels < the current one are empty.
class LevelBits {
 public:
  explicit LevelBits(int64_t levels) : levels_(static_cast<int32_t>(levels)) {
    int64_t n = levels;
    do {
      n = (n + 63) / 64;
      store_.emplace_back(static_cast<size_t>(n), 0);
    } while (n > 1);
    tiers_ = static_cast<int>(store_.size());
    for (int k = 0; k < tiers_; ++k) {
      tier_[k] = store_[k].data();
      size_[k] = static_cast<int64_t>(store_[k].size());
    }
  }
  void Set(int32_t l) {
    for (int k = 0; k < tiers_; ++k) {
      uint64_t& w = tier_[k][l >> 6];
      const bool wasEmpty = w == 0;
      w |= uint64_t{1} << (l & 63);
      if (!wasEmpty) return;
      l >>= 6;
    }
  }
  void Clear(int32_t l) {
    for (int k = 0; k < tiers_; ++k) {
      uint64_t& w = tier_[k][l >> 6];
      w &= ~(uint64_t{1} << (l & 63));
      if (w != 0) return;
      l >>= 6;
    }
  }
  // Smallest non-empty level >= from, or `levels` when there is none.
  int32_t Next(int32_t from) const {
    int64_t pos = from;
    int k = 0;
    for (;; ++k) {
      if (k == tiers_) return levels_;
      const int64_t w = pos >> 6;
      if (w >= size_[k]) return levels_;
      const uint64_t m = tier_[k][w] & (~uint64_t{0} << (pos & 63));
      if (m != 0) {
        pos = (w << 6) + Ctz64(m);
        break;
      }
      pos = w + 1;
    }
    while (k > 0) {
      --k;
      pos = (pos << 6) + Ctz64(tier_[k][pos]);
    }
    return static_cast<int32_t>(pos);
  }

 private:
  int32_t levels_;
  int tiers_ = 0;
  uint64_t* tier_[6] = {};
  int64_t size_[6] = {};
  std::vector<std::vector<uint64_t>> store_;
};

// Calls f(n) for the neighbours of p in scikit-image's order (sorted by distance, then raveled
// offset): up, left, right, down, then up-left, up-right, down-left, down-right. Neighbours
// outside the image do not exist (skimage pads with an outside-mask border).
template <int CONN, typename F>
CELLCAM_WS_INLINE inline void ForNeighbours(const Shape& s, int32_t p, F&& f) {
  const int32_t W = s.W;
  const int32_t y = s.Row(p);
  const int32_t x = p - y * W;
  if (x > 0 && x < W - 1 && y > 0 && y < s.H - 1) {  // interior fast path: no bounds checks
    f(p - W);
    f(p - 1);
    f(p + 1);
    f(p + W);
    if (CONN == 8) {
      f(p - W - 1);
      f(p - W + 1);
      f(p + W - 1);
      f(p + W + 1);
    }
    return;
  }
  const bool up = y > 0, down = y < s.H - 1, left = x > 0, right = x < W - 1;
  if (up) f(p - W);
  if (left) f(p - 1);
  if (right) f(p + 1);
  if (down) f(p + W);
  if (CONN == 8) {
    if (up && left) f(p - W - 1);
    if (up && right) f(p - W + 1);
    if (down && left) f(p + W - 1);
    if (down && right) f(p + W + 1);
  }
}

// skimage's _diff_neighbors without the mask write: true when the in-mask neighbours carry two
// different nonzero labels. (Its running "first label" makes the result order-independent.)
template <int CONN>
CELLCAM_WS_INLINE inline bool DiffNeighbours(const Shape& s, const int32_t* S, int32_t p) {
  int32_t l0 = 0;
  bool diff = false;
  ForNeighbours<CONN>(s, p, [&](int32_t n) CELLCAM_WS_INLINE {
    const int32_t v = S[n];
    if (v == kMasked) return;
    const int32_t lv = v > 0 ? v : 0;  // pending (-L) counts as unlabelled, as in skimage
    if (l0 == 0) l0 = lv;
    else if (lv != 0 && lv != l0) diff = true;
  });
  return diff;
}

// Without a line, whether popping seed p can still do anything: some neighbour is unlabelled and in
// the mask (state 0). Labels only grow without a line, so once false it stays false, and a seed for
// which it is false pops as a no-op: the FIFO floods do not queue it at all. (With a line every
// seed pops: its line test can mask it, which changes its neighbours' tests.)
template <int CONN>
CELLCAM_WS_INLINE inline bool Active(const Shape& s, const int32_t* S, int32_t p) {
  bool active = false;
  ForNeighbours<CONN>(s, p, [&](int32_t n) CELLCAM_WS_INLINE { active |= S[n] == 0; });
  return active;
}

// How many queue entries ahead the floods prefetch the rows of the pixels to come.
constexpr int32_t kAhead = 12;

// A marker pixel masked as a line keeps its label in skimage's output; restored at the end.
struct Quirk {
  int32_t index;
  int32_t label;
};

// FIFO bucket queue. In both modes a pixel is queued at most once (wsl: the later pushes of a
// pixel in skimage pop after the first one and are no-ops, so dropping them keeps the order), so
// every level gets a fixed slice of one flat array sized by the level histogram (counting-sort
// layout): no allocation while flooding and sequential writes per level.
template <typename LT, int CONN, bool WSL>
void FloodFifo(const Shape& s, const LT* lev, int32_t* S, int32_t levels, const std::vector<int32_t>& hist,
               int64_t inMask, const PixelList& seeds, std::vector<Quirk>& quirks) {
  std::vector<int32_t> head(static_cast<size_t>(levels)), tail(static_cast<size_t>(levels));
  int32_t acc = 0;
  for (int32_t l = 0; l < levels; ++l) {
    head[l] = tail[l] = acc;
    acc += hist[l];
  }
  FloodBuffer<int32_t> q(static_cast<size_t>(std::max<int64_t>(inMask, 1)));
  int32_t* const qp = q.get();
  int32_t* const hp = head.data();
  int32_t* const tp = tail.data();
  LevelBits bits(levels);
  int32_t cur = levels;

  auto enqueue = [&](int32_t n) CELLCAM_WS_INLINE {
    const int32_t l = lev[n];
    if (hp[l] == tp[l]) bits.Set(l);
    qp[tp[l]++] = n;
    // No clamping (skimage 0.19): a lower neighbour goes to its own, lower level.
    if (l < cur) cur = l;
  };
  for (int32_t p : seeds) {
    if (!WSL && !Active<CONN>(s, S, p)) continue;
    enqueue(p);
  }

  while (cur < levels) {
    if (hp[cur] == tp[cur]) {
      bits.Clear(cur);
      cur = bits.Next(cur + 1);
      continue;
    }
    const int32_t h = hp[cur]++;
    const int32_t p = qp[h];
    if (h + kAhead < tp[cur]) {
      const int32_t a = qp[h + kAhead];
      Prefetch(S, a, s.N);
      Prefetch(S, int64_t{a} - s.W, s.N);
      Prefetch(S, int64_t{a} + s.W, s.N);
      Prefetch(lev, int64_t{a} - s.W, s.N);
      Prefetch(lev, int64_t{a} + s.W, s.N);
    }
    if (!WSL) {
      const int32_t label = S[p];
      ForNeighbours<CONN>(s, p, [&](int32_t n) CELLCAM_WS_INLINE {
        if (S[n] == 0) {
          S[n] = label;
          enqueue(n);
        }
      });
    } else {
      const int32_t v = S[p];  // seed: label > 0; otherwise pending: -label
      const int32_t label = v > 0 ? v : -v;
      if (DiffNeighbours<CONN>(s, S, p)) {
        if (v > 0) quirks.push_back({p, v});
        S[p] = kMasked;
        continue;
      }
      S[p] = label;
      ForNeighbours<CONN>(s, p, [&](int32_t n) CELLCAM_WS_INLINE {
        if (S[n] == 0) {
          S[n] = -label;
          enqueue(n);
        }
      });
    }
  }
}

// The default mode (fifo, no line) for integer elevation, on its own data layout tuned for memory
// traffic: the flood reads and writes ONE word per pixel at random (16 bits for uint8 elevation
// with < 64 distinct labels, else 32; B = its bit count),
//   bits [0, LB)        level (the elevation value)
//   bits [LB, B - 2)    compact label id (index into the sorted distinct seed labels, plus 1)
//   bit B - 2 (kBorder) on the image border: its neighbours need bounds checks
//   bit B - 1 (kBlocked) outside the mask, or already queued
// queue entries are 4-byte pixel indices (sign bit = border pixel, so the interior needs neither
// bounds checks nor a division), and `out` is written once, sequentially, at the end.
// Same pop order as FloodFifo (tests compare them through the TypeScript twin).

// The flood on words of WT (16 bits: uint8 levels and < 64 labels, half the memory traffic).
template <typename LT, int LB, int CONN, typename WT>
void FloodPlain(const Shape& s, WT* const wl, const int32_t* markers, const PixelList& seeds,
                const std::vector<int32_t>& labels, const std::vector<int32_t>& hist4, int32_t* out) {
  constexpr int32_t levels = 1 << LB;
  constexpr uint32_t kLevel = (1u << LB) - 1;
  constexpr int kBits = 8 * sizeof(WT);
  constexpr WT kBlocked = WT(1) << (kBits - 1), kBorder = WT(1) << (kBits - 2);
  constexpr WT kIds = WT(~(kBlocked | kBorder | kLevel));
  // 256 levels: the next non-empty level is found by a short scan, with no bookkeeping per push.
  constexpr bool kScan = LB <= 8;
  const int32_t W = s.W, H = s.H;
  const int64_t N = s.N;
  int32_t lastLabel = 0;
  uint32_t id = 0;
  for (int32_t p : seeds) {
    if (markers[p] != lastLabel) {
      lastLabel = markers[p];
      id = static_cast<uint32_t>(std::lower_bound(labels.begin(), labels.end(), lastLabel) - labels.begin()) + 1;
    }
    wl[p] = static_cast<WT>(wl[p] | (id << LB));
  }
  for (int32_t x = 0; x < W; ++x) {
    wl[x] |= kBorder;
    wl[int64_t{H - 1} * W + x] |= kBorder;
  }
  for (int32_t y = 0; y < H; ++y) {
    wl[int64_t{y} * W] |= kBorder;
    wl[int64_t{y} * W + W - 1] |= kBorder;
  }

  // Level l owns slots [head, head + hist[l] + 1): each pixel is queued at most once; the spare
  // slot takes the unconditional write of the branch-free push below.
  std::vector<int32_t> head(levels), tail(levels);
  int32_t acc = 0;
  for (int32_t l = 0; l < levels; ++l) {
    head[l] = tail[l] = acc;
    acc += hist4[l] + hist4[levels + l] + hist4[2 * levels + l] + hist4[3 * levels + l] + 1;
  }
  FloodBuffer<int32_t> qbuf(static_cast<size_t>(acc));
  int32_t* const q = qbuf.get();
  int32_t* const hp = head.data();
  int32_t* const tp = tail.data();
  LevelBits bits(kScan ? 1 : levels);
  int32_t cur = levels;
  for (int32_t p : seeds) {
    // A seed whose neighbours are all blocked (seeds, outside the mask) pops as a no-op: skip it.
    bool active = false;
    ForNeighbours<CONN>(s, p, [&](int32_t n) CELLCAM_WS_INLINE { active |= !(wl[n] & kBlocked); });
    if (!active) continue;
    const int32_t l = static_cast<int32_t>(wl[p] & kLevel);
    if (!kScan && hp[l] == tp[l]) bits.Set(l);
    q[tp[l]++] = (wl[p] & kBorder) ? static_cast<int32_t>(static_cast<uint32_t>(p) | 0x80000000u) : p;
    if (l < cur) cur = l;
  }

  // Noisy elevation keeps pushing a neighbour BELOW the current level (no clamping in 0.19). Those
  // pixels pop next, before anything queued, so instead of a round trip through the level queues
  // (switch down, drain, search up: three unpredictable branches) they wait in a 4-slot buffer in
  // push order and pop from there (lowest level, first pushed among equals). Queue levels below
  // `cur` stay empty; a full buffer spills into the queues and `cur` moves down.
  constexpr int kBuf = 4;
  int32_t bufPixel[kBuf] = {0, 0, 0, 0}, bufLevel[kBuf] = {levels, levels, levels, levels};
  int nb = 0;
  int32_t hcur = cur < levels ? hp[cur] : 0;  // the current level's head lives in a register
  int32_t low = cur;                          // lowest level a spill pushed to
  auto enqueue = [&](int32_t entry, int32_t l) CELLCAM_WS_INLINE {
    if (!kScan && hp[l] == tp[l] && l != cur) bits.Set(l);  // hp[cur] is stale; cur's bit is set
    q[tp[l]++] = entry;
    if (l < low) low = l;
  };
  auto spill = [&]() {
    for (int j = 0; j < nb; ++j) enqueue(bufPixel[j], bufLevel[j]);
    for (int j = 0; j < kBuf; ++j) bufLevel[j] = levels;
    nb = 0;
  };
  auto visit = [&](int32_t n, WT mark) CELLCAM_WS_INLINE {
    const WT w = wl[n];
    if (w & kBlocked) return;
    wl[n] = static_cast<WT>(w | mark);
    const int32_t l = static_cast<int32_t>(w & kLevel);
    const int32_t entry = n | static_cast<int32_t>(static_cast<uint32_t>(w & kBorder) << (33 - kBits));
    if (kScan) {
      // Branch-free choice between the buffer and the level queue (the unused target gets a
      // harmless write: the buffer slot past the end, or the spare slot of the level).
      const int32_t below = l < cur;
      const int32_t t = tp[l];
      int32_t* const slot = below ? &bufPixel[nb] : &q[t];
      *slot = entry;
      bufLevel[nb] = below ? l : levels;
      tp[l] = t + (below ^ 1);
      nb += below;
      if (nb == kBuf) spill();
      return;
    }
    if (l >= cur) {
      enqueue(entry, l);
    } else {
      bufPixel[nb] = entry;
      bufLevel[nb++] = l;
      if (nb == kBuf) spill();
    }
  };

  while (cur < levels) {
    int32_t e;
    if (nb > 0) {
      // Fixed size and branch-free: empty slots hold level `levels`, so they never win.
      int k = 0;
      for (int j = 1; j < kBuf; ++j) k = bufLevel[j] < bufLevel[k] ? j : k;
      e = bufPixel[k];
      for (int j = 0; j < kBuf - 1; ++j) {
        const bool shift = j >= k;
        bufPixel[j] = shift ? bufPixel[j + 1] : bufPixel[j];
        bufLevel[j] = shift ? bufLevel[j + 1] : bufLevel[j];
      }
      bufLevel[kBuf - 1] = levels;
      --nb;
    } else {
      if (hcur == tp[cur]) {
        hp[cur] = hcur;
        if (kScan) {
          int32_t l = cur + 1;
          while (l < levels && hp[l] == tp[l]) ++l;
          cur = low = l;
        } else {
          bits.Clear(cur);
          cur = low = bits.Next(cur + 1);
        }
        if (cur < levels) hcur = hp[cur];
        continue;
      }
      e = q[hcur++];
      // The queue says which pixels come next: fetch their rows early so the misses overlap.
      const int32_t a = q[std::min(hcur + kAhead, tp[cur] - 1)] & 0x7FFFFFFF;
      Prefetch(wl, a, N);
      Prefetch(wl, int64_t{a} - W, N);
      Prefetch(wl, int64_t{a} + W, N);
    }
    if (e >= 0) {
      const int32_t p = e;
      const WT mark = static_cast<WT>(kBlocked | (wl[p] & kIds));
      visit(p - W, mark);
      visit(p - 1, mark);
      visit(p + 1, mark);
      visit(p + W, mark);
      if (CONN == 8) {
        visit(p - W - 1, mark);
        visit(p - W + 1, mark);
        visit(p + W - 1, mark);
        visit(p + W + 1, mark);
      }
    } else {
      const int32_t p = e & 0x7FFFFFFF;
      const WT mark = static_cast<WT>(kBlocked | (wl[p] & kIds));
      const int32_t y = s.Row(p), x = p - y * W;
      const bool up = y > 0, down = y < H - 1, left = x > 0, right = x < W - 1;
      if (up) visit(p - W, mark);
      if (left) visit(p - 1, mark);
      if (right) visit(p + 1, mark);
      if (down) visit(p + W, mark);
      if (CONN == 8) {
        if (up && left) visit(p - W - 1, mark);
        if (up && right) visit(p - W + 1, mark);
        if (down && left) visit(p + W - 1, mark);
        if (down && right) visit(p + W + 1, mark);
      }
    }
    if (low != cur) {  // only after a spill
      hp[cur] = hcur;
      cur = low;
      hcur = hp[cur];
    }
  }

  // Labels out, sequentially (id 0: unlabelled or outside the mask).
  std::vector<int32_t> table(labels.size() + 1, 0);
  std::copy(labels.begin(), labels.end(), table.begin() + 1);
  const int32_t* const tb = table.data();
  for (int64_t i = 0; i < N; ++i) out[i] = tb[(wl[i] & kIds) >> LB];
}

// Returns false, before writing `out`, when the seed labels do not fit the id bits.
template <typename LT, int LB, int CONN>
bool RunFifoPlain(const Shape& s, const LT* lev, const int32_t* markers, const uint8_t* mask, int32_t* out) {
  // The init writes level and blocked flag only: 16-bit words for uint8 levels (widened below
  // when there are too many labels for 16-bit words), 32-bit otherwise.
  using WT = std::conditional_t<(LB <= 8), uint16_t, uint32_t>;
  constexpr int32_t levels = 1 << LB;
  constexpr WT kBlocked = WT(1) << (8 * sizeof(WT) - 1);
  const int64_t N = s.N;
  FloodBuffer<WT> wbuf(static_cast<size_t>(N));
  WT* const wl = wbuf.get();

  // Init. Four interleaved histograms break the store-to-load chain of equal consecutive levels;
  // negative markers are found by OR-ing all of them (and located only on failure).
  std::vector<int32_t> hist4(static_cast<size_t>(4 * levels), 0);
  PixelList seeds(static_cast<size_t>(N));
  int32_t neg = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int32_t v = markers[i];
    neg |= v;
    const uint32_t l = lev[i];
    const uint32_t inside = mask ? (mask[i] != 0) : 1u;
    wl[i] = static_cast<WT>(l | ((inside && v == 0) ? 0u : kBlocked));
    hist4[(i & 3) * levels + l] += static_cast<int32_t>(inside);
    if (inside && v > 0) seeds.push_back(static_cast<int32_t>(i));
  }
  if (neg < 0) {
    for (int64_t i = 0; i < N; ++i)
      if (markers[i] < 0)
        throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                          MakeString("Expected a value >= 0 for markers[", i, "] but received number ", markers[i]));
  }
  // Distinct labels: seeds come in long raster runs of one label, so only run starts are sorted.
  std::vector<int32_t> labels;
  for (size_t k = 0; k < seeds.size(); ++k) {
    const int32_t v = markers[seeds[k]];
    if (labels.empty() || labels.back() != v) labels.push_back(v);
  }
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  if (labels.size() >= (size_t{1} << (30 - LB))) return false;
  if constexpr (sizeof(WT) == 2) {
    if (labels.size() < (size_t{1} << (14 - LB))) {
      FloodPlain<LT, LB, CONN, uint16_t>(s, wl, markers, seeds, labels, hist4, out);
      return true;
    }
    FloodBuffer<uint32_t> wide(static_cast<size_t>(N));
    uint32_t* const w32 = wide.get();
    for (int64_t i = 0; i < N; ++i) {
      const uint32_t w = wl[i];
      w32[i] = (w & ((1u << LB) - 1)) | ((w & kBlocked) ? 0x80000000u : 0u);
    }
    FloodPlain<LT, LB, CONN, uint32_t>(s, w32, markers, seeds, labels, hist4, out);
  } else {
    FloodPlain<LT, LB, CONN, uint32_t>(s, wl, markers, seeds, labels, hist4, out);
  }
  return true;
}

// scikit-image 0.19's heap (heap_general.pxi) with 16-byte items: key = level << 34 | age orders
// exactly like its (value, age) comparison; pushes/pops make the same comparisons in the same
// order (a moving "hole" instead of swaps), so equal keys (seeds of equal value) pop in its order.
struct HeapItem {
  uint64_t key;
  int32_t index;
  int32_t label;
};
constexpr int kAgeBits = 34;  // ages < 8 * 2^30 + 2^30 pushes; levels < 2^30
constexpr uint64_t kAgeMask = (uint64_t{1} << kAgeBits) - 1;

// The heap itself, over any item type: `key(item)` is what is compared. Push and pop move a
// "hole" exactly as skimage's heap does, so equal keys leave in its order. Only the memory side
// differs from a plain array: item k sits at byte (k + 1) * sizeof(Item) of a 64-byte-aligned
// scratch block (scratch.h), so two siblings share a cache line, and (8-byte items) the 8
// great-grandchildren of a node are one line, fetched three levels before the sift-down reaches
// them. The next child is picked without a branch (a sentinel past the end loses every
// comparison): the pick is a coin flip on noisy keys.
template <typename Item, typename KeyFn>
class SkimageHeap {
 public:
  SkimageHeap(size_t reserve, KeyFn key) : key_(key) { Grow(std::max<size_t>(reserve, 1024)); }
  ~SkimageHeap() { scratch::Release(block_, blockBytes_); }
  SkimageHeap(const SkimageHeap&) = delete;
  SkimageHeap& operator=(const SkimageHeap&) = delete;
  bool Empty() const { return n_ == 0; }
  // The items left, in heap order: the hand-over to the FIFO flood sorts them in place.
  Item* begin() { return h_; }
  Item* end() { return h_ + n_; }
  void Push(const Item& it) {
    if (n_ + 2 > cap_) Grow(cap_ * 2);
    size_t child = n_++;
    Item* const h = h_;
    const uint64_t k = key_(it);
    while (child > 0) {
      const size_t parent = (child + 1) / 2 - 1;
      if (k < key_(h[parent])) {
        h[child] = h[parent];
        child = parent;
      } else {
        break;
      }
    }
    h[child] = it;
  }
  Item Pop() {
    Item* const h = h_;
    const Item top = h[0];
    const size_t n = --n_;
    if (n == 0) return top;
    const Item x = h[n];
    h[n] = sentinel_;  // a right child at n is never picked (skimage checks r < n)
    const uint64_t xk = key_(x);
    size_t i = 0;
    for (;;) {
      const size_t l = 2 * i + 1;
      if (l >= n) break;
      const size_t ahead = 8 * i + 7;
      if (ahead < n) {
        __builtin_prefetch(h + ahead);
        if (sizeof(Item) > 8) __builtin_prefetch(h + ahead + 4);
      }
      // skimage: smallest = l if l < x; then r if r < smallest. Equivalently: c = r if r < l else
      // l, and move c up if c < x (if l >= x and r < x, then r < l).
      const bool right = key_(h[l + 1]) < key_(h[l]);
      const size_t c = l + right;
      if (!(key_(h[c]) < xk)) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = x;
    return top;
  }

 private:
  void Grow(size_t cap) {
    // One spare item in front (alignment: scratch blocks are 64-byte aligned) and one behind (the
    // sentinel slot at n).
    size_t blockBytes = 0;
    void* block = scratch::Acquire((cap + 2) * sizeof(Item), &blockBytes);
    Item* h = static_cast<Item*>(block) + 1;
    if (n_) std::memcpy(static_cast<void*>(h), h_, n_ * sizeof(Item));
    scratch::Release(block_, blockBytes_);
    block_ = block;
    blockBytes_ = blockBytes;
    h_ = h;
    cap_ = cap;
  }
  KeyFn key_;
  Item sentinel_ = KeyFn::Sentinel();
  void* block_ = nullptr;
  size_t blockBytes_ = 0;
  Item* h_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

struct WideKey {
  uint64_t operator()(const HeapItem& it) const { return it.key; }
  static HeapItem Sentinel() { return {~uint64_t{0}, 0, 0}; }
};

// The same heap with 8-byte items, used when level, age and pixel index fit one word (layout in
// FloodHeapCompact), compared on item >> shift, which is (level, age) and so the same predicate as
// the 16-byte key: every push and pop makes the same moves. Half the memory for millions of seed
// items, and two children share 16 bytes. The label is not in the item: the state holds it (no line: labelled at push; line: -label pending from the first push, and the
// first push of a pixel pops first, as its later pushes have the same level and larger ages).
struct CompactKey {
  int shift;
  uint64_t operator()(uint64_t it) const { return it >> shift; }
  static uint64_t Sentinel() { return ~uint64_t{0}; }
};

using WideHeap = SkimageHeap<HeapItem, WideKey>;
using CompactHeap = SkimageHeap<uint64_t, CompactKey>;

inline int BitWidth(uint64_t v) {
  int b = 0;
  while (v) {
    ++b;
    v >>= 1;
  }
  return b;
}

template <typename LT, int CONN, bool WSL>
void FloodHeapCompact(const Shape& s, const LT* lev, int32_t* S, int32_t levels, const std::vector<int32_t>& hist,
                      int64_t inMask, const PixelList& seeds, std::vector<Quirk>& quirks, int ageBits,
                      int indexBits) {
  // item = level << (ageBits + shift) | age << shift | index << 1 | active, shift = indexBits + 1,
  // compared on item >> shift = (level, age). `active` is 0 for a seed
  // that can never push (no line, and no neighbour unlabelled at the start: labels only grow without
  // a line, so that stays true): its pop is then pure heap work, with no random reads of the image.
  // It sits below the key, so the heap's moves are unchanged. (Most of watershed 3's 2.8 M seeds in
  // labelCell are cell interiors.)
  const int shift = indexBits + 1, AI = ageBits + shift;
  const uint64_t ageMask = (uint64_t{1} << ageBits) - 1, indexMask = (uint64_t{1} << indexBits) - 1;
  CompactHeap heap(seeds.size() * 4, CompactKey{shift});
  for (int32_t p : seeds) {
    const bool active = WSL || Active<CONN>(s, S, p);
    heap.Push((static_cast<uint64_t>(lev[p]) << AI) | (static_cast<uint64_t>(p) << 1) | active);
  }
  size_t seedsLeft = seeds.size();
  uint64_t age = 1;
  while (!heap.Empty() && seedsLeft > 0) {
    const uint64_t e = heap.Pop();
    const bool seed = ((e >> shift) & ageMask) == 0;
    seedsLeft -= seed;
    if (!(e & 1)) continue;
    const int32_t p = static_cast<int32_t>((e >> 1) & indexMask);
    int32_t label;
    if (WSL) {
      const int32_t v = S[p];
      if (!seed && (v > 0 || v == kMasked)) continue;  // already labelled, or a line pixel
      if (DiffNeighbours<CONN>(s, S, p)) {
        if (seed) quirks.push_back({p, v});
        S[p] = kMasked;
        continue;
      }
      label = seed ? v : -v;
      S[p] = label;
    } else {
      label = S[p];
    }
    ForNeighbours<CONN>(s, p, [&](int32_t n) CELLCAM_WS_INLINE {
      const int32_t v = S[n];
      if (WSL) {
        if (v > 0 || v == kMasked) return;  // pending (< 0) pixels are pushed again, as in skimage
        if (v == 0) S[n] = -label;
      } else {
        if (v != 0) return;
        S[n] = label;
      }
      heap.Push((static_cast<uint64_t>(lev[n]) << AI) | (++age << shift) | (static_cast<uint64_t>(n) << 1) | 1);
    });
  }
  if (heap.Empty()) return;
  std::sort(heap.begin(), heap.end());  // no seeds left: (level, age) are distinct, index breaks no tie
  PixelList entries(static_cast<size_t>(heap.end() - heap.begin()));
  if (!WSL) {
    for (uint64_t it : heap) entries.push_back(static_cast<int32_t>((it >> 1) & indexMask));
  } else {
    // Pending pixels already hold -label (the FIFO flood's pending state); keep each one's first entry.
    std::vector<uint8_t> taken(static_cast<size_t>(s.N), 0);
    for (uint64_t it : heap) {
      const int32_t p = static_cast<int32_t>((it >> 1) & indexMask);
      if (S[p] < 0 && S[p] != kMasked && !taken[p]) {
        taken[p] = 1;
        entries.push_back(p);
      }
    }
  }
  FloodFifo<LT, CONN, WSL>(s, lev, S, levels, hist, inMask, entries, quirks);
}

// Emulates skimage's heap exactly while seeds (age 0, the only equal keys) remain in it. After the
// last seed pops every key is distinct, so any exact (value, age) order is skimage's order: the
// rest is sorted and handed to the FIFO flood, whose per-level FIFO is exactly age order. (wsl:
// a pixel's later duplicates are no-ops in skimage, so only its first entry is kept, as pending.)
template <typename LT, int CONN, bool WSL>
void FloodHeap(const Shape& s, const LT* lev, int32_t* S, int32_t levels, const std::vector<int32_t>& hist,
               int64_t inMask, const PixelList& seeds, std::vector<Quirk>& quirks) {
  {
    // Pushes: at most one per pixel without a line, one per (pixel, popped neighbour) with one.
    const int ageBits = BitWidth(static_cast<uint64_t>(s.N) * (WSL ? CONN + 1 : 1) + 1);
    const int indexBits = std::max(1, BitWidth(static_cast<uint64_t>(s.N - 1)));
    const int levelBits = BitWidth(static_cast<uint64_t>(std::max(levels - 1, 1)));
    if (levelBits + ageBits + indexBits + 1 <= 64) {  // + the `active` bit
      FloodHeapCompact<LT, CONN, WSL>(s, lev, S, levels, hist, inMask, seeds, quirks, ageBits, indexBits);
      return;
    }
  }
  WideHeap heap(seeds.size() * 4, WideKey{});
  for (int32_t p : seeds) heap.Push({static_cast<uint64_t>(lev[p]) << kAgeBits, p, S[p]});
  size_t seedsLeft = seeds.size();
  uint64_t age = 1;
  while (!heap.Empty() && seedsLeft > 0) {
    const HeapItem e = heap.Pop();
    const int32_t p = e.index;
    const bool seed = (e.key & kAgeMask) == 0;
    seedsLeft -= seed;
    if (WSL) {
      if (!seed && S[p] != 0) continue;  // already labelled, or a line pixel
      if (DiffNeighbours<CONN>(s, S, p)) {
        if (seed) quirks.push_back({p, S[p]});
        S[p] = kMasked;
        continue;
      }
      S[p] = e.label;
    }
    const int32_t label = e.label;
    ForNeighbours<CONN>(s, p, [&](int32_t n) CELLCAM_WS_INLINE {
      if (S[n] != 0) return;
      if (!WSL) S[n] = label;
      heap.Push({(static_cast<uint64_t>(lev[n]) << kAgeBits) | ++age, n, label});
    });
  }
  if (heap.Empty()) return;
  std::sort(heap.begin(), heap.end(), [](const HeapItem& a, const HeapItem& b) { return a.key < b.key; });
  PixelList entries(static_cast<size_t>(heap.end() - heap.begin()));
  for (const HeapItem& it : heap) {
    if (!WSL) {
      entries.push_back(it.index);  // labelled at push, like the FIFO flood
    } else if (S[it.index] == 0) {
      S[it.index] = -it.label;  // pending, like the FIFO flood
      entries.push_back(it.index);
    }
  }
  FloodFifo<LT, CONN, WSL>(s, lev, S, levels, hist, inMask, entries, quirks);
}

// Formats a non-finite float like JavaScript does, for messages shared with the TypeScript side.
std::string JsNumber(float v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return MakeString(v);
}

// Order-preserving uint32 key of a float (-0 and +0 share a key, as they compare equal).
inline uint32_t FloatKey(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (u == 0x80000000u) u = 0;
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Dense ranks of the in-mask values (equal values share a rank) via a stable LSD radix sort;
// returns the number of levels. Throws on a non-finite value anywhere in the image.
int32_t RankFloat(const float* f, const uint8_t* mask, int64_t N, int32_t* rank) {
  int64_t M = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (!std::isfinite(f[i]))
      throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                        MakeString("Expected a finite value for elevation[", i, "] but received number ", JsNumber(f[i])));
    if (!mask || mask[i]) ++M;
  }
  std::vector<uint32_t> key(M), key2(M);
  std::vector<int32_t> idx(M), idx2(M);
  int64_t j = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (mask && !mask[i]) continue;
    key[j] = FloatKey(f[i]);
    idx[j++] = static_cast<int32_t>(i);
  }
  for (int shift = 0; shift < 32; shift += 8) {
    int64_t count[257] = {0};
    for (int64_t k = 0; k < M; ++k) ++count[((key[k] >> shift) & 255) + 1];
    bool trivial = false;
    for (int b = 1; b <= 256; ++b) trivial |= count[b] == M;
    if (trivial) continue;  // every key shares this byte
    for (int b = 0; b < 256; ++b) count[b + 1] += count[b];
    for (int64_t k = 0; k < M; ++k) {
      const int64_t d = count[(key[k] >> shift) & 255]++;
      key2[d] = key[k];
      idx2[d] = idx[k];
    }
    key.swap(key2);
    idx.swap(idx2);
  }
  int32_t r = -1;
  for (int64_t k = 0; k < M; ++k) {
    if (k == 0 || key[k] != key[k - 1]) ++r;
    rank[idx[k]] = r;
  }
  return r + 1;
}

struct Params {
  Shape shape;
  int conn;
  bool wsl;
  bool heap;
};

// Fills the state from markers and mask (markers *= mask), collects the seeds in raster order and
// the in-mask level histogram; then floods and turns the state into labels. The default mode on
// integer elevation takes the dedicated path first.
template <typename LT>
void RunTyped(const Params& P, const LT* lev, int32_t levels, const int32_t* markers, const uint8_t* mask,
              int32_t* S) {
  const int64_t N = P.shape.N;
  if constexpr (sizeof(LT) <= 2) {
    if (!P.wsl && !P.heap) {
      constexpr int LB = sizeof(LT) == 1 ? 8 : 16;
      const bool done = P.conn == 4 ? RunFifoPlain<LT, LB, 4>(P.shape, lev, markers, mask, S)
                                    : RunFifoPlain<LT, LB, 8>(P.shape, lev, markers, mask, S);
      if (done) return;  // else too many distinct labels for the id bits: the general flood below
    }
  }
  PixelList seeds(static_cast<size_t>(N));
  std::vector<int32_t> hist(static_cast<size_t>(levels), 0);
  int64_t inMask = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int32_t v = markers[i];  // read before S[i] is written: `out` may be `markers`
    if (v < 0)
      throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                        MakeString("Expected a value >= 0 for markers[", i, "] but received number ", v));
    if (mask && !mask[i]) {
      S[i] = kMasked;
      continue;
    }
    S[i] = v;
    if (v > 0) seeds.push_back(static_cast<int32_t>(i));
    ++hist[lev[i]];
    ++inMask;
  }
  std::vector<Quirk> quirks;
  const Shape& s = P.shape;
#define CELLCAM_WS_CASE(CONN, WSL)                                        \
  if (P.conn == CONN && P.wsl == WSL) {                                   \
    if (P.heap) FloodHeap<LT, CONN, WSL>(s, lev, S, levels, hist, inMask, seeds, quirks); \
    else FloodFifo<LT, CONN, WSL>(s, lev, S, levels, hist, inMask, seeds, quirks); \
  }
  CELLCAM_WS_CASE(4, false)
  CELLCAM_WS_CASE(4, true)
  CELLCAM_WS_CASE(8, false)
  CELLCAM_WS_CASE(8, true)
#undef CELLCAM_WS_CASE
  for (int64_t i = 0; i < N; ++i) S[i] = S[i] > 0 ? S[i] : 0;
  for (const Quirk& q : quirks) S[q.index] = q.label;
}

// Dispatches on the elevation dtype (float32: dense ranks of the in-mask values as levels).
void RunElevation(const Params& P, const void* elevation, napi_typedarray_type etype, const int32_t* markers,
                  const uint8_t* mask, int32_t* out) {
  switch (etype) {
    case napi_uint8_array:
      RunTyped(P, static_cast<const uint8_t*>(elevation), 256, markers, mask, out);
      break;
    case napi_uint16_array:
      RunTyped(P, static_cast<const uint16_t*>(elevation), 65536, markers, mask, out);
      break;
    case napi_float32_array: {
      std::vector<int32_t> rank(static_cast<size_t>(P.shape.N), 0);
      const int32_t levels = RankFloat(static_cast<const float*>(elevation), mask, P.shape.N, rank.data());
      RunTyped(P, static_cast<const int32_t*>(rank.data()), std::max(levels, 1), markers, mask, out);
      break;
    }
    default:
      throw KernelError(ErrorKind::TypeError, "CELLCAM_E_DTYPE",
                        MakeString("Expected Uint8Array or Uint16Array or Float32Array for elevation but received ",
                                   TypedArrayTypeName(etype)));
  }
}

Params MakeParams(int64_t width, int64_t height, int connectivity, bool watershedLine, bool heap) {
  Params p;
  p.shape.W = static_cast<int32_t>(width);
  p.shape.H = static_cast<int32_t>(height);
  p.shape.N = width * height;
  p.shape.invW = 1.0 / static_cast<double>(width);
  p.conn = connectivity;
  p.wsl = watershedLine;
  p.heap = heap;
  return p;
}

class WatershedWorker : public KernelWorker {
 public:
  WatershedWorker(Napi::Env env, ArrayView elevation, ArrayView markers, ArrayView mask, bool hasMask, ArrayView out,
                  Params params, bool cuda)
      : KernelWorker(env, "cellcam.watershed"),
        elevation_(elevation), markers_(markers), mask_(mask), hasMask_(hasMask), out_(out), params_(params), cuda_(cuda) {}

 protected:
  void Run() override {
    const auto* markers = static_cast<const int32_t*>(markers_.data);
    const auto* mask = hasMask_ ? static_cast<const uint8_t*>(mask_.data) : nullptr;
    if (cuda_) {
      RunCuda(markers, mask);
      return;
    }
    RunElevation(params_, elevation_.data, elevation_.type, markers, mask, static_cast<int32_t*>(out_.data));
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("device", cuda_ ? "cuda" : "cpu");
    if (cuda_) {
      o.Set("timings", TimingsObject(env, timings_));
      o.Set("flood", WatershedStatsObject(env, stats_));
    }
    return o;
  }

 private:
  void RunCuda(const int32_t* markers, const uint8_t* mask) {
    const GpuInfo& g = Gpu();
    if (g.devices == 0) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "watershed: options.device is 'cuda' but no CUDA device is usable: " + g.reason);
    }
#if defined(CELLCAM_HAVE_CUDA)
    // The CPU flood rejects these while it reads them; the device never sees a bad marker.
    for (int64_t i = 0; i < params_.shape.N; ++i) {
      if (markers[i] < 0)
        throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                          MakeString("Expected a value >= 0 for markers[", i, "] but received number ", markers[i]));
    }
    const gpu::Dtype dt = elevation_.type == napi_uint8_array ? gpu::Dtype::U8 : gpu::Dtype::U16;
    std::string err;
    const auto t0 = std::chrono::steady_clock::now();
    if (!gpu::Watershed(elevation_.data, dt, markers, mask, static_cast<int32_t*>(out_.data), params_.shape.W, params_.shape.H,
                        params_.conn, params_.wsl, &stats_, &timings_, &err)) {
      throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "watershed: CUDA error: " + err);
    }
    timings_.totalMs = MsSince(t0);
#else
    throw KernelError(ErrorKind::Error, "CELLCAM_E_CUDA", "watershed: " + g.reason);
#endif
  }

  ArrayView elevation_, markers_, mask_;
  bool hasMask_;
  ArrayView out_;
  Params params_;
  bool cuda_;
  gpu::Timings timings_;
  gpu::WatershedStats stats_;
};


}  // namespace

// watershed(elevation, markers, mask|null, out, {width, height, connectivity, watershedLine, tieBreak, device})
//   -> Promise<{device, deviceNote?, timings?, flood?}>
Napi::Value Watershed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value elevation = info[0], markers = info[1], mask = info[2], out = info[3], options = info[4];
  CELLCAM_TYPE_CHECK(IsType(elevation, napi_uint8_array) || IsType(elevation, napi_uint16_array) ||
                         IsType(elevation, napi_float32_array),
                     env, "Expected Uint8Array or Uint16Array or Float32Array for elevation but received ",
                     Describe(elevation));
  CELLCAM_TYPE_CHECK(IsType(markers, napi_int32_array), env, "Expected Int32Array for markers but received ",
                     Describe(markers));
  const bool hasMask = !mask.IsNull() && !mask.IsUndefined();
  CELLCAM_TYPE_CHECK(!hasMask || IsType(mask, napi_uint8_array), env,
                     "Expected Uint8Array or null for mask but received ", Describe(mask));
  CELLCAM_TYPE_CHECK(IsType(out, napi_int32_array), env, "Expected Int32Array for out but received ", Describe(out));

  CELLCAM_TYPE_CHECK(options.IsObject(), env, "Expected an object for options but received ", Describe(options));
  const Napi::Object o = options.As<Napi::Object>();

  const Napi::Value wv = o.Get("width"), hv = o.Get("height");
  CELLCAM_TYPE_CHECK(wv.IsNumber(), env, "Expected an integer for options.width but received ", Describe(wv));
  CELLCAM_TYPE_CHECK(hv.IsNumber(), env, "Expected an integer for options.height but received ", Describe(hv));
  const double wd = wv.As<Napi::Number>().DoubleValue(), hd = hv.As<Napi::Number>().DoubleValue();
  CELLCAM_RANGE_CHECK(wd >= 1 && wd <= 65536 && wd == std::floor(wd), env,
                      "Expected an integer in [1, 65536] for options.width but received ", Describe(wv));
  CELLCAM_RANGE_CHECK(hd >= 1 && hd <= 65536 && hd == std::floor(hd), env,
                      "Expected an integer in [1, 65536] for options.height but received ", Describe(hv));
  const int64_t W = static_cast<int64_t>(wd), H = static_cast<int64_t>(hd), N = W * H;
  CELLCAM_SHAPE_CHECK(N <= (int64_t{1} << 30), env,
                      "Expected at most 2^30 pixels for options.width*height but received number ", N);

  const Napi::Value cv = o.Get("connectivity");
  const double conn = cv.IsNumber() ? cv.As<Napi::Number>().DoubleValue() : -1;
  CELLCAM_RANGE_CHECK(conn == 4 || conn == 8, env, "Expected 4 or 8 for options.connectivity but received ", Describe(cv));
  const Napi::Value lv = o.Get("watershedLine");
  CELLCAM_TYPE_CHECK(lv.IsBoolean(), env, "Expected a boolean for options.watershedLine but received ", Describe(lv));
  const Napi::Value tv = o.Get("tieBreak");
  const std::string tie = tv.IsString() ? tv.As<Napi::String>().Utf8Value() : "";
  CELLCAM_THROW_IF(tie != "fifo" && tie != "heap", env, RangeError, "CELLCAM_E_ARG",
                   "Expected 'fifo' or 'heap' for options.tieBreak but received ", Describe(tv));

  const ArrayView ev = ViewOf(elevation.As<Napi::TypedArray>());
  const ArrayView mv = ViewOf(markers.As<Napi::TypedArray>());
  const ArrayView kv = hasMask ? ViewOf(mask.As<Napi::TypedArray>()) : ArrayView{};
  const ArrayView ov = ViewOf(out.As<Napi::TypedArray>());
  const char* etype = TypedArrayTypeName(ev.type);
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(ev.length) == N, env, "Expected ", etype, " of length width*height = ", N,
                      " for elevation but received ", Describe(elevation));
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(mv.length) == N, env, "Expected Int32Array of length width*height = ", N,
                      " for markers but received ", Describe(markers));
  CELLCAM_SHAPE_CHECK(!hasMask || static_cast<int64_t>(kv.length) == N, env,
                      "Expected Uint8Array of length width*height = ", N, " for mask but received ", Describe(mask));
  CELLCAM_SHAPE_CHECK(static_cast<int64_t>(ov.length) == N, env, "Expected Int32Array of length width*height = ", N,
                      " for out but received ", Describe(out));
  // `out` is the flood state: it may be `markers` itself (read before written) but must not
  // overlap anything else that is read during the flood.
  const size_t esize = ev.type == napi_uint8_array ? 1 : ev.type == napi_uint16_array ? 2 : 4;
  const bool sameAsMarkers = ov.data == mv.data;
  CELLCAM_THROW_IF(Overlap(ov, ov.length * 4, ev, ev.length * esize) ||
                       (hasMask && Overlap(ov, ov.length * 4, kv, kv.length)) ||
                       (!sameAsMarkers && Overlap(ov, ov.length * 4, mv, mv.length * 4)),
                   env, RangeError, "CELLCAM_E_ARG",
                   "Expected memory not overlapping elevation, mask or (partially) markers for out but received ",
                   Describe(out));

  const Napi::Value dv = o.Get("device");
  const std::string device = dv.IsUndefined() ? "cpu" : dv.IsString() ? dv.As<Napi::String>().Utf8Value() : "";
  CELLCAM_THROW_IF(device != "cpu" && device != "cuda", env, RangeError, "CELLCAM_E_ARG",
                   "Expected 'cpu' or 'cuda' for options.device but received ", Describe(dv));
  const bool cuda = device == "cuda";
  // Only the FIFO order is parallel (the heap's ties follow one sequential binary heap), and float
  // elevation would make one level per distinct value.
  CELLCAM_THROW_IF(cuda && tie == "heap", env, RangeError, "CELLCAM_E_ARG",
                   "Expected 'fifo' for options.tieBreak with options.device 'cuda' but received ", Describe(tv));
  CELLCAM_TYPE_CHECK(!cuda || ev.type != napi_float32_array, env,
                     "Expected Uint8Array or Uint16Array for elevation with options.device 'cuda' but received ", Describe(elevation));

  const Params p = MakeParams(W, H, static_cast<int>(conn), lv.As<Napi::Boolean>().Value(), tie == "heap");
  auto* worker = new WatershedWorker(env, ev, mv, kv, hasMask, ov, p, cuda);
  worker->Pin(elevation);
  worker->Pin(markers);
  if (hasMask) worker->Pin(mask);
  worker->Pin(out);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

void WatershedFlood(const void* elevation, napi_typedarray_type etype, const int32_t* markers, const uint8_t* mask,
                    int32_t* out, int64_t width, int64_t height, int connectivity, bool watershedLine, bool heap) {
  if (width < 1 || height < 1 || width > 65536 || height > 65536 || width * height > (int64_t{1} << 30) ||
      (connectivity != 4 && connectivity != 8))
    throw KernelError(ErrorKind::RangeError, "CELLCAM_E_RANGE",
                      MakeString("Expected width, height in [1, 65536] (at most 2^30 pixels) and connectivity 4 or 8 "
                                 "for WatershedFlood but received ", width, "x", height, ", ", connectivity));
  RunElevation(MakeParams(width, height, connectivity, watershedLine, heap), elevation, etype, markers, mask, out);
}

}  // namespace cellcam
