// The data-parallel formulation of the 'fifo' watershed (docs/kernels/watershed.md, "CUDA"): one
// source for the CUDA kernels (cuda/watershed.cu) and for a sequential host emulation of them
// (host_exec.h, emulated.cc) that the CPU-only CI runs against the CPU flood. Everything that differs
// between the two lives in the executor `Exec`:
//   ex.For(n, f)            f(i) for i in [0, n), as one kernel launch (emulation: in some order)
//   ex.ForThen(n, f, m, g)  f over [0, n), then g over [0, m) once every f has run, as one launch
//   ex.ForUpTo(n, count, f) f(i) for i < min(n, *count), count in device memory (no round trip)
//   ex.ForThen(n, count, f, m, g)  both
//   ex.Alloc<T>(count)      a device buffer owned by ex (nullptr on failure)
//   ex.Zero(p, bytes)       memset 0
//   ex.Mark(), ex.Release(mark)  free the buffers allocated since the mark
//   ex.Read(host, dev, b)   a blocking device->host copy (the host loop's only reads)
//   ex.ExclusiveSum(in, out, n)
//   ex.SortPairs(keys, keysAlt, vals, valsAlt, m, maxKey) -> 0 or 1: which pair holds the
//                           result, sorted by key (keys are unique, so stability does not matter)
// The lambdas handed to For use parallel_ops.h for atomics, coherent loads and the union-find.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gpu.h"
#include "parallel_ops.h"

