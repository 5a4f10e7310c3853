#include "base/region.hpp"

#include <cstdint>
#include <new>

#include <sys/mman.h>
#include <unistd.h>

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

}  // namespace leasekv::base
