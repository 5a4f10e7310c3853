// lessor::revoke with a key_deleter of the test's own: what the deleter is handed, and what it finds
// when it looks at the lessor from inside the call, as the store's does.
#include <catch2/catch.hpp>

#include "base/node_arena.hpp"
#include "lease/lessor.hpp"
#include "mvcc/key_index.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace leasekv;
using namespace std::chrono_literals;

namespace {

std::vector<lease::key_ref> sorted(std::vector<lease::key_ref> keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

// Checks, inside each call, that the lease being revoked is whole: still granted, with every key it was
// handed still attached and no other. Then it fails (changing nothing), or detaches the keys as the
// store does after deleting them, and checks that each detach found the lease and took its key.
struct checking_deleter final : lease::key_deleter {
  lease::lessor* lessor = nullptr;
  bool fail = false;
  std::vector<lease_id> ids;                          // one per call
  std::vector<std::vector<lease::key_ref>> handed;  // one per call, sorted

  result<void> delete_lease_keys(lease_id id, std::vector<lease::key_ref>& keys) override {
    ids.push_back(id);
    handed.push_back(sorted(keys));
    const lease::lease_record* rec = lessor->find(id);
    REQUIRE(rec != nullptr);
    CHECK(rec->id == id);
    CHECK((rec->keys ? rec->keys->size() : 0) == keys.size());
    for (lease::key_ref k : keys) CHECK((rec->keys && rec->keys->count(k) == 1));
    if (fail) return errc::io_error;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      lessor->detach(id, keys[i]);
      REQUIRE(lessor->find(id) == rec);
      CHECK(rec->keys->size() == keys.size() - i - 1);
    }
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
};

struct fixture {
  const clock::time_point origin{};
  base::node_arena arena;  // the keys' entries: only their addresses matter to the lessor
  checking_deleter deleter;
  lease::lessor lessor{deleter, origin, 1ms, 0ms};
  fixture() { deleter.lessor = &lessor; }
  lease::key_ref key(const std::string& k) { return mvcc::key_entry::make(arena, k, 0); }
};

}  // namespace

TEST_CASE("lessor: revoke hands the deleter the lease's keys while the lease is whole, then erases it", "[lease]") {
  fixture f;
  REQUIRE(f.lessor.grant(1, 1h, f.origin));
  REQUIRE(f.lessor.grant(2, 1h, f.origin));
  REQUIRE(f.lessor.grant(3, 1h, f.origin));
  const std::vector<lease::key_ref> keys = sorted({f.key("a"), f.key("b"), f.key("c")});
  for (lease::key_ref k : keys) f.lessor.attach(1, k);
  const lease::key_ref other = f.key("d");
  f.lessor.attach(2, other);

  REQUIRE(f.lessor.revoke(1));
  REQUIRE(f.deleter.ids == std::vector<lease_id>{1});
  CHECK(f.deleter.handed[0] == keys);
  CHECK(f.lessor.find(1) == nullptr);
  CHECK(f.lessor.size() == 2);
  const lease::lease_record* two = f.lessor.find(2);
  REQUIRE(two != nullptr);
  CHECK((two->keys && two->keys->size() == 1 && two->keys->count(other) == 1));

  // A lease without keys is revoked through the deleter too (it records the revoke); a revoked one is
  // not found, and the deleter is not called for it.
  REQUIRE(f.lessor.revoke(3));
  REQUIRE(f.deleter.ids == std::vector<lease_id>{1, 3});
  CHECK(f.deleter.handed[1].empty());
  CHECK(f.lessor.revoke(1).error() == errc::lease_not_found);
  CHECK(f.deleter.ids.size() == 2);
}

TEST_CASE("lessor: a revoke whose deleter fails leaves the lease whole and due again in a second", "[lease]") {
  fixture f;
  REQUIRE(f.lessor.grant(7, 10ms, f.origin));
  const std::vector<lease::key_ref> keys = sorted({f.key("a"), f.key("b")});
  for (lease::key_ref k : keys) f.lessor.attach(7, k);
  std::vector<lease_id> due;
  REQUIRE(f.lessor.pop_due(f.origin + 10ms, due));
  REQUIRE(due == std::vector<lease_id>{7});

  f.deleter.fail = true;
  CHECK(f.lessor.revoke(7).error() == errc::io_error);
  const lease::lease_record* rec = f.lessor.find(7);
  REQUIRE(rec != nullptr);
  CHECK(rec->expires_at == f.origin + 10ms);
  REQUIRE(rec->keys != nullptr);
  CHECK(sorted({rec->keys->begin(), rec->keys->end()}) == keys);

  // Due again a second later; this time the deleter succeeds, with the same keys.
  due.clear();
  CHECK_FALSE(f.lessor.pop_due(f.origin + 10ms + 1s - 1ms, due));
  REQUIRE(f.lessor.pop_due(f.origin + 10ms + 1s, due));
  REQUIRE(due == std::vector<lease_id>{7});
  f.deleter.fail = false;
  REQUIRE(f.lessor.revoke(7));
  REQUIRE(f.deleter.handed.size() == 2);
  CHECK(f.deleter.handed[0] == keys);
  CHECK(f.deleter.handed[1] == keys);
  CHECK(f.lessor.find(7) == nullptr);
  CHECK(f.lessor.next_event() == std::nullopt);
}
