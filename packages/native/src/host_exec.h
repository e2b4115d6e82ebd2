// A host executor for the kernels written against an executor (watershed_levels.h,
// label_cell_parallel.h): every launch runs one index at a time, in forward, reverse or strided
// order; atomics are plain operations (parallel_ops.h); fresh buffers are filled with 0xA5, as
// device memory holds garbage. CI has no GPU: this is how it runs the CUDA kernels' own code. A
// kernel whose result depends on the order its threads run in (a race) differs between orders.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "parallel_ops.h"

namespace cellcam {

enum class Order { kForward, kReverse, kStrided };

class HostExec {
 public:
  explicit HostExec(Order order) : order_(order) {}
  std::string error;
  int64_t launches = 0, reads = 0;  // For() calls, Read() calls (host round trips on a GPU)
  int64_t items = 0;                 // indices over all For() calls (GPU threads launched)
  // Launches, indices and reads by the source line that issued them: where the emulated threads
  // and round trips go, step by step (_labelCellEmulated's `sites`).
  struct SiteCount {
    int64_t launches = 0, items = 0, reads = 0;
  };
  std::map<std::pair<std::string, int>, SiteCount> sites;

  template <class F>
  bool For(int64_t n, const F& f, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    if (n <= 0) return true;
    Count(n, file, line);
    Run(n, f);
    return true;
  }

  // f(i) for i < min(n, *count), the count as the launch finds it in device memory: one launch.
  template <class F>
  bool ForUpTo(int64_t n, const int32_t* count, const F& f, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    if (n <= 0) return true;
    const int64_t end = UpToEnd(n, count);
    Count(end, file, line);
    Run(end, f);
    return true;
  }

  // f over [0, n) (up to *count when count is not null, as ForUpTo), then g over [0, m) once every
  // f has run: one launch on a GPU (its last block runs g), so one launch here too.
  template <class F, class G>
  bool ForThen(int64_t n, const int32_t* count, const F& f, int64_t m, const G& g, const char* file = __builtin_FILE(),
               int line = __builtin_LINE()) {
    if (n <= 0) return For(m, g, file, line);
    const int64_t end = UpToEnd(n, count);
    Count(end + (m > 0 ? m : 0), file, line);
    Run(end, f);
    if (m > 0) Run(m, g);
    return true;
  }
  template <class F, class G>
  bool ForThen(int64_t n, const F& f, int64_t m, const G& g, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return ForThen(n, nullptr, f, m, g, file, line);
  }

  // body(block) (parallel_ops.h): one launch of one block on a GPU; here the block is one
  // thread that runs each phase in the executor's order.
  struct Block {
    HostExec* ex;
    template <class P>
    void Run(const P& p) const {
      ex->RunPhase(p);
    }
    void Sync() const {}
    bool Leader() const { return true; }
  };
  template <class Body>
  bool InBlock(const Body& body, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    const int64_t before = items;
    Count(0, file, line);
    body(Block{this});
    sites[{file, line}].items += items - before;
    return error.empty();
  }

  void Section(const char*) {}  // the device executor's profile sections; nothing here

  // Device memory as the chain asks for it: bytes held now, the most held at once, and a limit
  // past which Alloc fails as cudaMallocAsync does on a full device (to test the callers' plan
  // and their retry; the message carries the same error name).
  size_t liveBytes = 0, peakBytes = 0;
  size_t limitBytes = SIZE_MAX;

  template <typename T>
  T* Alloc(int64_t count) {
    const size_t bytes = static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T);
    if (bytes > limitBytes - liveBytes) {
      error = "cudaMallocAsync: cudaErrorMemoryAllocation: out of memory (emulated limit)";
      return nullptr;
    }
    blocks_.push_back({std::unique_ptr<uint64_t[]>(new uint64_t[(bytes + 7) / 8]), bytes});
    liveBytes += bytes;
    peakBytes = std::max(peakBytes, liveBytes);
    void* p = blocks_.back().data.get();
    std::memset(p, 0xA5, bytes);
    return static_cast<T*>(p);
  }

  // Buffers allocated after Mark() are freed by Release(mark) (a kernel's temporaries).
  size_t Mark() const { return blocks_.size(); }
  void Release(size_t mark) {
    while (blocks_.size() > mark) {
      liveBytes -= blocks_.back().bytes;
      blocks_.pop_back();
    }
  }

  bool Zero(void* p, size_t bytes) {
    std::memset(p, 0, bytes);
    return true;
  }
  bool Read(void* host, const void* dev, size_t bytes, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    ++reads;
    ++sites[{file, line}].reads;
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
  // min(n, *count) (n when count is null): where a launch up to a device-side count stops.
  static int64_t UpToEnd(int64_t n, const int32_t* count) {
    return count == nullptr ? n : std::min<int64_t>(n, std::max<int32_t>(*count, 0));
  }

  void Count(int64_t n, const char* file, int line) {
    ++launches;
    items += n;
    SiteCount& sc = sites[{file, line}];
    ++sc.launches;
    sc.items += n;
  }

  template <class F>
  void RunPhase(const parallel::ForPhase<F>& p) {
    items += p.n;
    Run(p.n, p.f);
  }
  template <class F>
  void RunPhase(const parallel::UpToPhase<F>& p) {
    const int64_t end = UpToEnd(p.n, p.count);
    items += end;
    Run(end, p.f);
  }
  void RunPhase(const parallel::ScanPhase& p) { ExclusiveSum(p.in, p.out, p.n); }
  void RunPhase(const parallel::SortPhase& p) {  // a failed sort sets `error`, which InBlock returns
    if (p.n > parallel::kSortPhaseMax) {  // the block's tile on a GPU
      error = "SortPhase: more pairs than kSortPhaseMax";
      return;
    }
    std::copy(p.keysIn, p.keysIn + p.n, p.keysOut);
    std::copy(p.valsIn, p.valsIn + p.n, p.valsOut);
    SortPairs(p.keysOut, nullptr, p.valsOut, nullptr, p.n, p.maxKey);
  }

  template <class F>
  void Run(int64_t n, const F& f) {
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
  }

  struct HostBlock {
    std::unique_ptr<uint64_t[]> data;
    size_t bytes;
  };
  Order order_;
  std::vector<HostBlock> blocks_;
};


}  // namespace cellcam
