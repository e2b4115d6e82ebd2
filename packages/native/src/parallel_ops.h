// Device operations that also compile for the host: the atomics, the coherent load and the
// union-find (Playne & Hawick) used by the CUDA kernels. On the GPU they are the hardware's; on the
// host they are plain operations, for the sequential emulation of the kernels
// (host_exec.h), which runs one index at a time.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#include <cooperative_groups.h>
#define CELLCAM_HD __host__ __device__
#else
#define CELLCAM_HD
#endif

namespace cellcam {
namespace parallel {

// atomicMin for int32_t and uint64_t; returns the old value.
template <typename T>
CELLCAM_HD inline T AtomicMin(T* p, T v) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 8) {
    return static_cast<T>(atomicMin(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v)));
  } else {
    return atomicMin(p, v);
  }
#else
  const T old = *p;
  if (v < old) *p = v;
  return old;
#endif
}

CELLCAM_HD inline int32_t AtomicAdd(int32_t* p, int32_t v) {
#if defined(__CUDA_ARCH__)
  return atomicAdd(p, v);
#else
  const int32_t old = *p;
  *p = old + v;
  return old;
#endif
}

// counts[key] += 1. On a GPU the lanes of a warp that arrive together with equal keys add once
// (a labelled partition of the coalesced lanes): pixels of one label come in long runs, and a
// per-pixel atomic on a few hot counters would serialise. coalesced_threads(), not __activemask(),
// because lanes that were converged at __activemask() need not be at the next instruction.
CELLCAM_HD inline void CountOne(int32_t* counts, int32_t key) {
#if defined(__CUDA_ARCH__)
  namespace cg = cooperative_groups;
  const cg::coalesced_group peers = cg::labeled_partition(cg::coalesced_threads(), key);
  if (peers.thread_rank() == 0) atomicAdd(counts + key, static_cast<int32_t>(peers.size()));
#else
  ++counts[key];
#endif
}

// The slot of one append to a list or a counting-sort bucket: atomicAdd(counters + key, 1)'s old
// value. On a GPU the lanes of a warp that arrive together with equal keys take their slots with
// one atomic (the leader adds the group's size; each lane gets base + its rank): pixels of one
// level come in long runs, and one atomic per pixel on a few hot counters serialises (on the
// H100, the three bucket passes of the floods took 36 % of a stacked labelCell batch). The slots'
// order within a group is arbitrary, as the order of every append of these kernels is.
CELLCAM_HD inline int32_t NextSlot(int32_t* counters, int32_t key) {
#if defined(__CUDA_ARCH__)
  namespace cg = cooperative_groups;
  const cg::coalesced_group peers = cg::labeled_partition(cg::coalesced_threads(), key);
  int32_t base = 0;
  if (peers.thread_rank() == 0) base = atomicAdd(counters + key, static_cast<int32_t>(peers.size()));
  return peers.shfl(base, 0) + static_cast<int32_t>(peers.thread_rank());
#else
  return counters[key]++;
#endif
}

// Reads what other threads' atomics wrote during this launch (L2, not a stale L1 line).
CELLCAM_HD inline int32_t LoadCoherent(const int32_t* p) {
#if defined(__CUDA_ARCH__)
  return __ldcg(p);
#else
  return *p;
#endif
}

// Union-find over pixel indices with parent[i] <= i: parents are only ever lowered (atomicMin),
// so a stale read is still an ancestor in the same component, and every final root is its
// component's smallest index.
CELLCAM_HD inline int32_t Find(const int32_t* parent, int32_t i) {
  int32_t p = LoadCoherent(parent + i);
  while (p != i) {
    i = p;
    p = LoadCoherent(parent + i);
  }
  return i;
}

// Find with path halving: each node on the way is re-pointed at its grandparent, by atomicMin, so
// the move only ever lowers a parent (as linking does) and never touches a root. Without it, trees
// built in an unlucky order (the emulation's reverse order, a warp that links a long row one pixel
// at a time) make later walks as long as the row.
CELLCAM_HD inline int32_t FindCompress(int32_t* parent, int32_t i) {
  for (;;) {
    const int32_t p = LoadCoherent(parent + i);
    if (p == i) return i;
    const int32_t gp = LoadCoherent(parent + p);
    if (gp == p) return p;
    AtomicMin(parent + i, gp);
    i = gp;
  }
}

// Hangs the larger of two roots under the smaller one. When atomicMin finds that `a` already has a
// parent `old` (another thread linked it first), `old` still has to join `b`: continue with it.
CELLCAM_HD inline void Union(int32_t* parent, int32_t a, int32_t b) {
  a = FindCompress(parent, a);
  b = FindCompress(parent, b);
  while (a != b) {
    if (a < b) {
      const int32_t t = a;
      a = b;
      b = t;
    }
    const int32_t old = AtomicMin(parent + a, b);
    a = old == a ? b : old;
  }
}

// A one-block launch, ex.InBlock(body): body(block) runs on every thread of one block, and
// block.Run(phase) runs one of the phases below with the block's threads, then a block barrier,
// so a phase sees all that the phases before it wrote. Small work whose steps would each be a
// launch of its own (a small generation of the flood, or a run of them) becomes one launch. The
// body's control flow must be the same on every thread: it may branch on what the phases wrote
// (every thread reads the same values after the barrier), then block.Sync() before a later
// phase writes them again. block.Leader() is true on one thread.
template <class F>
struct ForPhase {  // f(i) for i in [0, n)
  int64_t n;
  F f;
};
template <class F>
struct UpToPhase {  // f(i) for i < min(n, *count), the count as this phase finds it
  int64_t n;
  const int32_t* count;
  F f;
};
struct ScanPhase {  // out = exclusive sums of in[0, n)
  const int32_t* in;
  int32_t* out;
  int64_t n;
};
constexpr int64_t kSortPhaseMax = 4096;  // the most pairs a SortPhase takes (512 threads × 8)
struct SortPhase {  // (keysOut, valsOut) = (keysIn, valsIn) by key, keys unique and <= maxKey; n <= kSortPhaseMax
  const uint64_t* keysIn;
  const int32_t* valsIn;
  uint64_t* keysOut;
  int32_t* valsOut;
  int64_t n;
  uint64_t maxKey;
};
template <class F>
CELLCAM_HD ForPhase<F> Over(int64_t n, const F& f) {
  return ForPhase<F>{n, f};
}
template <class F>
CELLCAM_HD UpToPhase<F> UpTo(int64_t n, const int32_t* count, const F& f) {
  return UpToPhase<F>{n, count, f};
}

}  // namespace parallel
}  // namespace cellcam
