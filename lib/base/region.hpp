// Regions: the memory of the engine's large tables (hash slots, lease chunks, change-log chunks) and of
// the node arenas' blocks.
//
// A region of 2 MiB or more is mapped on its own (in whole pages), aligned to 2 MiB and, if asked for,
// advised to use huge pages, so a random probe into it costs a cache miss and not a TLB miss too. Smaller
// ones come from the heap.
//
// Thread safety: the functions are safe to call from any thread.
#pragma once

#include <cstddef>

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

}  // namespace leasekv::base
