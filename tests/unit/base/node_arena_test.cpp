// The node arena (base/node_arena.hpp): blocks, free lists, and faulting in ahead with a prefaulter.
// Its randomized cases run their fixed seeds and one fresh seed each (support/seeds.hpp); a failure
// prints the seed, and LEASEKV_TEST_SEED=<seed> replays it.
#include <catch2/catch.hpp>

#include "base/node_arena.hpp"
#include "base/prefaulter.hpp"
#include "base/region.hpp"
#include "support/seeds.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

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

// How many pages of [p, p + bytes) are resident.
std::size_t resident_pages(const void* p, std::size_t bytes) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((bytes + page - 1) / page);
  REQUIRE(::mincore(const_cast<void*>(p), bytes, in.data()) == 0);
  return static_cast<std::size_t>(std::count_if(in.begin(), in.end(), [](unsigned char c) { return (c & 1) != 0; }));
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

TEST_CASE("node arena: carving into a 2 MiB page faults the next one in ahead, and no further", "[base]") {
  for (const bool huge : {true, false}) {
    INFO("huge pages: " << huge);
    leasekv::base::prefaulter pf;
    node_arena arena(huge, &pf);
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

namespace {

// Carves `kib` blocks of 1 KiB (every region is a whole number of them, so none is left over) and
// returns the first block of the 4 MiB region, the ninth (regions double from 16 KiB: the first eight
// take 4,080 KiB), or null if carving did not reach it.
unsigned char* carve_kib(node_arena& arena, std::size_t kib) {
  unsigned char* ninth = nullptr;
  for (std::size_t i = 0; i < kib; ++i) {
    auto* p = static_cast<unsigned char*>(arena.allocate(1024));
    if (i == 4080) ninth = p;
  }
  return ninth;
}

constexpr std::size_t first_nine_regions = std::size_t{8176} << 10;  // 16 KiB x (2^9 - 1)

}  // namespace

TEST_CASE("node arena: without a prefaulter nothing is faulted in or mapped ahead", "[base]") {
  const std::size_t two_mib = leasekv::base::huge_page_size;
  // Carving into the ninth region's last 2 MiB: with a prefaulter, that page was faulted in ahead and the
  // tenth region (8 MiB) is mapped already; without one, neither.
  {
    node_arena arena(false);
    unsigned char* ninth = carve_kib(arena, (first_nine_regions >> 10) - 512);
    REQUIRE(ninth != nullptr);
    arena.wait_prefaulted();  // returns at once: there is nothing to wait for
    CHECK(resident_pages(ninth + two_mib, two_mib) == 0);
    CHECK(arena.reserved() == first_nine_regions);
  }
  {
    leasekv::base::prefaulter pf;
    node_arena arena(false, &pf);
    unsigned char* ninth = carve_kib(arena, (first_nine_regions >> 10) - 512);
    REQUIRE(ninth != nullptr);
    arena.wait_prefaulted();
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    CHECK(resident_pages(ninth + two_mib, two_mib) == two_mib / page);
    CHECK(arena.reserved() == first_nine_regions + (std::size_t{8} << 20));
  }
}

TEST_CASE("node arena: arenas sharing one prefaulter each get their pages, and one destroyed leaves the others' requests alone", "[base]") {
  const std::size_t two_mib = leasekv::base::huge_page_size;
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  leasekv::base::prefaulter pf;
  node_arena kept(false, &pf);
  unsigned char* kept_ninth = nullptr;
  for (int round = 0; round < 3; ++round) {
    // Another arena grows beside it and is destroyed, its requests possibly still pending or in progress.
    node_arena gone(false, &pf);
    REQUIRE(carve_kib(gone, (first_nine_regions >> 10) - 512) != nullptr);
    if (round == 1) kept_ninth = carve_kib(kept, (first_nine_regions >> 10) - 512);
  }
  REQUIRE(kept_ninth != nullptr);
  pf.wait_idle();
  CHECK(resident_pages(kept_ninth + two_mib, two_mib) == two_mib / page);
}
