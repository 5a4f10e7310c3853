// The threads a store starts: on the manual clock with no data directory, none but the prefaulter
// (options::prefault_memory), and at most one of those however much of the store's memory grows.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "base/prefaulter.hpp"

#include <fmt/core.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

using namespace leasekv;

namespace {

// The threads of this process.
std::size_t threads() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// The threads of this process named as the prefaulter names its thread.
std::size_t prefaulter_threads() {
  std::size_t n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);  // a thread that just ended reads as empty
    n += name == base::prefaulter::thread_name ? 1 : 0;
  }
  return n;
}

// 5,000 keys with 900-byte values: the store's key arena grows into regions of 2 MiB and more, the
// first memory a prefaulter is asked to fault in.
void put_large_values(store& s) {
  for (int i = 0; i < 5000; ++i) s.put(fmt::format("/large/{:05d}", i), std::string(900, 'v')).value();
}

}  // namespace

TEST_CASE("store: with prefault_memory off, a store on the manual clock starts no thread", "[store]") {
  const std::size_t before = threads();
  auto s = store::open({.clock = std::make_shared<manual_clock>(), .tuning = {.prefault_memory = false}}).value();
  put_large_values(*s);
  CHECK(s->range(prefix("/large/"), {.count_only = true}).value().count == 5000);
  CHECK(threads() <= before);
  CHECK(prefaulter_threads() == 0);
}

TEST_CASE("store: with prefault_memory on, one prefaulter thread serves every arena and table that grows", "[store]") {
  const std::size_t before = threads();
  auto s = store::open({.clock = std::make_shared<manual_clock>()}).value();
  put_large_values(*s);
  CHECK(prefaulter_threads() == 1);  // the same puts as above: the prefaulter is asked, and starts
  // 400,000 more keys grow the ordered index's arena into 2 MiB regions and the hash table past the two
  // huge pages from which its rebuilds are faulted in ahead: each of these asked for a thread of its own
  // once.
  for (int i = 0; i < 400000; ++i) s->put(fmt::format("/registry/pods/{:08d}", i), "v").value();
  CHECK(s->statistics().keys == 405000);
  CHECK(prefaulter_threads() == 1);
  CHECK(threads() <= before + 1);
}