namespace cellcam {
namespace wslevels {

using namespace parallel;  // NOLINT: the atomics, the union-find and the phases of parallel_ops.h

constexpr int32_t kMasked = INT32_MIN;
constexpr uint64_t kNoKey = ~uint64_t{0};

// Neighbour k of pixel (x, y) in the CPU flood's order (up, left, right, down, then up-left,
// up-right, down-left, down-right), or -1 outside the image. The order is part of the result: it
// is the order in which one pop claims its neighbours. A batch stacks its images, Hi rows each:
// a neighbour across the seam between two images is outside (Hi = the height for one image).
CELLCAM_HD inline int32_t Neighbour(int32_t x, int32_t y, int k, int32_t W, int32_t Hi) {
  int dx = 0, dy = 0;
  switch (k) {
    case 0: dy = -1; break;
    case 1: dx = -1; break;
    case 2: dx = 1; break;
    case 3: dy = 1; break;
    case 4: dx = -1; dy = -1; break;
    case 5: dx = 1; dy = -1; break;
    case 6: dx = -1; dy = 1; break;
    default: dx = 1; dy = 1; break;
  }
  const int32_t xx = x + dx, yy = y + dy, y0 = y - y % Hi;
  if (xx < 0 || yy < y0 || xx >= W || yy >= y0 + Hi) return -1;
  return yy * W + xx;
}

// Device-side counters of one generation; the host reads them once or twice per generation (once
// per run of one-block generations).
struct Counters {
  int32_t touched;  // pixels claimed for the first time in this generation (the `touched` list)
  int32_t next;     // of those, at the current level: the next generation
  int32_t burst;    // 1 when a claim reached a pixel below the current level
  int32_t changed;  // line rounds: 1 while a status changed
  int32_t bursted;  // pixels flooded by this generation's bursts (the `burst` list)
  int32_t level;    // next non-empty level (levels when none)
  int32_t start;    // its slice of the bucket array
  int32_t count;
  int32_t low;      // free pixels below the level (the `low` list)
  // What a run of one-block generations (LevelRun) did: generations, of those placed by
  // counting, levels it entered, and its last generation (first sequence number, pops, level).
  int32_t runGenerations, runPlaced, runLevels, runBase, runPops, runLevel;
};

using Stats = gpu::WatershedStats;

// A step's counters (claims, burst flag, flooded count).
CELLCAM_HD inline void ResetStep(Counters* cnt) {
  cnt->touched = 0;
  cnt->burst = 0;
  cnt->bursted = 0;
}

// A generation's counters and its first step's, reset by thread 0 of the generation's first
// launch: nothing reads them before the pops (the host read the last generation's), and no
// launch of their own is needed for it.
CELLCAM_HD inline void ResetGeneration(Counters* cnt) {
  cnt->next = 0;
  ResetStep(cnt);
}

// A level's later generations are put in key order by counting (below), not by a radix sort,
// unless CELLCAM_CUDA_PLACEMENT=sort (read per call, so that one process can compare both).
inline bool CountPlacementEnabled() { return gpu::SwitchOn("CELLCAM_CUDA_PLACEMENT", "sort"); }

// The search for the next level runs at the end of the settle's launch, unless
// CELLCAM_CUDA_FUSED_SEARCH=0 (a launch of its own, as before; read per call).
inline bool FusedSearchEnabled() { return gpu::SwitchOn("CELLCAM_CUDA_FUSED_SEARCH", "0"); }

// A small generation without a line runs whole in one launch of one block (below), unless
// CELLCAM_CUDA_ONE_BLOCK=0 (read per call).
inline bool OneBlockEnabled() { return gpu::SwitchOn("CELLCAM_CUDA_ONE_BLOCK", "0"); }
// ... and the small generations after it in the same launch (LevelRun), and a run starts after
// each burst, unless CELLCAM_CUDA_LEVEL_RUN=0 (read per call).
inline bool LevelRunEnabled() { return gpu::SwitchOn("CELLCAM_CUDA_LEVEL_RUN", "0"); }
// The largest generations that run in one block (read per call, for a GPU to tune): one sorted
// there (a level's first, or any without counting placement) at most the sort phase's tile,
// CELLCAM_CUDA_RUN_SORTED_POPS (default the tile, 4 096; 2 048 before session 13); one placed by
// counting, which has no sort phase, CELLCAM_CUDA_RUN_POPS (default 4 096). One block is one SM,
// so past some size the launches across the whole device win; where is for a GPU to measure (a
// stacked batch's generations are larger than one image's).
inline int64_t OneBlockSortedPops() { return gpu::Setting("CELLCAM_CUDA_RUN_SORTED_POPS", kSortPhaseMax, 1, kSortPhaseMax); }
inline int64_t OneBlockPlacedPops() { return gpu::Setting("CELLCAM_CUDA_RUN_POPS", kSortPhaseMax, 1, int64_t{1} << 24); }

// Gathers the keys of a generation that is sorted (a level's first, from its bucket slice `src`,
// copied into `pix`; or, without counting placement, the settle's appends already in `pix`);
// thread 0 resets the generation's counters.
struct GatherStep {
  const int32_t* src;  // nullptr: the entries are in pix already
  int32_t* pix;
  uint64_t* kk;
  const uint64_t* key;
  Counters* cnt;
  CELLCAM_HD void operator()(int64_t i) const {
    if (i == 0) ResetGeneration(cnt);
    if (src != nullptr) pix[i] = src[i];
    kk[i] = key[pix[i]];
  }
};

// Puts entry i of a later generation (`src`, the settle's appends in no order) into its pop's
// slots of `dst`; thread 0 resets the generation's counters (Flood, "counting placement").
struct PlaceStep {
  const int32_t* src;
  int32_t* dst;
  const uint64_t* key;
  const int32_t* popStart;
  int32_t* perPop;
  Counters* cnt;
  int64_t n, from;  // from: the first sequence number of the generation before
  CELLCAM_HD void operator()(int64_t i) const {
    if (i == 0) ResetGeneration(cnt);
    const int32_t q = src[i];
    const int64_t j = static_cast<int64_t>(key[q] >> 4) - n - from;
    dst[popStart[j] + AtomicAdd(perPop + j, -1) - 1] = q;
  }
};

// Pop lo + j of the generation `pp`: a line pixel leaves the flood; the others claim their free
// neighbours by atomic minimum of keys, and list the pixels they claimed first in `touched`.
template <typename LT>
struct PopStep {
  const int32_t* pp;
  int32_t* S;
  int32_t* perPop;  // nullptr: no counting placement
  int32_t* quirk;
  const uint8_t* st;  // line status by generation position (with a line)
  int32_t* popOrder;
  uint64_t* key;
  int32_t* touched;
  Counters* cnt;
  const LT* lev;
  int64_t lo, gbase, n;
  int32_t W, Hi, level;
  int K;
  bool wsl;
  CELLCAM_HD void operator()(int64_t j) const {
    const int64_t i = lo + j;
    const int32_t p = pp[i];
    const int64_t s = gbase + i;
    const int32_t v = S[p];
    if (perPop != nullptr) perPop[i] = 0;  // before any settle counts this pop's claims
    if (wsl) {
      if (st[i]) {
        if (v > 0) quirk[p] = v;
        S[p] = kMasked;
        return;
      }
      S[p] = v > 0 ? v : -v;
    } else {
      popOrder[s] = p;  // read by the settle, a later step (with a line, written before the rounds)
    }
    const int32_t y = p / W, x = p - y * W;
    const uint64_t k0 = static_cast<uint64_t>(n + s) << 4;
    for (int k = 0; k < K; ++k) {
      const int32_t q = Neighbour(x, y, k, W, Hi);
      if (q < 0 || S[q] != 0) continue;
      if (AtomicMin(key + q, k0 | static_cast<uint64_t>(k)) == kNoKey) {
        touched[NextSlot(&cnt->touched, 0)] = q;
        if (lev[q] < level) cnt->burst = 1;
      }
    }
  }
};

// Claim t of the step (t < cnt->touched): the pixel takes its claimer's label and joins the next
// generation (same level; counted per pop for the placement) or its level's bucket. Speculative:
// the settle that runs before the host knows whether a claim reached below the level does
// nothing when one did (the bursts flood first).
template <typename LT>
struct SettleStep {
  const int32_t* touched;
  const LT* lev;
  int32_t* S;
  const int32_t* popOrder;
  const uint64_t* key;
  int32_t* np;
  int32_t* perPop;  // nullptr: no counting placement
  int32_t* bucket;
  const int32_t* offsets;
  int32_t* fill;
  Counters* cnt;
  int64_t n, gbase;
  int32_t level;
  bool wsl, speculative;
  CELLCAM_HD void operator()(int64_t t) const {
    if (speculative && cnt->burst) return;
    const int32_t q = touched[t];
    const int32_t l = lev[q];
    if (l < level) return;  // flooded by a burst
    const int32_t lab = S[popOrder[(key[q] >> 4) - n]];
    S[q] = wsl ? -lab : lab;
    if (l == level) {
      np[NextSlot(&cnt->next, 0)] = q;
      if (perPop != nullptr) CountOne(perPop, static_cast<int32_t>(static_cast<int64_t>(key[q] >> 4) - n - gbase));
    } else {
      bucket[offsets[l] + NextSlot(fill, l)] = q;
    }
  }
};

// Sets cnt->level to the smallest level >= from with queued pixels (levels when none), and
// cnt->start / cnt->count to its slice of the bucket array. Phases only go up: a claim below the
// level being flooded is a burst, popped at once, never queued.
//
// For up to 1024 levels, levels + 1 threads: thread l is the answer when no level in [from, l)
// has queued pixels; thread `levels` stands for "none left". Exactly one writes. The counts are
// read past L1: run at the end of the launch that queued them (ForThen), other blocks' atomics
// wrote them.
struct NextLevelSearch {
  Counters* cnt;
  const int32_t* fill;
  const int32_t* offsets;
  int32_t levels, from;
  CELLCAM_HD void operator()(int64_t l) const {
    if (l < from || (l < levels && LoadCoherent(fill + l) == 0)) return;
    for (int64_t j = from; j < l; ++j) {
      if (LoadCoherent(fill + j) > 0) return;
    }
    cnt->level = static_cast<int32_t>(l);
    cnt->start = l < levels ? offsets[l] : 0;
    cnt->count = l < levels ? LoadCoherent(fill + l) : 0;
  }
};

template <class Exec>
bool FindNextLevel(Exec& ex, Counters* cnt, const int32_t* fill, const int32_t* offsets, int32_t levels, int32_t from) {
  if (levels <= 1024) return ex.For(levels + 1, NextLevelSearch{cnt, fill, offsets, levels, from});
  return ex.For(1, [=] CELLCAM_HD(int64_t) { cnt->level = levels; }) &&
         ex.For(levels, [=] CELLCAM_HD(int64_t l) {
           if (l >= from && fill[l] > 0) AtomicMin(&cnt->level, static_cast<int32_t>(l));
         }) &&
         ex.For(1, [=] CELLCAM_HD(int64_t) {
           const int32_t l = cnt->level;
           cnt->start = l < levels ? offsets[l] : 0;
           cnt->count = l < levels ? fill[l] : 0;
         });
}

// f(i) for i < min(n, *count), then FindNextLevel from `from`: with up to 1024 levels in the same
// launch (the last block to finish runs the search; ForThen), one launch per generation fewer.
// `fused` false (CELLCAM_CUDA_FUSED_SEARCH=0): the search in launches of its own.
template <class Exec, class F>
bool ThenFindNextLevel(Exec& ex, bool fused, int64_t n, const int32_t* count, const F& f, Counters* cnt, const int32_t* fill,
                       const int32_t* offsets, int32_t levels, int32_t from, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  if (levels <= 1024 && fused) {
    return ex.ForThen(n, count, f, levels + 1, NextLevelSearch{cnt, fill, offsets, levels, from}, file, line);
  }
  return ex.ForUpTo(n, count, f, file, line) && FindNextLevel(ex, cnt, fill, offsets, levels, from);
}

// A run of small generations without a line in one launch of one block (ex.InBlock): each
// generation's placement by counting (scan of the claim counts, then the scatter) or, a level's
// first, its key gather and block sort; its pops; the speculative settle; the search for the next
// level. Then, on the device, the next generation of the level, or the next level's first, while
// there is one, nothing burst and it is small enough (sortedMax, placedMax): a level without bursts
// needs no host round trip per generation (on the H100 one image's steps took ~10 µs each,
// whatever their size, a read ~20 µs, and most generations are tens to hundreds of pops).
// `more` false: one generation, as before CELLCAM_CUDA_LEVEL_RUN. The run ends with its last
// generation's pops and settle done, that generation's counters in cnt (a burst is the host's to
// flood) and the run's report in cnt->run*; the host carries on from that generation.
template <typename LT>
struct LevelRun {
  const LT* lev;
  int32_t* S;
  uint64_t* key;
  int32_t* popOrder;
  int32_t* perPop;  // nullptr: no counting placement
  int32_t* popStart;
  uint64_t* keyA;
  uint64_t* keyB;
  int32_t* pixA;     // the generation's entries in no order (the settle's appends; a level's first: copied here)
  int32_t* pixB;     // the generation in key order
  int32_t* nextPix;  // the settle's appends
  int32_t* touched;
  int32_t* bucket;
  const int32_t* offsets;
  int32_t* fill;
  Counters* cnt;
  int64_t n;
  int32_t W, Hi, levels;
  int K;
  bool more;
  int32_t sortedMax, placedMax;  // the largest generations the run takes (OneBlockSortedPops, OneBlockPlacedPops)
  // The first generation: its level, pops, first sequence number, and either the generation
  // before it (placed by counting: its first sequence number and pops) or its bucket slice.
  int32_t level, pops, base, placeFrom, placeCount;
  const int32_t* slice;  // a level's first generation; nullptr: in pixA already (sorted later generations)
  // Or start after that generation (the host ran it, or flooded its burst), from the counters its
  // settle left (the host has not read them): placeFrom, placeCount and slice unused. When the
  // generation after it does not qualify the run does nothing and reports 0 generations.
  bool startAfter;

