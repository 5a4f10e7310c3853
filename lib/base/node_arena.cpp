#include "base/node_arena.hpp"

#include "base/prefaulter.hpp"
#include "base/region.hpp"

#include <algorithm>
#include <new>
#include <tuple>

#if defined(__SANITIZE_ADDRESS__)
#define LEASEKV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEASEKV_ASAN 1
#endif
#endif

#ifdef LEASEKV_ASAN
#include <sanitizer/asan_interface.h>
#define LEASEKV_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define LEASEKV_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define LEASEKV_POISON(p, n) ((void)(p), (void)(n))
#define LEASEKV_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace leasekv::base {

node_arena::node_arena(bool huge_pages, prefaulter* prefault) : huge_pages_(huge_pages), prefaulter_(prefault) {}

node_arena::~node_arena() {
  if (early_.first != nullptr) release(early_.first, early_.second);
  for (auto [p, bytes] : regions_) {
    LEASEKV_UNPOISON(p, bytes);
    release(p, bytes);
  }
}

void node_arena::release(void* p, std::size_t bytes) noexcept {
  // No populate may run on a region once it is unmapped. Only mapped regions were ever asked for.
  if (prefaulter_ != nullptr && bytes >= huge_page_size) prefaulter_->forget(p, bytes);
  free_region(p, bytes);
}

void* node_arena::allocate(std::size_t bytes) {
  if (bytes > max_pooled) {
    void* p = ::operator new(bytes);
    ++large_blocks_;
    return p;
  }
  const std::size_t c = class_of(bytes);
  if (free_block* b = free_[c]) {
    LEASEKV_UNPOISON(b, (c + 1) * granule);
    free_[c] = b->next;
    return b;
  }
  return carve((c + 1) * granule);
}

void node_arena::deallocate(void* p, std::size_t bytes) noexcept {
  if (bytes > max_pooled) {
    ::operator delete(p);
    --large_blocks_;
    return;
  }
  const std::size_t c = class_of(bytes);
  auto* b = static_cast<free_block*>(p);
  b->next = free_[c];
  free_[c] = b;
  LEASEKV_POISON(p, (c + 1) * granule);
}

void* node_arena::carve(std::size_t size) {
  if (static_cast<std::size_t>(end_ - next_) < size) new_region(size);
  char* p = next_;
  next_ += size;
  if (reinterpret_cast<std::uintptr_t>(next_) >= prefault_mark_) prefault_ahead();
  LEASEKV_UNPOISON(p, size);
  return p;
}

void node_arena::new_region(std::size_t at_least) {
  // The old region's rest (a multiple of granule, smaller than any block that did not fit) is not lost:
  // it becomes a free block of its size.
  if (const auto rest = static_cast<std::size_t>(end_ - next_); rest >= granule) {
    LEASEKV_UNPOISON(next_, rest);
    deallocate(next_, rest);
  }
  regions_.reserve(regions_.size() + 1);  // so nothing can throw once the region is ours
  std::size_t bytes = std::max(next_region_size(), at_least);
  void* p = nullptr;
  if (early_.first != nullptr && early_.second >= bytes) {
    std::tie(p, bytes) = early_;  // mapped ahead, its first page already asked for
  } else {
    if (early_.first != nullptr) {
      reserved_ -= early_.second;
      release(early_.first, early_.second);  // the prefaulter may still be faulting it in
    }
    p = allocate_region(bytes, huge_pages_);
    reserved_ += bytes;
  }
  early_ = {nullptr, 0};
  regions_.emplace_back(p, bytes);
  next_ = static_cast<char*>(p);
  end_ = next_ + bytes;
  prefault_mark_ = prefaulter_ != nullptr && bytes >= huge_page_size ? reinterpret_cast<std::uintptr_t>(p) : UINTPTR_MAX;
  LEASEKV_POISON(p, bytes);
}

std::size_t node_arena::next_region_size() const {
  return regions_.empty() ? first_region : std::min(last_region, regions_.back().second * 2);
}

void node_arena::prefault_ahead() {
  // Mapped regions are aligned to huge_page_size: the page being carved starts at a multiple of it.
  const auto end = reinterpret_cast<std::uintptr_t>(end_);
  const std::uintptr_t ahead = (reinterpret_cast<std::uintptr_t>(next_) & ~(huge_page_size - 1)) + huge_page_size;
  if (ahead >= end) {
    // The region's last page: map the next region now and fault its first page in.
    prefault_mark_ = UINTPTR_MAX;
    const std::size_t bytes = next_region_size();
    if (early_.first != nullptr || bytes < huge_page_size) return;
    try {
      early_ = {allocate_region(bytes, huge_pages_), bytes};
    } catch (const std::bad_alloc&) {
      return;  // the region is mapped when it is needed, or the allocation that needs it fails then
    }
    reserved_ += bytes;
    prefaulter_->request(early_.first, huge_page_size);
    return;
  }
  prefaulter_->request(reinterpret_cast<void*>(ahead), std::min(huge_page_size, end - ahead));
  prefault_mark_ = ahead;
}

void node_arena::wait_prefaulted() {
  if (prefaulter_ != nullptr) prefaulter_->wait_idle();
}

}  // namespace leasekv::base
