// Model-based conformance (the run; kv_model_test.cpp and tests/remote run it): long random sequences of put / range / delete / txn / compact, with random
// options over a small key space, run against the store and against the reference model. Every response
// (or error) must match, as must the revision after every step.
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

namespace {

class generator {
 public:
  explicit generator(std::uint32_t seed) : rng_(seed) {}

  // Puts inside txns may use ignore_value / ignore_lease. Not on etcd 3.4: a txn that deletes a key and
  // then puts it with ignore_* passes etcd's checks (made before the txn runs) and then panics the server
  // ("unexpected error during txn: etcdserver: key not found", etcdserver/apply.go).
  bool ignore_in_txn = true;

  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint32_t>(n)); }
  bool chance(int percent) { return pick(100) < percent; }

  std::string key() {
    static const std::string keys[] = {"a", "ab", "abc", "b", "b/1", "b/2", "c", std::string("c\0", 2), "\xff", "d"};
    return keys[pick(10)];
  }
  std::string value() { return chance(10) ? std::string() : std::string(static_cast<std::size_t>(1 + pick(3)), static_cast<char>('p' + pick(4))); }

  key_range range() {
    switch (pick(5)) {
      case 0: return key_range(key());
      case 1: return prefix(key());
      case 2: return from_key(key());
      case 3: return key_range(key(), key());
      default: return all_keys();
    }
  }

  std::int64_t revision(std::int64_t current) {
    if (chance(50)) return 0;
    return std::max<std::int64_t>(1, current - pick(12)) + (chance(10) ? 2 : 0);
  }

  range_options range_opts(std::int64_t current) {
    range_options o;
    o.limit = chance(40) ? pick(4) : 0;
    o.revision = revision(current);
    if (chance(40)) {
      o.order = static_cast<sort_order>(pick(3));
      o.target = static_cast<sort_target>(pick(5));
    }
    o.keys_only = chance(10);
    o.count_only = chance(5);
    if (chance(15)) o.min_mod_revision = current - pick(10);
    if (chance(15)) o.max_mod_revision = current - pick(10);
    if (chance(10)) o.min_create_revision = current - pick(10);
    if (chance(10)) o.max_create_revision = current - pick(10);
    return o;
  }

  put_options put_opts() {
    put_options o;
    o.prev_kv = chance(50);
    o.ignore_value = chance(8);
    o.ignore_lease = chance(8);
    if (chance(3)) o.lease = 1 + pick(3);  // no lease exists: both must refuse it alike
    return o;
  }

  compare cmp(std::int64_t current) {
    compare::operand lhs{static_cast<compare_target>(pick(5)), chance(80) ? key_range(key()) : range()};
    const auto res = static_cast<compare_result>(pick(4));
    if (lhs.target == compare_target::value) return make_compare(lhs, res, value());
    return make_compare(lhs, res, lhs.target == compare_target::version ? pick(4) : current - pick(8));
  }

  request_op op(std::int64_t current, int depth) {
    const int kind = pick(depth > 0 ? 3 : 4);
    switch (kind) {
      case 0: return op::get(range(), range_opts(current));
      case 1: {
        auto o = put_opts();
        if (!ignore_in_txn) o.ignore_value = o.ignore_lease = false;
        return op::put(key(), o.ignore_value ? std::string() : value(), o);
      }
      case 2: return op::del(chance(60) ? key_range(key()) : range(), {.prev_kv = chance(50)});
      default: return op::txn(txn(current, depth + 1));
    }
  }

  txn_request txn(std::int64_t current, int depth = 0) {
    txn_request t;
    for (int i = pick(3); i > 0; --i) t.compares.push_back(cmp(current));
    for (int i = pick(4); i > 0; --i) t.success.push_back(op(current, depth));
    for (int i = pick(3); i > 0; --i) t.failure.push_back(op(current, depth));
    return t;
  }

 private:
  std::mt19937 rng_;
};

}  // namespace

namespace leasekv::testing {

void run_kv_model(const store_opener& open, const kv_model_run& run) {
  const int ops_per_seed = run.ops_per_seed;
  int compactions = 0;
  int errors = 0;
  for (const std::uint32_t seed : leasekv::testing::seeds(run.seeds)) {
    // Odd seeds hold every run of plain puts back (store::put), as a large store does.
    options opts;
    if (seed % 2 == 1) opts.tuning.hold_back_puts_from_keys = 0;
    auto opened = open(opts);
    auto& s = opened.s;
    reference_model m;
    generator g(seed);
    g.ignore_in_txn = run.ignore_in_txn;
    for (int i = 0; i < ops_per_seed; ++i) {
      const std::int64_t cur = m.revision();
      std::string got;
      std::string want;
      const int what = g.pick(100);
      if (what < 35) {
        auto o = g.put_opts();
        const std::string k = g.key();
        const std::string v = o.ignore_value ? std::string() : g.value();
        got = describe(s->put(k, v, o));
        want = describe(m.put(k, v, o));
      } else if (what < 60) {
        auto r = g.range();
        auto o = g.range_opts(cur);
        got = describe(s->range(r, o));
        want = describe(m.range(r, o));
        // The same read into one buffer answers exactly the same.
        INFO("range_view, seed " << seed << " op " << i << " [" << describe(key_value{r.key}) << ", "
                                  << describe(key_value{r.range_end}) << ") limit " << o.limit << " rev " << o.revision
                                  << " order " << static_cast<int>(o.order) << " target " << static_cast<int>(o.target)
                                  << " mod " << o.min_mod_revision << ".." << o.max_mod_revision << " create "
                                  << o.min_create_revision << ".." << o.max_create_revision << " range: " << got);
        REQUIRE(describe(s->range_view(r, o)) == want);
      } else if (what < 70) {
        auto r = g.chance(60) ? key_range(g.key()) : g.range();
        delete_options o{.prev_kv = g.chance(50)};
        got = describe(s->delete_range(r, o));
        want = describe(m.delete_range(r, o));
      } else if (what < 97) {
        auto t = g.txn(cur);
        got = describe(s->txn(t));
        want = describe(m.txn(t));
      } else {
        const std::int64_t rev = cur - g.pick(15);
        auto r = s->compact(rev);
        compactions += r.has_value();
        got = describe(r);
        want = describe(m.compact(rev));
      }
      errors += got.rfind("error:", 0) == 0;
      INFO("seed " << seed << " op " << i);
      REQUIRE(got == want);
      REQUIRE(s->revision() == m.revision());
    }
  }
  // The run exercised what it claims to.
  CHECK(compactions > run.min_compactions);
  CHECK(errors > run.min_errors);
}

}  // namespace leasekv::testing