  // The generation to run (or just run) and the levels the run entered.
  struct Gen {
    int32_t level, pops, base, placeFrom, placeCount;
    const int32_t* slice;
    int32_t* entries;  // pixA's role
    int32_t* appends;  // nextPix's role
    int32_t levelsEntered;
  };

  // After generation g (its pops, settle and search done, nothing burst): the generation that
  // follows as the counters say, the level's next or the next level's first, when there is one and
  // it is small enough. Every thread reads the same counters (after the search phase's barrier),
  // and syncs before a later phase resets them.
  template <class Block>
  CELLCAM_HD bool Advance(const Block& b, Gen& g) const {
    const int32_t next = LoadCoherent(&cnt->next), nextLevel = LoadCoherent(&cnt->level);
    const int32_t start = LoadCoherent(&cnt->start), first = LoadCoherent(&cnt->count);
    const bool newLevel = next == 0;
    const bool placedNext = !newLevel && perPop != nullptr;
    const int32_t m = newLevel ? first : next;
    if ((newLevel && nextLevel >= levels) || m > (placedNext ? placedMax : sortedMax)) return false;
    b.Sync();
    g.placeFrom = placedNext ? g.base : -1;
    g.placeCount = g.pops;
    g.slice = newLevel ? bucket + start : nullptr;
    if (newLevel) {
      g.level = nextLevel;
      ++g.levelsEntered;
    }
    g.base += g.pops;
    g.pops = m;
    int32_t* const t = g.entries;  // the settle's appends are the next generation's entries
    g.entries = g.appends;
    g.appends = t;
    return true;
  }

