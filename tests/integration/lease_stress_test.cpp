// Threads granting, renewing, revoking and attaching keys while another thread advances the manual
// clock. Afterwards the store must be consistent: every key that names a lease is listed in that lease's
// keys and vice versa, and once every deadline has passed no lease and no leased key is left. Runs under
// ThreadSanitizer in CI. Runs once with the fixed base seed 0 and once with a fresh one
// (support/seeds.hpp); a failure prints it, and LEASEKV_TEST_SEED=<seed> replays its operation mix.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/seeds.hpp"

#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace leasekv;
using namespace std::chrono_literals;

TEST_CASE("lease stress: concurrent grants, renewals, revokes and puts while the clock advances", "[concurrency][lease]") {
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({0})));
  CAPTURE(seed);
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.clock = clk, .tuning = {.expiry_batch = 4}}).value();
  std::atomic<bool> stop{false};
  std::atomic<int> unexpected{0};
  std::atomic<int> leased_puts{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937 rng(seed + static_cast<unsigned>(w));
      std::vector<lease_id> mine;
      for (int i = 0; i < 10000; ++i) {
        switch (rng() % 5) {
          case 0: {
            auto g = s->grant(std::chrono::milliseconds(50 + rng() % 500));
            if (g) {
              mine.push_back(g.value().id);
            } else {
              unexpected++;
            }
            break;
          }
          case 1:
          case 2: {
            if (mine.empty()) break;
            const lease_id l = mine[rng() % mine.size()];
            auto p = s->put("w" + std::to_string(w) + "/" + std::to_string(rng() % 20), "v", {.lease = l});
            if (!p && p.error() != errc::lease_not_found) unexpected++;
            if (p) leased_puts++;
            break;
          }
          case 3: {
            if (mine.empty()) break;
            auto r = s->keep_alive_once(mine[rng() % mine.size()]);
            if (!r && r.error() != errc::lease_not_found) unexpected++;
            break;
          }
          default: {
            if (mine.empty()) break;
            auto r = s->revoke(mine[rng() % mine.size()]);
            if (!r && r.error() != errc::lease_not_found) unexpected++;
          }
        }
      }
    });
  }
  std::thread ticker([&] {
    while (!stop.load()) {
      clk->advance(7ms);
      std::this_thread::yield();
    }
  });
  for (auto& t : workers) t.join();
  stop = true;
  ticker.join();
  CHECK(unexpected == 0);
  CHECK(leased_puts > 0);  // keys were attached while leases came and went

  // Attachments agree in both directions.
  std::set<std::pair<lease_id, std::string>> from_keys;
  const auto all = s->range(all_keys()).value();
  for (const auto& kv : all.kvs) {
    if (kv.lease != no_lease) from_keys.emplace(kv.lease, kv.key);
  }
  std::set<std::pair<lease_id, std::string>> from_leases;
  const auto leases = s->leases().value();
  for (const auto& l : leases.leases) {
    const auto ttl = s->time_to_live(l.id, {.keys = true}).value();
    for (const auto& k : ttl.keys) from_leases.emplace(l.id, k);
  }
  CHECK(from_keys == from_leases);

  // Every deadline passes: nothing leased survives.
  clk->advance(1s);
  CHECK(s->leases().value().leases.empty());
  // Every key here was put with a lease, so none is left.
  CHECK(s->range(all_keys()).value().kvs.empty());
}
