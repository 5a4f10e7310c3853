// Its randomized cases run their fixed seeds and one fresh seed each (support/seeds.hpp); a failure
// prints the seed, and LEASEKV_TEST_SEED=<seed> replays it.
#include <catch2/catch.hpp>

#include "base/memory.hpp"
#include "support/seeds.hpp"

#include <algorithm>
#include <initializer_list>
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <fstream>
#include <sstream>
#include <string>
#include <map>
#include <random>
#include <vector>

using leasekv::base::node_arena;

namespace {

struct block {
  unsigned char* p;
  std::size_t bytes;
  unsigned char fill;
};

bool intact(const block& b) {
  return std::all_of(b.p, b.p + b.bytes, [&](unsigned char c) { return c == b.fill; });
}

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

TEST_CASE("node arena: random blocks never overlap, keep their bytes and are aligned", "[base]") {
  node_arena arena;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({11})));
  CAPTURE(seed);
  std::mt19937 rng(seed);
  std::vector<block> live;
  std::size_t large = 0;
  for (int step = 0; step < 40000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      // Mostly small blocks, of every size class; now and then one too large to pool.
      const std::size_t bytes = rng() % 50 == 0 ? node_arena::max_pooled + 1 + rng() % 3000 : 1 + rng() % node_arena::max_pooled;
      auto* p = static_cast<unsigned char*>(arena.allocate(bytes));
      REQUIRE(reinterpret_cast<std::uintptr_t>(p) % node_arena::granule == 0);
      const auto fill = static_cast<unsigned char>(rng());
      std::memset(p, fill, bytes);
      live.push_back({p, bytes, fill});
      large += bytes > node_arena::max_pooled;
    } else {
      const std::size_t i = rng() % live.size();
      REQUIRE(intact(live[i]));
      large -= live[i].bytes > node_arena::max_pooled;
      arena.deallocate(live[i].p, live[i].bytes);
      live[i] = live.back();
      live.pop_back();
    }
    REQUIRE(arena.large_blocks() == large);
  }
  for (const block& b : live) REQUIRE(intact(b));
  // No two live blocks share a byte.
  std::sort(live.begin(), live.end(), [](const block& a, const block& b) { return a.p < b.p; });
  for (std::size_t i = 1; i < live.size(); ++i) REQUIRE(live[i - 1].p + live[i - 1].bytes <= live[i].p);
  for (const block& b : live) arena.deallocate(b.p, b.bytes);
  CHECK(arena.large_blocks() == 0);
}

TEST_CASE("node arena: a freed block is handed out again for the same size, and memory stops growing", "[base]") {
  node_arena arena;
  void* a = arena.allocate(112);
  void* b = arena.allocate(40);
  arena.deallocate(a, 112);
  CHECK(arena.allocate(40) != a);     // another size class
  CHECK(arena.allocate(109) == a);    // 109 rounds up to 112: the freed block
  arena.deallocate(b, 40);

  // Replacing a million blocks one by one (as overwrites and compaction do) reuses the space.
  std::vector<void*> blocks;
  for (int i = 0; i < 100000; ++i) blocks.push_back(arena.allocate(112));
  const std::size_t reserved = arena.reserved();
  CHECK(reserved >= 100000 * 112);
  CHECK(reserved < 100000 * 112 * 2);
  for (int round = 0; round < 10; ++round) {
    for (void*& p : blocks) {
      arena.deallocate(p, 112);
      p = arena.allocate(112);
    }
  }
  CHECK(arena.reserved() == reserved);
}

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

TEST_CASE("node arena: carving into a 2 MiB page faults the next one in ahead, and no further", "[base]") {
  for (const bool huge : {true, false}) {
    INFO("huge pages: " << huge);
    node_arena arena(huge);
    // Regions double from 16 KiB: the ninth is 4 MiB and the tenth 8 MiB, both mapped. The tenth is mapped
    // ahead, while the ninth is carved, with its first 2 MiB faulted in: its first block is the first
    // aligned one after that. Carve into the tenth until just past the start of its second 2 MiB.
    const std::size_t two_mib = leasekv::base::huge_page_size;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    unsigned char* region = nullptr;
    auto resident = [&](std::size_t from, std::size_t to) {
      std::vector<unsigned char> in((to - from) / page);
      REQUIRE(::mincore(region + from, to - from, in.data()) == 0);
      return static_cast<std::size_t>(std::count_if(in.begin(), in.end(), [](unsigned char c) { return (c & 1) != 0; }));
    };
    std::size_t carved = 0;
    const unsigned char* last = nullptr;
    for (;;) {
      auto* p = static_cast<unsigned char*>(arena.allocate(1024));
      const bool new_region = last != nullptr && p != last + 1024;
      last = p;
      if (region == nullptr && new_region && arena.reserved() >= (std::size_t{16} << 20) - (std::size_t{16} << 10)) {
        REQUIRE(reinterpret_cast<std::uintptr_t>(p) % two_mib == 0);
        region = p;
        arena.wait_prefaulted();
        CHECK(resident(0, two_mib) == two_mib / page);            // its first 2 MiB came in before it was needed
        CHECK(resident(two_mib, 2 * two_mib) == two_mib / page);  // carving into it asked for the next
        CHECK(resident(2 * two_mib, 4 * two_mib) == 0);
      }
      if (region != nullptr && (carved += 1024) > two_mib + 1024) break;
    }
    arena.wait_prefaulted();
    CHECK(resident(2 * two_mib, 3 * two_mib) == two_mib / page);  // carving into the second asked for the third
    CHECK(resident(3 * two_mib, 4 * two_mib) == 0);               // beyond it: nothing
  }
}

TEST_CASE("prefaulter: faults in what it is asked, and a forgotten range can be unmapped while it works", "[base]") {
  const std::size_t two_mib = leasekv::base::huge_page_size;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  auto resident = [&](const unsigned char* p, std::size_t bytes) {
    std::vector<unsigned char> in(bytes / page);
    REQUIRE(::mincore(const_cast<unsigned char*>(p), bytes, in.data()) == 0);
    return static_cast<std::size_t>(std::count_if(in.begin(), in.end(), [](unsigned char c) { return (c & 1) != 0; }));
  };
  auto* kept = static_cast<unsigned char*>(leasekv::base::allocate_region(2 * two_mib, false));
  REQUIRE(resident(kept, 2 * two_mib) == 0);  // mapped afresh: nothing in yet
  {
    leasekv::base::prefaulter pf;
    // Several regions asked for, then one of them taken back and unmapped before the prefaulter is
    // likely to have reached it; the one asked for after it is still faulted in.
    std::vector<unsigned char*> dropped;
    for (int i = 0; i < 4; ++i) {
      dropped.push_back(static_cast<unsigned char*>(leasekv::base::allocate_region(2 * two_mib, false)));
      pf.request(dropped.back(), 2 * two_mib);
    }
    pf.request(kept + two_mib, two_mib);
    for (unsigned char* p : dropped) {
      pf.forget(p, 2 * two_mib);
      leasekv::base::free_region(p, 2 * two_mib);
    }
    pf.wait_idle();
    CHECK(resident(kept, two_mib) == 0);                   // not asked for
    CHECK(resident(kept + two_mib, two_mib) == two_mib / page);
    CHECK(kept[two_mib] == 0);                             // faulted in, not written
    pf.request(kept, two_mib);  // left pending or in progress: the destructor waits for it or drops it
  }
  leasekv::base::free_region(kept, 2 * two_mib);
}