  template <class Block>
  CELLCAM_HD void operator()(const Block& b) const {
    Gen g{level, pops, base, placeFrom, placeCount, slice, pixA, nextPix, 0};
    int32_t gens = 0, placed = 0;
    if (!startAfter || Advance(b, g)) {
      for (;;) {
        ++gens;
        const int32_t m = g.pops;
        if (g.placeFrom >= 0) {
          ++placed;
          b.Run(ScanPhase{perPop, popStart, g.placeCount});
          b.Run(Over(m, PlaceStep{g.entries, pixB, key, popStart, perPop, cnt, n, g.placeFrom}));
        } else {
          const uint64_t maxKey = (static_cast<uint64_t>(n + g.base + m) << 4) | 15;
          b.Run(Over(m, GatherStep{g.slice, g.entries, keyA, key, cnt}));
          b.Run(SortPhase{keyA, g.entries, keyB, pixB, m, maxKey});
        }
        b.Run(Over(m, PopStep<LT>{pixB, S, perPop, nullptr, nullptr, popOrder, key, touched, cnt, lev, 0, g.base, n, W, Hi, g.level, K, false}));
        b.Run(UpTo(static_cast<int64_t>(K) * m, &cnt->touched,
                   SettleStep<LT>{touched, lev, S, popOrder, key, g.appends, perPop, bucket, offsets, fill, cnt, n, g.base, g.level, false, true}));
        b.Run(Over(levels + 1, NextLevelSearch{cnt, fill, offsets, levels, g.level + 1}));
        if (!more || LoadCoherent(&cnt->burst) || !Advance(b, g)) break;
      }
    }
    if (b.Leader()) {
      cnt->runGenerations = gens;
      cnt->runPlaced = placed;
      cnt->runLevels = g.levelsEntered;
      cnt->runBase = g.base;
      cnt->runPops = g.pops;
      cnt->runLevel = g.level;
    }
  }
};

// Floods `lev` (levels 0..levels-1) from `markers` inside `mask` (nullptr = everywhere) exactly like
// FloodFifo of watershed.cc and writes the labels to `out`; all pointers are device memory of
// W*H elements (W*H <= 2^30). The inputs are never written. False: a call failed, and the
// executor's error says which.
//
// Hi < H floods a batch: H / Hi images of Hi rows stacked, each flooded as if alone. Nothing
// crosses a seam (Neighbour), and the order of one image's pops is its own flood's: every pop
// claims only pixels of its image, so the relative order of one image's queue keys is the one
// its own flood would give them, and the order across images never decides anything.
//
// How the sequential order is kept (docs/kernels/watershed.md, "CUDA"): pops run level by level
// ("phases", strictly increasing) and, inside a level, generation by generation (the FIFO queue
// holds generation g before g + 1). A pixel's key is the moment it was queued: seeds by raster
// index, every other pixel by (n + sequence number of the pop that claimed it) * 16 + the index of
// the neighbour, or + 8 for a pixel claimed from the border of that pop's burst (the pixels below
// the level that a claim reaches pop at once, before the next entry). A generation is put in key
// order (a level's first by sorting, the others by counting) and numbered; every pop claims its
// free neighbours by atomic minimum of keys, so each pixel goes to the claim the sequential flood
// makes first.
template <class Exec, typename LT>
bool Flood(Exec& ex, const LT* lev, int32_t levels, const int32_t* markers, const uint8_t* mask, int32_t* out,
             int32_t W, int32_t H, int conn, bool wsl, Stats* stats, int32_t Hi = 0) {
  const int64_t n = int64_t{W} * H;
  if (Hi <= 0) Hi = H;
  const int K = conn;
  const size_t mark = ex.Mark();  // everything allocated here is freed before returning true
  int32_t* S = ex.template Alloc<int32_t>(n);          // state: 0 free, >0 label, -label pending (line), kMasked
  uint64_t* key = ex.template Alloc<uint64_t>(n);      // queue key of a claimed pixel (kNoKey: free)
  int32_t* seqOf = ex.template Alloc<int32_t>(n);      // sequence number of its pop (-1: not popped)
  int32_t* popOrder = ex.template Alloc<int32_t>(n);   // sequence number -> pixel
  int32_t* counts = ex.template Alloc<int32_t>(levels + 1);   // in-mask pixels per level
  int32_t* offsets = ex.template Alloc<int32_t>(levels + 1);
  int32_t* fill = ex.template Alloc<int32_t>(levels);
  int32_t* bucket = ex.template Alloc<int32_t>(n);     // pixels queued for a later level, by level
  int32_t* pixA = ex.template Alloc<int32_t>(n);
  int32_t* pixB = ex.template Alloc<int32_t>(n);
  int32_t* nextPix = ex.template Alloc<int32_t>(n);
  uint64_t* keyA = ex.template Alloc<uint64_t>(n);
  uint64_t* keyB = ex.template Alloc<uint64_t>(n);
  int32_t* touched = ex.template Alloc<int32_t>(n);
  Counters* cnt = ex.template Alloc<Counters>(1);
  uint8_t* stA = wsl ? ex.template Alloc<uint8_t>(n) : nullptr;  // line status by generation position
  uint8_t* stB = wsl ? ex.template Alloc<uint8_t>(n) : nullptr;
  int32_t* quirk = wsl ? ex.template Alloc<int32_t>(n) : nullptr;  // a seed that became a line keeps its label
  if (!S || !key || !seqOf || !popOrder || !counts || !offsets || !fill || !bucket || !pixA || !pixB || !nextPix || !keyA || !keyB ||
      !touched || !cnt || (wsl && (!stA || !stB || !quirk))) {
    return false;
  }
  // Allocated at the first burst: a union-find of the pixels below the current level.
  int32_t* parent = nullptr;
  uint64_t* compKey = nullptr;
  int32_t* burstList = nullptr;
  int32_t* lowList = nullptr;
  int32_t* cls = nullptr;
  // The low list is kept from one level to the next: at a new level it is the last list's pixels
  // that are still free plus the free pixels of the levels in between, found through an index of
  // the in-mask pixels by level (counting-sort layout, `offsets`). A sweep of the whole image per
  // level was 77 % of the threads a 2048² labelCell launched (330 sweeps of 4.2 M pixels).
  int32_t* lowAlt = nullptr;
  int32_t* byLevel = nullptr;  // in-mask pixels by level; -1 where one had already become a line
  std::vector<int32_t> levelStart;  // offsets on the host
  int64_t listed = 0;               // pixels in lowList
  int64_t lowBound = 0;             // >= listed, while the host has not read the count yet
  int32_t listedBelow = 0;          // lowList holds the free pixels of the levels below this one
  // Counting placement of a level's later generations: every entry of generation g + 1 was claimed
  // by a pop of generation g (directly, or from the border of its burst), and its key is
  // (n + that pop's sequence number) * 16 + k. The order among one pop's claims never changes a
  // label (docs/kernels/watershed.md, "Why the neighbour index in the key never changes a label"),
  // so grouping the entries by their pop, pops in order, is key order: a count per pop (by the
  // settle), an exclusive sum and a scatter replace the gather of keys and the radix sort (on the
  // H100, a stacked batch's sorts were a quarter of its device time). Both arrays live in keyB,
  // which only a level's first sort writes, and nothing reads after it.
  const bool place = CountPlacementEnabled();
  const int64_t sortedMax = OneBlockSortedPops(), placedMax = OneBlockPlacedPops();
  const bool fused = FusedSearchEnabled();
  const bool oneBlockOn = !wsl && levels <= 1024 && OneBlockEnabled();  // small generations in one block
  const bool runOn = LevelRunEnabled();
  const bool chain = oneBlockOn && runOn;  // a run after each burst (below)
  int32_t* const perPop = reinterpret_cast<int32_t*>(keyB);  // claims per pop of the generation; zeroed by the pops
  int32_t* const popStart = perPop + n;                       // their exclusive sums

  // State, keys and the in-mask level histogram; seeds are keyed by raster index.
  if (!ex.Zero(counts, sizeof(int32_t) * (levels + 1)) || !ex.Zero(fill, sizeof(int32_t) * levels)) return false;
  // The host reads the whole struct, fields this generation did not set too: no garbage in them
  // (compute-sanitizer's initcheck flagged every read of it before this).
  if (!ex.Zero(cnt, sizeof(Counters))) return false;
  if (wsl && !ex.Zero(quirk, sizeof(int32_t) * n)) return false;
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const int32_t v = markers[i];
        const bool in = mask == nullptr || mask[i] != 0;
        S[i] = in ? v : kMasked;
        key[i] = in && v > 0 ? static_cast<uint64_t>(i) : kNoKey;
        seqOf[i] = -1;
        if (in) CountOne(counts, lev[i]);
      })) {
    return false;
  }
  // Buckets in counting-sort layout: every pixel is queued at most once.
  if (!ex.ExclusiveSum(counts, offsets, levels + 1)) return false;
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) {
        if (key[i] == kNoKey) return;
        const int32_t l = lev[i];
        bucket[offsets[l] + NextSlot(fill, l)] = static_cast<int32_t>(i);
      })) {
    return false;
  }

  int64_t base = 0;  // sequence number of the next pop
  Counters c{};
  if (!FindNextLevel(ex, cnt, fill, offsets, levels, 0) || !ex.Read(&c, cnt, sizeof(Counters))) return false;
  for (;;) {
    // c holds the next level with queued pixels (found with the last read of the previous level).
    if (c.level >= levels) break;
    int32_t level = c.level;  // a run of one-block generations may go on to later levels
    ++stats->phases;
    bool haveComponents = false, haveLow = false;
    // The level's first generation is its bucket slice, copied into pixA by the launch that
    // gathers the generation's keys (one launch per level fewer than a copy of its own).
    const int32_t* levelSlice = bucket + c.start;
    int64_t m = c.count;
    int64_t placeFrom = -1;  // >= 0: this generation is placed by counting; the last one's first sequence number
    int64_t placeCount = 0;  // and its pops (the length of their claim counts)
    while (m > 0) {
      ++stats->generations;
      int64_t gbase = base;  // (a run of one-block generations sets it to its last one's)
      const int32_t* pp = nullptr;  // the generation in key order
      // A small generation without a line runs in one launch of one block, and so do the small
      // generations after it, up to the first that bursts (LevelRun). The host carries on from the
      // run's last generation: its burst, if any, and the generation after it.
      const bool oneBlock = oneBlockOn && m <= (placeFrom >= 0 ? placedMax : sortedMax);
      const int32_t* const slice = levelSlice;
      levelSlice = nullptr;
      if (oneBlock) {
        pp = pixB;  // PlaceStep's or SortPhase's output
      } else if (placeFrom >= 0) {
        ++stats->placedGenerations;
        if (!ex.ExclusiveSum(perPop, popStart, placeCount) || !ex.For(m, PlaceStep{pixA, pixB, key, popStart, perPop, cnt, n, placeFrom})) {
          return false;
        }
        pp = pixB;
      } else {
        if (!ex.For(m, GatherStep{slice, pixA, keyA, key, cnt})) return false;
        const uint64_t maxKey = (static_cast<uint64_t>(n + gbase + m) << 4) | 15;
        const int which = ex.SortPairs(keyA, keyB, pixA, pixB, m, maxKey);
        if (which < 0) return false;
        pp = which == 0 ? pixA : pixB;
      }
      // The line rounds read the sequence numbers of other pops of the generation, so with a line
      // they are written by a launch of their own first. Without a line nothing reads them before
      // the settle, and each pop writes its own (one launch per generation fewer).
      if (wsl && !ex.For(m, [=] CELLCAM_HD(int64_t i) {
            const int32_t p = pp[i];
            seqOf[p] = static_cast<int32_t>(gbase + i);
            popOrder[gbase + i] = p;
          })) {
        return false;
      }

      // Entries [lo, m) are left; without a line the whole generation is one step. With a line, a
      // step ends at the first pop whose claims reach below the level: its burst decides the line
      // status of the pops after it, which the next step computes again.
      for (int64_t lo = 0; lo < m;) {
        const uint8_t* st = nullptr;  // line status by generation position
        int64_t hi = m;
        if (wsl) {
          // Line status of each pop, in rounds: pop i is a line pixel when its neighbours carry two
          // labels at its turn, which depends on whether earlier pops of this generation were
          // lines. Each round reads the previous one; the status of pop i is final once those of
          // pops < i are, so an unchanged round is the answer. Pops before `lo` are in S already.
          if (!ex.Zero(stA + lo, static_cast<size_t>(m - lo))) return false;
          uint8_t* cur = stA;
          uint8_t* nxt = stB;
          const int64_t sLo = gbase + lo;
          for (;;) {
            ++stats->lineRounds;
            const uint8_t* const old = cur;
            uint8_t* const neu = nxt;
            if (!ex.For(1, [=] CELLCAM_HD(int64_t) { cnt->changed = 0; }) ||
                !ex.For(m - lo, [=] CELLCAM_HD(int64_t j) {
                  const int64_t i = lo + j;
                  const int32_t p = pp[i];
                  const int64_t s = gbase + i;
                  const int32_t y = p / W, x = p - y * W;
                  int32_t l0 = 0;
                  uint8_t line = 0;
                  for (int k = 0; k < K && !line; ++k) {
                    const int32_t q = Neighbour(x, y, k, W, Hi);
                    if (q < 0) continue;
                    const int32_t v = S[q];
                    if (v == kMasked) continue;
                    const int32_t sq = seqOf[q];
                    int32_t lab;
                    if (sq >= sLo && sq < s) {
                      if (old[sq - gbase]) continue;  // popped before p as a line pixel
                      lab = v > 0 ? v : -v;           // popped before p: its label
                    } else {
                      lab = v > 0 ? v : 0;            // seeds count from the start, pending pixels not
                    }
                    if (lab == 0) continue;
                    if (l0 == 0) l0 = lab;
                    else if (lab != l0) line = 1;
                  }
                  neu[i] = line;
                  if (line != old[i]) cnt->changed = 1;
                }) ||
                !ex.Read(&c, cnt, sizeof(Counters))) {
              return false;
            }
            cur = nxt;
            nxt = const_cast<uint8_t*>(old);
            if (!c.changed) break;
          }
          // Both buffers must agree on [lo, m) for the next step's rounds, which start from stA.
          if (cur != stA && !ex.For(m - lo, [=] CELLCAM_HD(int64_t j) { stA[lo + j] = cur[lo + j]; })) return false;
          st = stA;
          // The first pop that is not a line and has a free neighbour below the level.
          if (!ex.For(1, [=] CELLCAM_HD(int64_t) { cnt->level = static_cast<int32_t>(m); }) ||
              !ex.For(m - lo, [=] CELLCAM_HD(int64_t j) {
                const int64_t i = lo + j;
                if (stA[i]) return;
                const int32_t p = pp[i];
                const int32_t y = p / W, x = p - y * W;
                for (int k = 0; k < K; ++k) {
                  const int32_t q = Neighbour(x, y, k, W, Hi);
                  if (q >= 0 && S[q] == 0 && lev[q] < level) {
                    AtomicMin(&cnt->level, static_cast<int32_t>(i));
                    return;
                  }
                }
              }) ||
              !ex.Read(&c, cnt, sizeof(Counters))) {
            return false;
          }
          hi = c.level < m ? c.level + 1 : m;
        }

        // Pops: line pixels leave the flood; the others claim their free neighbours. (The first
        // step's counters were reset by the generation's first launch or phase.)
        int32_t* const counted = place ? perPop : nullptr;
        const PopStep<LT> pop{pp, S, counted, quirk, st, popOrder, key, touched, cnt, lev, lo, gbase, n, W, Hi, level, K, wsl};
        const auto settleStep = [&](bool speculative) {
          return SettleStep<LT>{touched, lev, S, popOrder, key, nextPix, counted, bucket, offsets, fill, cnt, n, gbase, level, wsl, speculative};
        };

        // Every claim of the step is settled: claimed pixels take their claimer's label and join
        // the next generation (same level) or their level's bucket. `bound` >= the claims, and the
        // launch reads their count itself (ForUpTo: its grid strides, so a loose bound costs no
        // idle threads; on the H100 a stacked batch of 16 launched 2.0 G settle threads for
        // 0.12 G pops). The first settle runs before the host has
        // read the pops' counters (one round trip per step saved): when a claim reached below the
        // level it does nothing at all, and the bursts flood first. The next level is found along
        // with it (needed only after the level's last step, but it rides on the same read).
        auto settleLaunch = [&](int64_t bound, bool speculative) {
          return ThenFindNextLevel(ex, fused, bound, &cnt->touched, settleStep(speculative), cnt, fill, offsets, levels, level + 1);
        };
        auto settle = [&](int64_t bound, bool speculative) { return settleLaunch(bound, speculative) && ex.Read(&c, cnt, sizeof(Counters)); };
        // A run of one-block generations (LevelRun), and the host's state for its last generation
        // once the counters are read. `after`: it starts after this generation (the host's pixA /
        // nextPix not yet swapped for the next).
        const auto levelRun = [&](bool after) {
          return LevelRun<LT>{lev,
                              S,
                              key,
                              popOrder,
                              counted,
                              popStart,
                              keyA,
                              keyB,
                              pixA,
                              pixB,
                              nextPix,
                              touched,
                              bucket,
                              offsets,
                              fill,
                              cnt,
                              n,
                              W,
                              Hi,
                              levels,
                              K,
                              runOn,
                              static_cast<int32_t>(sortedMax),
                              static_cast<int32_t>(placedMax),
                              level,
                              static_cast<int32_t>(m),
                              static_cast<int32_t>(gbase),
                              static_cast<int32_t>(placeFrom),
                              static_cast<int32_t>(placeCount),
                              slice,
                              after};
        };
        const auto carryOn = [&](bool after) {
          stats->generations += c.runGenerations - (after ? 0 : 1);
          stats->oneBlockGenerations += c.runGenerations;
          ++stats->levelRuns;
          stats->placedGenerations += c.runPlaced;
          stats->phases += c.runLevels;
          if (c.runLevels > 0) {
            level = c.runLevel;
            haveComponents = haveLow = false;
          }
          // One swap per generation the host did not see end (the burst's own, then all but the
          // last). (A one-block generation never reads its entries after its first phases, so
          // either buffer would do for the settle there; the host's line floods need the pair.)
          if ((c.runGenerations + (after ? 1 : 0)) % 2 == 0) std::swap(pixA, nextPix);
          base = gbase = c.runBase;
          m = hi = c.runPops;
        };
        if (oneBlock) {
          if (!ex.InBlock(levelRun(false)) || !ex.Read(&c, cnt, sizeof(Counters))) return false;
          carryOn(false);
        } else if ((lo > 0 && !ex.For(1, [=] CELLCAM_HD(int64_t) { ResetStep(cnt); })) ||
                   !ex.For(hi - lo, pop) || !settle(static_cast<int64_t>(K) * (hi - lo), true)) {
          return false;
        }

        // After a burst without a line, the generation after it starts on the device as a run
        // (LevelRun from the counters, before the host has read them; `chain`): one round trip
        // per burst fewer. A run that ends in a burst again continues here.
        while (c.burst) {
          ++stats->burstGenerations;
          if (parent == nullptr) {
            parent = ex.template Alloc<int32_t>(n);
            compKey = ex.template Alloc<uint64_t>(n);
            burstList = ex.template Alloc<int32_t>(n);
            lowList = ex.template Alloc<int32_t>(n);
            lowAlt = ex.template Alloc<int32_t>(n);
            cls = ex.template Alloc<int32_t>(n);
            byLevel = ex.template Alloc<int32_t>(n);
            if (!parent || !compKey || !burstList || !lowList || !lowAlt || !cls || !byLevel) return false;
            int32_t* const c0 = cls;
            int32_t* const bv = byLevel;
            int32_t* const bf = counts;  // the level histogram is spent (offsets hold its sums): the index's cursors
            levelStart.resize(static_cast<size_t>(levels) + 1);
            if (!ex.For(n, [=] CELLCAM_HD(int64_t i) {
                  c0[i] = -1;
                  bv[i] = -1;
                }) ||
                !ex.Zero(bf, sizeof(int32_t) * (levels + 1)) ||
                !ex.For(n, [=] CELLCAM_HD(int64_t i) {
                  if (S[i] == kMasked) return;  // outside the mask, or a line pixel: never free again
                  const int32_t l = lev[i];
                  bv[offsets[l] + NextSlot(bf, l)] = static_cast<int32_t>(i);
                }) ||
                !ex.Read(levelStart.data(), offsets, levelStart.size() * sizeof(int32_t))) {
              return false;
            }
          }
          int32_t* const par = parent;
          uint64_t* const ck = compKey;
          int32_t* const bl = burstList;
          int32_t* const cl = cls;  // (level << 2) | class: stale stamps of earlier levels read as class 0
          // The free pixels below the level, listed once per level (they only get fewer), in
          // components of pixels that may flood through (class 1). Without a line every such pixel
          // is class 1, and a component that is reached floods whole, so the components stay valid
          // for the rest of the level: label them once per level. With a line, the pixels next to
          // a label other than the bursting pop's (class 2) turn into line pixels when reached and
          // stop the burst there, so the classes depend on the pop: label them for each burst.
          if (!haveLow) {
            haveLow = true;
            // Pixels only leave the free state, so the free pixels below `level` are those of the
            // last list still free and those of levels [listedBelow, level) that are free.
            const int32_t* const prev = lowList;
            int32_t* const next = lowAlt;
            const int32_t* const bv = byLevel;
            const int64_t old = listed;
            const int64_t a = levelStart[static_cast<size_t>(listedBelow)] - old;  // bv[a + t] for t >= old
            // No read for the count: the launches below stride up to cnt->low (ForUpTo) within
            // this bound, and the burst's settle reads it along with the rest (one round trip per
            // bursting level fewer).
            lowBound = old + levelStart[static_cast<size_t>(level)] - levelStart[static_cast<size_t>(listedBelow)];
            if (!ex.Zero(&cnt->low, sizeof(int32_t)) || !ex.For(lowBound, [=] CELLCAM_HD(int64_t t) {
                  const int32_t p = t < old ? prev[t] : bv[a + t];
                  if (p >= 0 && S[p] == 0) next[NextSlot(&cnt->low, 0)] = p;
                })) {
              return false;
            }
            std::swap(lowList, lowAlt);
            listedBelow = level;
          }
          int32_t* const low = lowList;
          const int64_t nLow = lowBound;  // >= the pixels listed at this level, cnt->low
          const int32_t* const nListed = &cnt->low;
          int32_t lab = 0;
          if (wsl) {
            int32_t p = 0;
            if (!ex.Read(&p, pp + (hi - 1), sizeof(int32_t)) || !ex.Read(&lab, S + p, sizeof(int32_t))) return false;
          }
          if (wsl || !haveComponents) {
            haveComponents = true;
            const int32_t blab = lab;
            if (!ex.ForUpTo(nLow, nListed, [=] CELLCAM_HD(int64_t t) {
                  const int32_t p = low[t];
                  par[p] = p;
                  ck[p] = kNoKey;
                  int32_t c1 = 0;
                  if (S[p] == 0) {
                    c1 = 1;
                    if (wsl) {
                      const int32_t y = p / W, x = p - y * W;
                      for (int k = 0; k < K; ++k) {
                        const int32_t q = Neighbour(x, y, k, W, Hi);
                        if (q < 0) continue;
                        const int32_t v = S[q];
                        if (v > 0 && v != blab) c1 = 2;  // a label that counts, not the burst's
                      }
                    }
                  }
                  cl[p] = (level << 2) | c1;
                }) ||
                !ex.ForUpTo(nLow, nListed, [=] CELLCAM_HD(int64_t t) {
                  const int32_t p = low[t];
                  if (cl[p] != ((level << 2) | 1)) return;
                  const int32_t y = p / W, x = p - y * W;
                  // Earlier neighbours only: up, left, and up-left / up-right.
                  const int ks[4] = {0, 1, 4, 5};
                  for (int j = 0; j < (K == 8 ? 4 : 2); ++j) {
                    const int32_t q = Neighbour(x, y, ks[j], W, Hi);
                    if (q >= 0 && cl[q] == ((level << 2) | 1)) Union(par, p, q);
                  }
                })) {
              return false;
            }
          }
          // A component goes to the earliest claim on any of its pixels: that pop's burst floods it.
          // (With a line only one pop of this step has claims below the level.)
          const int32_t one = (level << 2) | 1, two = (level << 2) | 2;
          if (!ex.For(c.touched, [=] CELLCAM_HD(int64_t t) {
                const int32_t q = touched[t];
                if (cl[q] == one) AtomicMin(ck + Find(par, q), key[q]);
              }) ||
              !ex.ForUpTo(nLow, nListed, [=] CELLCAM_HD(int64_t t) {
                const int32_t i = low[t];
                const int32_t c1 = cl[i];
                if ((c1 != one && c1 != two) || S[i] != 0) return;
                if (c1 == one) {
                  const uint64_t owner = ck[Find(par, i)];
                  if (owner == kNoKey) return;
                  S[i] = S[popOrder[(owner >> 4) - n]];
                  key[i] = owner;
                  bl[NextSlot(&cnt->bursted, 0)] = i;
                  return;
                }
                // Class 2 (line only): reached when claimed directly or next to a flooded pixel;
                // then it pops as a line pixel.
                bool reached = key[i] != kNoKey;
                const int32_t y = i / W, x = i - y * W;
                for (int k = 0; k < K && !reached; ++k) {
                  const int32_t q = Neighbour(x, y, k, W, Hi);
                  reached = q >= 0 && cl[q] == one && ck[Find(par, q)] != kNoKey;
                }
                if (reached) S[i] = kMasked;
              })) {
            return false;
          }
          // The burst's border is claimed after all of the owner's direct claims (+ 8). Its bound is
          // the low list (flooded pixels come from it): no round trip to learn how many flooded.
          // Nor to learn how many were claimed: at most the step's direct claims plus K per
          // flooded pixel, the settle's grid.
          const int64_t claimBound = static_cast<int64_t>(c.touched) + static_cast<int64_t>(K) * nLow;
          if (!ex.ForUpTo(nLow, &cnt->bursted, [=] CELLCAM_HD(int64_t t) {
                const int32_t b = bl[t];
                const uint64_t k8 = (key[b] & ~uint64_t{15}) | 8;
                const int32_t y = b / W, x = b - y * W;
                for (int k = 0; k < K; ++k) {
                  const int32_t q = Neighbour(x, y, k, W, Hi);
                  if (q < 0 || S[q] != 0) continue;
                  if (AtomicMin(key + q, k8) == kNoKey) touched[NextSlot(&cnt->touched, 0)] = q;
                }
              }) ||
              !settleLaunch(claimBound, false)) {
            return false;
          }
          if ((chain && !ex.InBlock(levelRun(true))) || !ex.Read(&c, cnt, sizeof(Counters))) return false;
          listed = c.low;  // until the next listing
          lowBound = listed;
          if (!chain || c.runGenerations == 0) break;  // c: the burst's settle's counters (its flag still set)
          carryOn(true);
        }

        lo = hi;
      }
      // The next generation is placed by counting: its start scans this one's claim counts.
      placeFrom = -1;
      if (place && c.next > 0) {
        placeFrom = gbase;
        placeCount = m;
      }
      int32_t* const np = nextPix;
      base += m;
      m = c.next;
      nextPix = pixA;
      pixA = np;
    }
  }

  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const int32_t v = S[i];
        int32_t o = v > 0 ? v : 0;
        if (quirk != nullptr && quirk[i] != 0) o = quirk[i];
        out[i] = o;
      })) {
    return false;
  }
  ex.Release(mark);
  return true;
}

}  // namespace wslevels
}  // namespace cellcam
