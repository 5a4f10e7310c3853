// The lease table: ids it chooses name their slots; any other id still works, through its side map.
// Its randomized cases run their fixed seeds and one fresh seed each (support/seeds.hpp); a failure
// prints the seed, and LEASEKV_TEST_SEED=<seed> replays it.
#include <catch2/catch.hpp>

#include "lease/lease_table.hpp"
#include "support/seeds.hpp"

#include <map>
#include <random>
#include <set>

using leasekv::lease_id;
using leasekv::no_lease;
using leasekv::lease::lease_record;
using leasekv::lease::lease_table;

namespace {

// Every id in `expect` is found at its record, and nothing else is.
void check_model(const lease_table& t, const std::map<lease_id, lease_record*>& expect, const std::vector<lease_id>& absent) {
  REQUIRE(t.size() == expect.size());
  for (const auto& [id, rec] : expect) {
    REQUIRE(t.find(id) == rec);
    REQUIRE(rec->id == id);
  }
  for (lease_id id : absent) {
    if (expect.count(id) == 0) REQUIRE(t.find(id) == nullptr);
  }
  std::size_t seen = 0;
  t.for_each([&](const lease_record& r) {
    ++seen;
    REQUIRE(expect.count(r.id) == 1);
  });
  REQUIRE(seen == expect.size());
}

}  // namespace

TEST_CASE("lease table: chosen ids are unique, positive, not a counter, and survive growth", "[lease]") {
  lease_table t;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({7})));
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  std::map<lease_id, lease_record*> expect;
  std::set<lease_id> ids;
  // 100,000 slots: past the first chunk of 2 MiB (32,704 slots), which asks for huge pages.
  for (int i = 0; i < 100'000; ++i) {
    const lease_id id = t.id_for_next(rng());
    REQUIRE(id > (lease_id{1} << 32));
    REQUIRE(t.find(id) == nullptr);
    lease_record& r = t.insert(id);
    REQUIRE(r.id == id);
    expect[id] = &r;
    ids.insert(id);
  }
  REQUIRE(ids.size() == 100'000);
  // Low halves of consecutive ids do not count up.
  const lease_id a = t.id_for_next(1ull << 40), b = t.id_for_next(1ull << 41);
  CHECK((a & 0xffffffff) != (b & 0xffffffff));
  check_model(t, expect, {0, 1, -1, a, b});  // records did not move as chunks were added
}

TEST_CASE("lease table: a caller's id whose slot is taken lives elsewhere, and both stay findable", "[lease]") {
  lease_table t;
  const lease_id first = t.id_for_next(std::uint64_t{5} << 33);
  lease_record& r1 = t.insert(first);
  t.erase(r1);
  CHECK(t.find(first) == nullptr);
  // The freed slot comes back under another id; then `first` (now a caller's id) names a taken slot.
  const lease_id second = t.id_for_next(std::uint64_t{9} << 33);
  REQUIRE(second != first);
  lease_record& r2 = t.insert(second);
  CHECK(&r2 == &r1);
  lease_record& again = t.insert(first);
  CHECK(&again != &r2);
  CHECK(t.find(first) == &again);
  CHECK(t.find(second) == &r2);
  t.erase(r2);
  CHECK(t.find(second) == nullptr);
  CHECK(t.find(first) == &again);
  t.erase(again);
  CHECK(t.find(first) == nullptr);
  CHECK(t.size() == 0);
}

TEST_CASE("lease table: any mix of chosen and caller ids matches a model", "[lease]") {
  lease_table t;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({11})));
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  std::map<lease_id, lease_record*> expect;
  std::vector<lease_id> seen_ids;
  // Caller ids: small, negative, extreme, and ids that look like the table's own.
  std::vector<lease_id> pool = {1, 2, 3, 63, 64, 65, 1000, -1, -5, INT64_MAX, INT64_MIN + 1, 1ll << 32, (1ll << 32) + 1};
  for (int i = 0; i < 20; ++i) pool.push_back(static_cast<lease_id>(rng() >> 1));
  for (int step = 0; step < 20'000; ++step) {
    const auto op = rng() % 10;
    if (op < 4) {
      const lease_id id = t.id_for_next(rng());
      if (expect.count(id) == 0) {
        expect[id] = &t.insert(id);
        seen_ids.push_back(id);
      }
    } else if (op < 7) {
      const lease_id id = pool[rng() % pool.size()];
      if (expect.count(id) == 0) {
        REQUIRE(t.find(id) == nullptr);
        expect[id] = &t.insert(id);
        seen_ids.push_back(id);
      }
    } else if (!expect.empty()) {
      auto it = expect.begin();
      std::advance(it, static_cast<long>(rng() % expect.size()));
      t.erase(*it->second);
      expect.erase(it);
    }
    if (step % 1000 == 0) check_model(t, expect, seen_ids);
  }
  check_model(t, expect, seen_ids);
  for (const auto& [id, rec] : expect) t.erase(*rec);
  check_model(t, {}, seen_ids);
}

TEST_CASE("lease table: a far-off caller id does not make the table allocate up to its slot", "[lease]") {
  lease_table t;
  // Names slot ~2^31 with upper half 0: placed in a low slot and found through the side map.
  const lease_id far = 0x7fffff00;
  lease_record& r = t.insert(far);
  CHECK(t.find(far) == &r);
  const lease_id next = t.id_for_next(std::uint64_t{3} << 33);
  CHECK(t.find(next) == nullptr);
  CHECK(&t.insert(next) != &r);
  CHECK(t.size() == 2);
}

TEST_CASE("lease table: a million random caller ids grow the table by what they need, not geometrically", "[lease]") {
  lease_table t;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({3})));
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 1'000'000; ++i) {
    const auto id = static_cast<lease_id>(rng() >> 1);
    if (t.find(id) == nullptr) t.insert(id);
  }
  REQUIRE(t.size() == 1'000'000);
  // Every lease in a slot, and at most a few hundred slots spare: ids landing just past the used slots
  // each make at most 64.
  CHECK(t.slots() < 1'000'000 + 64 * 1024);
}
