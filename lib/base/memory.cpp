#include "base/memory.hpp"

#include <algorithm>
#include <cstdint>
#include <new>

#include <sys/mman.h>
#include <unistd.h>

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

namespace {
constexpr std::align_val_t small_region_alignment{64};

// What a mapped region of `bytes` spans: whole pages. munmap needs a page-aligned start for the tail it
// gives back, and a region's size (a hash table's slots, say) need not be a multiple of a page.
std::size_t mapped_length(std::size_t bytes) {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}
}  // namespace

void* allocate_region(std::size_t bytes, bool huge_pages) {
  if (bytes < huge_page_size) return ::operator new(bytes, small_region_alignment);
  bytes = mapped_length(bytes);
  // Map a huge page more than asked, then give back the parts before and after the aligned range.
  const std::size_t mapped = bytes + huge_page_size;
  void* raw = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + huge_page_size - 1) & ~(huge_page_size - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::uintptr_t tail = aligned + bytes;
  if (const std::uintptr_t end = start + mapped; end > tail) ::munmap(reinterpret_cast<void*>(tail), end - tail);
  void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
  if (huge_pages) (void)::madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without it, small pages
#else
  (void)huge_pages;
#endif
  return p;
}

void free_region(void* p, std::size_t bytes) noexcept {
  if (bytes < huge_page_size) {
    ::operator delete(p, small_region_alignment);
  } else {
    ::munmap(p, mapped_length(bytes));
  }
}

node_arena::~node_arena() {
  for (auto [p, bytes] : regions_) {
    LEASEKV_UNPOISON(p, bytes);
    free_region(p, bytes);
  }
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
  std::size_t bytes = regions_.empty() ? first_region : std::min(last_region, regions_.back().second * 2);
  bytes = std::max(bytes, at_least);
  regions_.reserve(regions_.size() + 1);  // so nothing can throw once the region is ours
  void* p = allocate_region(bytes, huge_pages_);
  regions_.emplace_back(p, bytes);
  reserved_ += bytes;
  next_ = static_cast<char*>(p);
  end_ = next_ + bytes;
  LEASEKV_POISON(p, bytes);
}

}  // namespace leasekv::base
