// The prefaulter (base/prefaulter.hpp): what it faults in, and what it lets go of.
#include <catch2/catch.hpp>

#include "base/prefaulter.hpp"
#include "base/region.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

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
