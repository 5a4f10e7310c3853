// Regions (base/region.hpp): alignment, huge-page advice, and what freeing gives back.
#include <catch2/catch.hpp>

#include "base/node_arena.hpp"
#include "base/region.hpp"

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

using leasekv::base::node_arena;

namespace {

// The VmFlags of the mapping holding `p`, from /proc/self/smaps ("hg": advised to use huge pages).
std::string vm_flags(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t lo = 0;
    std::uintptr_t hi = 0;
    char dash = 0;
    if (std::istringstream head(line); head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= at && at < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line + " ";
    }
  }
  return {};
}

}  // namespace

TEST_CASE("memory regions: large ones are aligned to a huge page, small ones to a cache line", "[base]") {
  for (const std::size_t bytes : {std::size_t{100}, std::size_t{1} << 20, std::size_t{3} << 20, std::size_t{64} << 20}) {
    auto* p = static_cast<unsigned char*>(leasekv::base::allocate_region(bytes));
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    CHECK(at % 64 == 0);
    if (bytes >= leasekv::base::huge_page_size) CHECK(at % leasekv::base::huge_page_size == 0);
    p[0] = 1;
    p[bytes - 1] = 2;  // every byte asked for is usable
    CHECK(p[0] + p[bytes - 1] == 3);
    leasekv::base::free_region(p, bytes);
  }
}

TEST_CASE("memory regions: huge pages are asked for only when wanted (options::huge_pages)", "[base]") {
  const std::size_t bytes = std::size_t{4} << 20;
  void* with = leasekv::base::allocate_region(bytes, true);
  void* without = leasekv::base::allocate_region(bytes, false);
  const std::string with_flags = vm_flags(with);
  const std::string without_flags = vm_flags(without);
  REQUIRE(!with_flags.empty());  // smaps found both mappings
  REQUIRE(!without_flags.empty());
  // A kernel built without transparent huge pages refuses the advice; then only the second check holds.
  if (std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good()) CHECK(with_flags.find(" hg ") != std::string::npos);
  CHECK(without_flags.find(" hg ") == std::string::npos);
  leasekv::base::free_region(with, bytes);
  leasekv::base::free_region(without, bytes);

  // And an arena told not to asks for none in its large regions either.
  node_arena arena(false);
  void* first_large_region_block = nullptr;
  for (int i = 0; i < 200000; ++i) {  // 200k x 112 B: past the regions below 2 MiB
    void* b = arena.allocate(112);
    if (arena.reserved() >= (std::size_t{4} << 20) && first_large_region_block == nullptr) first_large_region_block = b;
  }
  REQUIRE(first_large_region_block != nullptr);
  const std::string arena_flags = vm_flags(first_large_region_block);
  REQUIRE(!arena_flags.empty());
  CHECK(arena_flags.find(" hg ") == std::string::npos);
}

TEST_CASE("memory regions: one whose size is not a whole number of pages leaves nothing mapped when freed", "[base]") {
  // A hash table's slots come in sizes like 2,654,208 bytes. The region maps a huge page more than that
  // and gives back what lies outside the aligned range; the tail must start on a page boundary, or it is
  // never given back and stays mapped after free_region.
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t bytes = (std::size_t{3} << 20) + 8 * 331;
  auto* p = static_cast<unsigned char*>(leasekv::base::allocate_region(bytes));
  p[bytes - 1] = 1;
  leasekv::base::free_region(p, bytes);
  // mincore fails with ENOMEM on a range that holds an unmapped page. Check the region's pages and the
  // first page past its end, where the extra huge page's tail began (further on may lie a neighbour).
  const std::size_t length = (bytes + page - 1) / page * page;
  unsigned char resident = 0;
  std::size_t still_mapped = 0;
  for (std::size_t off = 0; off <= length; off += page) still_mapped += ::mincore(p + off, page, &resident) == 0 ? 1 : 0;
  CHECK(still_mapped == 0);
}
