// node_arena: the memory of a store's many small nodes (key entries, versions, ordered-index nodes).
//
// The keys and versions of a store are millions of small blocks of a few sizes. The arena carves them one
// after another out of regions (region.hpp) that double from 16 KiB to 32 MiB (huge pages from 2 MiB on,
// if asked for), with no per-block header and no rounding beyond 8 bytes: a 39-byte key entry takes 40
// bytes rather than malloc's 48, a version with a 64-byte value 112 rather than 128. A freed block goes on
// a free list of its size and is handed out again for a block of the same size; regions are returned only
// when the arena is destroyed. Blocks over max_pooled bytes go to operator new.
//
// Under AddressSanitizer, free blocks and the unused rest of a region are poisoned, so a use after free
// or a read past a block's end is still reported.
//
// Prefaulting, given a prefaulter (prefaulter.hpp): in a mapped region (2 MiB and more), once carving
// enters a 2 MiB page, the arena asks for the next 2 MiB to be faulted in, so the caller writing blocks
// does not wait for it; in a region's last page, it maps the next region and asks for its first 2 MiB.
// Nothing beyond the next 2 MiB page is asked for ahead. Without one, pages are faulted in as they are
// written and no region is mapped ahead.
//
// Thread safety: none; the owner serializes calls.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace leasekv::base {

class prefaulter;

class node_arena {
 public:
  static constexpr std::size_t granule = 8;  // block sizes round up to this, and blocks are aligned to it
  static constexpr std::size_t max_pooled = 1024;

  // `prefault`, if not null, faults the arena's mapped regions in ahead of carving. REQUIRES: it outlives
  // the arena.
  explicit node_arena(bool huge_pages = true, prefaulter* prefault = nullptr);
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
  // Frees a region, first taking back whatever was asked of prefaulter_ for it.
  void release(void* p, std::size_t bytes) noexcept;

  std::array<free_block*, max_pooled / granule> free_{};
  char* next_ = nullptr;  // the current region's unused rest: [next_, end_)
  char* end_ = nullptr;
  std::vector<std::pair<void*, std::size_t>> regions_;
  std::size_t reserved_ = 0;
  std::size_t large_blocks_ = 0;
  bool huge_pages_ = true;
  prefaulter* prefaulter_ = nullptr;             // not owned; null: no prefaulting
  std::uintptr_t prefault_mark_ = UINTPTR_MAX;  // no prefaulting outside mapped regions
  std::pair<void*, std::size_t> early_{nullptr, 0};  // the next region, mapped ahead (counted in reserved_)
};

}  // namespace leasekv::base
