// Thousands of simulated crashes at random points of random workloads (the fault env fails the Nth file
// operation and then drops or tears every unsynced byte). After each crash the store must reopen, and
// its whole state — every revision's key space, the compaction point, every lease with its remaining
// time and keys — must equal the reference model's after the acknowledged operations (the one in flight
// included if it returned success), or after those plus the one in flight that failed (whole, never
// half). Crashes lose unsynced bytes (or tear them) and unsynced directory changes (all, or all but a
// prefix).
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/describe.hpp"
#include "support/fault_env.hpp"
#include "support/reference_model.hpp"

#include <optional>
#include <random>
#include <string>

using namespace leasekv;
using leasekv::testing::describe;
using leasekv::testing::fault_env;
using leasekv::testing::reference_model;

namespace {

template <class Store>
std::string state_of(Store& s, std::int64_t revision, std::int64_t compacted) {
  std::string out = "rev=" + std::to_string(revision) + " compacted=" + std::to_string(compacted) + "\n";
  for (std::int64_t r = std::max<std::int64_t>(1, compacted); r <= revision; ++r) {
    out += describe(s.range(all_keys(), {.revision = r})) + "\n";
  }
  return out;
}

std::string leases_of(store& s) {
  std::string out;
  const auto list = s.leases().value();
  for (const auto& l : list.leases) out += describe(s.time_to_live(l.id, {.keys = true})) + "\n";
  return out;
}

std::string leases_of(reference_model& m) {
  std::string out;
  const auto list = m.list_leases();
  for (const auto& l : list.leases) out += describe(m.time_to_live(l.id)) + "\n";
  return out;
}

}  // namespace

TEST_CASE("crash conformance: thousands of simulated crashes lose nothing acknowledged and half-apply nothing", "[conformance][storage]") {
  int crashes = 0;
  int in_flight_survived = 0;
  int acknowledged_in_flight = 0;
  for (std::uint32_t seed = 1; seed <= 60; ++seed) {
    auto env = std::make_shared<fault_env>(seed);
    auto clk = std::make_shared<manual_clock>();
    options o;
    o.data_dir = "/db";
    o.env = env;
    o.clock = clk;
    o.sync = seed % 2 == 0 ? sync_policy::per_write : sync_policy::group_commit;
    o.tuning.snapshot_after_bytes = 1500;  // rotate often: crashes land inside snapshots too
    reference_model m;
    std::int64_t model_compacted = -1;
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto s = store::open(o).value();
    for (int round = 0; round < 40; ++round) {
      env->crash_after(static_cast<std::uint64_t>(1 + pick(60)));
      // `m` holds the acknowledged state; `next` is m plus the operation being tried.
      std::optional<std::pair<reference_model, std::int64_t>> in_flight;
      bool acknowledged = false;
      for (int i = 0; i < 30; ++i) {
        reference_model next = m;
        std::int64_t next_compacted = model_compacted;
        const std::string k(1, static_cast<char>('a' + pick(5)));
        const lease_id l = pick(3) == 0 ? 0 : 1 + pick(4);
        std::string got;
        std::string want;
        switch (pick(8)) {
          case 0:
          case 1: {
            const std::string v = std::to_string(round * 100 + i);
            got = describe(s->put(k, v, {.lease = l}));
            want = describe(next.put(k, v, {.lease = l}));
            break;
          }
          case 2: {
            const bool whole = pick(2) == 0;
            got = describe(s->delete_range(whole ? prefix("") : key_range(k)));
            want = describe(next.delete_range(whole ? prefix("") : key_range(k)));
            break;
          }
          case 3: {
            const std::int64_t ttl = 500 + pick(3000);
            const lease_id id = 1 + pick(4);
            got = describe(s->grant(std::chrono::milliseconds(ttl), id));
            want = describe(next.grant(ttl, id));
            break;
          }
          case 4: {
            const lease_id id = 1 + pick(4);
            got = describe(s->keep_alive_once(id));
            want = describe(next.keep_alive(id));
            break;
          }
          case 5: {
            const lease_id id = 1 + pick(4);
            got = describe(s->revoke(id));
            want = describe(next.revoke(id));
            break;
          }
          case 6: {
            const std::int64_t rev = m.revision() - pick(4);
            got = describe(s->compact(rev));
            auto mr = next.compact(rev);
            if (mr) next_compacted = rev;
            want = describe(mr);
            break;
          }
          default: {
            const std::int64_t ms = pick(800);
            clk->advance(std::chrono::milliseconds(ms));
            next.advance(ms);  // a crash mid-expiry is finished by the next open: expiry resumes there
            break;
          }
        }
        if (env->crashed()) {
          // Answered as the model answers, the call was acknowledged (the disk may have died after it,
          // in a snapshot): its effects must survive. Otherwise they may or may not, but whole.
          acknowledged = got == want;
          in_flight.emplace(std::move(next), next_compacted);
          break;
        }
        INFO("seed " << seed << " round " << round << " op " << i << " store compacted " << s->compacted_revision() << " model compacted " << model_compacted << " rev " << m.revision());
        REQUIRE(got == want);
        m = std::move(next);
        model_compacted = next_compacted;
      }
      // Crash: the process dies, the machine keeps what was synced (and maybe part of the rest).
      s.reset();
      env->crash(pick(2) == 0);
      ++crashes;
      auto reopened = store::open(o);
      INFO("seed " << seed << " round " << round << ": " << (reopened ? std::string() : reopened.error().what()));
      REQUIRE(reopened.has_value());
      s = std::move(reopened).value();
      const std::string got = state_of(*s, s->revision(), s->compacted_revision()) + leases_of(*s);
      if (in_flight && acknowledged) {
        REQUIRE(got == state_of(in_flight->first, in_flight->first.revision(), in_flight->second) + leases_of(in_flight->first));
        ++acknowledged_in_flight;
        m = std::move(in_flight->first);
        model_compacted = in_flight->second;
      } else if (in_flight && got == state_of(in_flight->first, in_flight->first.revision(), in_flight->second) +
                                        leases_of(in_flight->first)) {
        ++in_flight_survived;  // the operation in flight made it to disk whole
        m = std::move(in_flight->first);
        model_compacted = in_flight->second;
      } else {
        REQUIRE(got == state_of(m, m.revision(), model_compacted) + leases_of(m));
      }
    }
  }
  CHECK(crashes >= 2000);
  CHECK(in_flight_survived > 0);
  CHECK(acknowledged_in_flight > 0);  // calls that succeeded while the disk died under them were checked
}
