// Memory for the engine's large tables and its many small nodes.
//
// Regions: a table of 2 MiB or more is mapped on its own (in whole pages), aligned to 2 MiB and, if asked
// for, advised to use huge pages, so a random probe into it costs a cache miss and not a TLB miss too.
// Smaller ones come from the heap.
//
// node_arena: the keys and versions of a store are millions of small blocks of a few sizes. The arena
// carves them one after another out of regions that double from 16 KiB to 32 MiB (huge pages from 2 MiB
// on, if asked for), with no per-block header and no rounding beyond 8 bytes: a 39-byte key entry takes
// 40 bytes rather than malloc's 48, a version with a 64-byte value 112 rather than 128. A freed block
// goes on a free list of its size and is handed out again for a block of the same size; regions are
// returned only when the arena is destroyed. Blocks over max_pooled bytes go to operator new.
//
// Under AddressSanitizer, free blocks and the unused rest of a region are poisoned, so a use after free
// or a read past a block's end is still reported.
//
// Prefaulting: the first write to a page costs a page fault (zeroing it; on a VM whose host takes freed
// memory back, a host fault too: ~4 ms for a 2 MiB huge page on the development VM). In a mapped region
// (2 MiB and more), once carving enters a 2 MiB page, a thread of the arena's own faults the next 2 MiB
// in (MADV_POPULATE_WRITE), so the caller writing blocks does not wait for it; in a
// region's last page, the next region is mapped and its first 2 MiB faulted in. The thread starts with the
// first mapped region and runs at idle priority (SCHED_IDLE), on CPU time nothing else wants; nothing
// beyond the next 2 MiB page is faulted in ahead. The prefaulter class is the same thread for other
// owners: the hash index faults a growing table in with one.
//
// Thread safety: none; the owner serializes calls.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace leasekv::base {

inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

// At least `bytes`, aligned to 64 bytes (to huge_page_size from huge_page_size on, and advised to use
// huge pages if `huge_pages`; such a region is mapped afresh, so it reads as zeros: see region_is_zeroed).
// Throws bad_alloc.
void* allocate_region(std::size_t bytes, bool huge_pages = true);
// REQUIRES: p came from allocate_region(bytes).
void free_region(void* p, std::size_t bytes) noexcept;
// Whether allocate_region(bytes) returns memory that is all zeros.
constexpr bool region_is_zeroed(std::size_t bytes) { return bytes >= huge_page_size; }

// Faults ranges of memory in, in the order asked, on a thread of its own started with the first request
// and run at idle priority (SCHED_IDLE): on CPU time nothing else wants, it takes page faults (and a VM
// host's faults) off the thread that will write the memory. Writing a page while it is being faulted in
// is safe: the kernel faults each page in once, and leaves a page already in alone. Prefaulting only
// saves time: where no thread can be started, a request does nothing.
class prefaulter {
 public:
  prefaulter() = default;
  ~prefaulter();  // drops what is not started, and waits for what is
  prefaulter(const prefaulter&) = delete;
  prefaulter& operator=(const prefaulter&) = delete;

  // REQUIRES: [p, p + bytes) is mapped, and stays mapped until forget() of it returns. Never blocks for
  // the work itself.
  void request(void* p, std::size_t bytes);
  // Drops the requests inside [p, p + bytes) not started yet and waits for one in progress there, so
  // that the range can be unmapped.
  void forget(const void* p, std::size_t bytes);
  // Waits until every request is done.
  void wait_idle();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::pair<void*, std::size_t>> pending_;
  std::pair<void*, std::size_t> busy_{nullptr, 0};  // the request in progress
  bool stop_ = false;
  bool failed_ = false;
  std::thread thread_;
};

class node_arena {
 public:
  static constexpr std::size_t granule = 8;  // block sizes round up to this, and blocks are aligned to it
  static constexpr std::size_t max_pooled = 1024;

  explicit node_arena(bool huge_pages = true);
  ~node_arena();
  node_arena(const node_arena&) = delete;
  node_arena& operator=(const node_arena&) = delete;

  // A block of `bytes` (> 0), aligned to granule. Throws bad_alloc.
  void* allocate(std::size_t bytes);
  // REQUIRES: p came from allocate(bytes) of this arena and is not freed yet.
  void deallocate(void* p, std::size_t bytes) noexcept;

  // Blocks over max_pooled bytes not yet freed: while there are none, destroying the arena frees every
  // block, and an owner need not free them one by one.
  std::size_t large_blocks() const { return large_blocks_; }
  // The bytes of every region the arena holds.
  std::size_t reserved() const { return reserved_; }
  // Waits until the pages asked to be faulted in ahead are in (for tests).
  void wait_prefaulted();

 private:
  struct free_block {
    free_block* next;
  };
  static constexpr std::size_t first_region = std::size_t{16} << 10;
  static constexpr std::size_t last_region = std::size_t{32} << 20;
  static std::size_t class_of(std::size_t bytes) { return (bytes + granule - 1) / granule - 1; }
  void* carve(std::size_t size);
  void new_region(std::size_t at_least);
  std::size_t next_region_size() const;
  // Asks for the 2 MiB after the page carving is in (in the region's last page: maps the next region and
  // asks for its first 2 MiB); called once carving passes prefault_mark_.
  void prefault_ahead();

  std::array<free_block*, max_pooled / granule> free_{};
  char* next_ = nullptr;  // the current region's unused rest: [next_, end_)
  char* end_ = nullptr;
  std::vector<std::pair<void*, std::size_t>> regions_;
  std::size_t reserved_ = 0;
  std::size_t large_blocks_ = 0;
  bool huge_pages_ = true;
  std::uintptr_t prefault_mark_ = UINTPTR_MAX;  // no prefaulting outside mapped regions
  std::unique_ptr<prefaulter> prefaulter_;       // started with the first mapped region
  std::pair<void*, std::size_t> early_{nullptr, 0};  // the next region, mapped ahead (counted in reserved_)
};

}  // namespace leasekv::base
