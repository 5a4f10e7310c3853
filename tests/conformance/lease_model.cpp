// Model-based conformance for leases (the run; lease_model_test.cpp and tests/remote run it): random grant / revoke / keep-alive / put-with-lease / delete / txn /
// advance sequences on the manual clock, against the reference model. Every response, revision,
// time-to-live (with its keys) and lease list must match, and so must the whole key space.
// Each run takes its fixed seeds and one fresh seed (support/seeds.hpp); a failure prints the seed,
// and LEASEKV_TEST_SEED=<seed> replays it.
#include "conformance/model_runs.hpp"

#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/describe.hpp"
#include "support/reference_model.hpp"
#include "support/seeds.hpp"

#include <random>
#include <string>

using namespace leasekv;
using leasekv::testing::describe;
using leasekv::testing::reference_model;

namespace leasekv::testing {

namespace {

// Over etcd's wire a time-to-live says whole seconds only: compare what it can say.
std::string describe_ttl(lease_time_to_live_response r, bool whole_seconds) {
  if (whole_seconds && r.ttl >= 0) r.remaining = std::chrono::seconds(r.ttl);
  return describe(r);
}

}  // namespace

void run_lease_model(const store_opener& open, const lease_model_run& run) {
  int expiries = 0;
  int renewals = 0;
  const std::int64_t unit = run.whole_seconds ? 1000 : 1;
  for (const std::uint32_t seed : leasekv::testing::seeds(run.seeds)) {
    auto opened = open({});
    auto& s = opened.s;
    auto& clk = opened.clk;
    reference_model m;
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto lease = [&] { return static_cast<lease_id>(pick(8) - 1); };  // -1..6: 0 is "no lease", some unknown
    auto key = [&] { return std::string(1, static_cast<char>('a' + pick(6))); };
    for (int i = 0; i < run.ops_per_seed; ++i) {
      std::string got;
      std::string want;
      switch (pick(10)) {
        case 0: {
          const std::int64_t ttl = pick(50) == 0 ? -pick(3) * 1000 : unit * (1 + pick(static_cast<int>(4000 / unit)));
          const lease_id id = 1 + pick(6);
          got = describe(s->grant(std::chrono::milliseconds(ttl), id));
          want = describe(m.grant(ttl, id));
          break;
        }
        case 1: {
          const lease_id id = lease();
          got = describe(s->revoke(id));
          want = describe(m.revoke(id));
          break;
        }
        case 2: {
          const lease_id id = lease();
          auto r = s->keep_alive_once(id);
          renewals += r.has_value();
          got = describe(r);
          want = describe(m.keep_alive(id));
          break;
        }
        case 3:
        case 4: {
          const put_options o{.lease = lease(), .prev_kv = pick(2) == 0, .ignore_lease = pick(10) == 0};
          const put_options po = o.ignore_lease ? put_options{.prev_kv = o.prev_kv, .ignore_lease = true} : o;
          const std::string k = key();
          got = describe(s->put(k, "v" + std::to_string(i), po));
          want = describe(m.put(k, "v" + std::to_string(i), po));
          break;
        }
        case 5: {
          const auto r = pick(3) == 0 ? prefix("") : key_range(key());
          got = describe(s->delete_range(r));
          want = describe(m.delete_range(r));
          break;
        }
        case 6: {
          txn_request t;
          t.compares.push_back(compare::lease(key()) == lease());
          t.success.push_back(op::put(key(), "t", {.lease = lease()}));
          t.failure.push_back(op::del(key()));
          got = describe(s->txn(t));
          want = describe(m.txn(t));
          break;
        }
        case 7: {
          const std::int64_t ms = pick(4) == 0 ? pick(5000) : pick(300);
          const auto before = m.revision();
          clk->advance(std::chrono::milliseconds(ms));
          m.advance(ms);
          expiries += static_cast<int>(m.revision() - before);
          got = describe(s->range(all_keys()));
          want = describe(m.range(all_keys()));
          break;
        }
        case 8: {
          const lease_id id = lease();
          auto r = s->time_to_live(id, {.keys = true});
          got = r ? describe_ttl(r.value(), run.whole_seconds) : describe(r);
          want = describe_ttl(m.time_to_live(id), run.whole_seconds);
          break;
        }
        default:
          got = describe(s->leases());
          want = describe(m.list_leases());
          break;
      }
      INFO("seed " << seed << " op " << i);
      REQUIRE(got == want);
      REQUIRE(s->revision() == m.revision());
    }
    REQUIRE(describe(s->range(all_keys())) == describe(m.range(all_keys())));
  }
  CHECK(expiries > run.min_expiries);
  CHECK(renewals > run.min_renewals);
}

}  // namespace leasekv::testing
