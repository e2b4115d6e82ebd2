// Image-sized temporaries of the CPU kernels, from a small process-wide cache of large blocks.
// malloc hands big blocks back to the OS on free, so each kernel call used to fault every page of
// its temporaries in again; on a VM a first-touch fault costs a few µs per 4 KiB page, 50-90 ms per
// 2048² labelCell. Blocks from 1 MiB up are 2 MiB-aligned and asked for transparent huge pages, and
// freed ones are kept for the next call (up to CELLCAM_SCRATCH_MB in all, default 512; 0 keeps
// none). Contents are uninitialised, fresh or reused (CELLCAM_SCRATCH_POISON=1 fills them with 0xA5).
#pragma once

#include <algorithm>
#include <cstddef>

namespace cellcam {
namespace scratch {

// A block of at least `bytes` bytes, 64-byte aligned; `*capacity` receives what Release needs.
// Throws std::bad_alloc.
void* Acquire(size_t bytes, size_t* capacity);
void Release(void* block, size_t capacity);
// Bytes of the blocks kept idle now, and the most that are kept.
size_t IdleBytes();
size_t IdleLimit();

}  // namespace scratch

// One uninitialised array of n T (at least one), owned, movable.
template <typename T>
class Scratch {
 public:
  // In the body: a member initializer for p_ would run before cap_'s default initializer resets it.
  explicit Scratch(size_t n) { p_ = static_cast<T*>(scratch::Acquire(std::max<size_t>(n, 1) * sizeof(T), &cap_)); }
  ~Scratch() {
    if (p_) scratch::Release(p_, cap_);
  }
  Scratch(Scratch&& o) noexcept : p_(o.p_), cap_(o.cap_) { o.p_ = nullptr; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Scratch& operator=(Scratch&&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  size_t cap_ = 0;
};

}  // namespace cellcam
