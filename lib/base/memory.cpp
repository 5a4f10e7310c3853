#include "base/memory.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <tuple>

#include <pthread.h>
#include <sched.h>
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

prefaulter::~prefaulter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void prefaulter::request(void* p, std::size_t bytes) {
  {
    std::lock_guard lock(mu_);
    if (failed_) return;
    if (!thread_.joinable()) {
      try {
        thread_ = std::thread([this] { run(); });
      } catch (const std::system_error&) {
        failed_ = true;
        return;
      }
    }
    pending_.emplace_back(p, bytes);
  }
  changed_.notify_all();
}

void prefaulter::forget(const void* p, std::size_t bytes) {
  const auto lo = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t hi = lo + bytes;
  auto inside = [&](const std::pair<void*, std::size_t>& r) {
    const auto at = reinterpret_cast<std::uintptr_t>(r.first);
    return r.first != nullptr && at < hi && at + r.second > lo;
  };
  std::unique_lock lock(mu_);
  std::erase_if(pending_, inside);
  changed_.wait(lock, [&] { return !inside(busy_); });
}

void prefaulter::wait_idle() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return pending_.empty() && busy_.first == nullptr; });
}

void prefaulter::run() {
#ifdef SCHED_IDLE
  // Only on otherwise idle CPU time: where every core is busy, faulting ahead would take time from the
  // store's own threads (an expiry storm, say) rather than from nobody's, and the writer is better off
  // faulting its pages in itself.
  const sched_param idle{};
  (void)::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &idle);
#endif
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    busy_ = pending_.front();
    pending_.pop_front();
    lock.unlock();
#ifdef MADV_POPULATE_WRITE
    (void)::madvise(busy_.first, busy_.second, MADV_POPULATE_WRITE);  // advice only: on an older kernel, EINVAL
#endif
    lock.lock();
    busy_ = {nullptr, 0};
    changed_.notify_all();
  }
}

node_arena::node_arena(bool huge_pages) : huge_pages_(huge_pages) {}

node_arena::~node_arena() {
  prefaulter_.reset();  // no populate may run on a region unmapped below
  if (early_.first != nullptr) free_region(early_.first, early_.second);
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
    std::tie(p, bytes) = early_;  // mapped ahead, its first page already faulted in
  } else {
    if (early_.first != nullptr) {
      prefaulter_->wait_idle();  // it may still be faulting the region in
      reserved_ -= early_.second;
      free_region(early_.first, early_.second);
    }
    p = allocate_region(bytes, huge_pages_);
    reserved_ += bytes;
  }
  early_ = {nullptr, 0};
  regions_.emplace_back(p, bytes);
  next_ = static_cast<char*>(p);
  end_ = next_ + bytes;
  prefault_mark_ = UINTPTR_MAX;
  if (bytes >= huge_page_size) {
    try {
      if (!prefaulter_) prefaulter_ = std::make_unique<prefaulter>();
      prefault_mark_ = reinterpret_cast<std::uintptr_t>(p);
    } catch (const std::bad_alloc&) {
      // No prefaulting: pages are faulted in as they are written.
    }
  }
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
  if (prefaulter_) prefaulter_->wait_idle();
}

}  // namespace leasekv::base
