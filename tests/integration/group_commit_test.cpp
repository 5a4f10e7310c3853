// Group commit's guarantee with concurrent writers: writers share fsyncs, yet each put that returned
// success is on disk. Several threads put unique keys while the simulated machine fails at a random
// file operation; after the crash drops (or tears) every unsynced byte, the reopened store must hold
// every acknowledged put with its value, and any other key only as a put that was in flight.
//
// Runs its fixed seeds and one fresh seed (support/seeds.hpp; LEASEKV_TEST_SEED=<seed> replays the crash
// points, not the threads' interleaving). Runs under ThreadSanitizer in CI (label concurrency).
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/fault_env.hpp"
#include "support/seeds.hpp"

#include <fmt/core.h>

#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace leasekv;
using leasekv::testing::fault_env;

TEST_CASE("group commit: every put acknowledged by concurrent writers survives a crash", "[concurrency][storage]") {
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({1, 2, 3})));
  CAPTURE(seed);
  constexpr int writers = 4;
  constexpr int puts_per_writer = 400;
  std::mt19937 rng(seed);
  int acknowledged_total = 0;
  for (int round = 0; round < 8; ++round) {
    CAPTURE(round);
    auto disk = std::make_shared<fault_env>(seed * 100 + static_cast<std::uint32_t>(round));
    options o;
    o.data_dir = "/db";
    o.env = disk;
    o.sync = sync_policy::group_commit;
    o.tuning.snapshot_after_bytes = 8192;  // segment switches and snapshots happen under the writers too
    auto s = store::open(o).value();
    // Down at a random operation; the last rounds never go down (then everything must be there).
    const bool crash = round < 6;
    if (crash) disk->crash_after(200 + rng() % 1500);

    std::mutex mu;
    std::map<std::string, std::string> acked;   // key -> value, puts that returned success
    std::set<std::string> tried;                 // every key a put was attempted for
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; i < puts_per_writer; ++i) {
          const std::string k = fmt::format("w{}/{:04}", w, i);
          const std::string v = fmt::format("v{}-{}", round, i);
          {
            std::lock_guard lock(mu);
            tried.insert(k);
          }
          if (!s->put(k, v)) break;  // down: this writer stops at its first failure
          std::lock_guard lock(mu);
          acked.emplace(k, v);
        }
      });
    }
    for (auto& t : threads) t.join();
    s.reset();
    if (crash) disk->crash(rng() % 2 == 0);

    auto reopened = store::open(o).value();
    const auto all = reopened->range(all_keys()).value();
    std::map<std::string, std::string> found;
    for (const auto& kv : all.kvs) found.emplace(kv.key, kv.value);
    for (const auto& [k, v] : acked) {
      INFO("acknowledged put of " << k);
      auto it = found.find(k);
      REQUIRE(it != found.end());
      CHECK(it->second == v);
    }
    for (const auto& [k, v] : found) {
      INFO("found " << k << " that no put tried");
      CHECK(tried.count(k) == 1);
    }
    if (!crash) CHECK(acked.size() == static_cast<std::size_t>(writers * puts_per_writer));
    // Each acknowledged put took one revision, in some order: the revisions are exactly 2..N+1 plus
    // the puts in flight that made it.
    CHECK(reopened->revision() == 1 + static_cast<std::int64_t>(found.size()));
    acknowledged_total += static_cast<int>(acked.size());
  }
  CHECK(acknowledged_total > 0);
}
