// The scratch block cache behind Scratch<T> (scratch.h): why it exists is said there.
#include "scratch.h"

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(_WIN32)
#include <malloc.h>
#endif

namespace cellcam {
namespace scratch {
namespace {

constexpr size_t kHuge = size_t{1} << 21;      // 2 MiB: a transparent huge page
constexpr size_t kPooled = size_t{1} << 20;    // smaller requests go straight to the allocator

void* AlignedAlloc(size_t align, size_t bytes) {
#if defined(_WIN32)
  return _aligned_malloc(bytes, align);
#else
  void* p = nullptr;
  return posix_memalign(&p, align, bytes) == 0 ? p : nullptr;
#endif
}

void AlignedFree(void* p) {
#if defined(_WIN32)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> idle;  // capacity -> block
  size_t idleBytes = 0;
  size_t limit = LimitFromEnv();

  // CELLCAM_SCRATCH_MB: digits only (what `cellcam doctor` accepts too), at most 2^20 MiB;
  // anything else, or unset, means the default.
  static size_t LimitFromEnv() {
    constexpr size_t kDefaultMb = 512, kMaxMb = size_t{1} << 20;
    const char* env = std::getenv("CELLCAM_SCRATCH_MB");
    if (!env || !*env) return kDefaultMb << 20;
    size_t mb = 0;
    for (const char* c = env; *c; ++c) {
      if (*c < '0' || *c > '9') return kDefaultMb << 20;
      mb = std::min(kMaxMb, mb * 10 + static_cast<size_t>(*c - '0'));
    }
    return mb << 20;
  }
};

Cache& TheCache() {
  static Cache* cache = new Cache();  // never destroyed (its blocks go with the process): kernels may still run at exit
  return *cache;
}

// CELLCAM_SCRATCH_POISON=1 (the test suite sets it): every block handed out is filled with 0xA5,
// so a kernel that reads a temporary before writing it cannot pass by luck of fresh zero pages.
bool Poison() {
  static const bool poison = [] {
    const char* env = std::getenv("CELLCAM_SCRATCH_POISON");
    return env && *env && std::strcmp(env, "0") != 0;
  }();
  return poison;
}

void* Fresh(void* p, size_t bytes) {
  if (Poison()) std::memset(p, 0xA5, bytes);
  return p;
}

}  // namespace

void* Acquire(size_t bytes, size_t* capacity) {
  if (bytes < kPooled) {
    void* p = AlignedAlloc(64, (bytes + 63) & ~size_t{63});
    if (!p) throw std::bad_alloc();
    *capacity = 0;
    return Fresh(p, bytes);
  }
  const size_t rounded = (bytes + kHuge - 1) & ~(kHuge - 1);
  Cache& c = TheCache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    // The smallest idle block that fits, if it wastes no more than the request itself.
    auto it = c.idle.lower_bound(rounded);
    if (it != c.idle.end() && it->first <= 2 * rounded) {
      void* p = it->second;
      *capacity = it->first;
      c.idleBytes -= it->first;
      c.idle.erase(it);
      return Fresh(p, bytes);
    }
  }
  void* p = AlignedAlloc(kHuge, rounded);
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure just means 4 KiB pages
#endif
  *capacity = rounded;
  return Fresh(p, bytes);
}

void Release(void* block, size_t capacity) {
  if (!block) return;
  if (capacity == 0) {
    AlignedFree(block);
    return;
  }
  Cache& c = TheCache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (capacity <= c.limit) {
      // Over the limit: the largest idle blocks go first (the one just freed is the likeliest reuse).
      while (c.idleBytes + capacity > c.limit) {
        auto largest = std::prev(c.idle.end());
        AlignedFree(largest->second);
        c.idleBytes -= largest->first;
        c.idle.erase(largest);
      }
      c.idle.emplace(capacity, block);
      c.idleBytes += capacity;
      return;
    }
  }
  AlignedFree(block);
}

size_t IdleBytes() {
  Cache& c = TheCache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.idleBytes;
}

size_t IdleLimit() { return TheCache().limit; }

}  // namespace scratch
}  // namespace cellcam
