// Lease semantics on the store, all on the manual clock: nothing here sleeps.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <chrono>
#include <set>
#include <string>

using namespace leasekv;
using namespace std::chrono_literals;

namespace {

struct fixture {
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();
  std::unique_ptr<store> s;
  explicit fixture(options o = {}) {
    o.clock = clk;
    s = store::open(std::move(o)).value();
  }
  bool has(const std::string& k) { return !s->get(k).value().kvs.empty(); }
  std::vector<std::string> keys_of(lease_id id) { return s->time_to_live(id, {.keys = true}).value().keys; }
};

}  // namespace

TEST_CASE("lessor: grant chooses unique positive ids that are not a counter and takes no revision", "[lease]") {
  fixture f;
  std::set<lease_id> ids;
  lease_id prev = 0;
  bool consecutive = true;
  for (int i = 0; i < 100; ++i) {
    auto g = f.s->grant(10s).value();
    CHECK(g.id > 0);
    CHECK(g.ttl == 10);
    CHECK(g.header.revision == 1);
    if (i > 0 && g.id != prev + 1) consecutive = false;
    prev = g.id;
    ids.insert(g.id);
  }
  CHECK(ids.size() == 100);
  CHECK_FALSE(consecutive);
  CHECK(f.s->revision() == 1);
}

TEST_CASE("lessor: chosen ids are honoured, negative included, and duplicates refused", "[lease]") {
  fixture f;
  CHECK(f.s->grant(10s, -5).value().id == -5);
  CHECK(f.s->grant(10s, 42).value().id == 42);
  CHECK(f.s->grant(10s, 42).error() == errc::lease_exists);
  CHECK(f.s->grant(10s, 42).error().message() == "etcdserver: lease already exists");
}

TEST_CASE("lessor: TTL limits: 9e9 s is the maximum, and short TTLs follow the minimum setting", "[lease]") {
  fixture f;
  CHECK(f.s->grant(max_lease_ttl).value().ttl == 9'000'000'000LL);
  CHECK(f.s->grant(max_lease_ttl + 1ms).error() == errc::lease_ttl_too_large);
  CHECK(f.s->grant(max_lease_ttl + 1ms).error().message() == "etcdserver: too large lease TTL");
  CHECK(f.s->grant(0ms).error() == errc::invalid_argument);
  CHECK(f.s->grant(-5s).error() == errc::invalid_argument);
  CHECK(f.s->grant(250ms).value().granted == 250ms);  // sub-second leases work

  fixture etcd({.min_lease_ttl = 2s});
  CHECK(etcd.s->grant(0ms).value().ttl == 2);
  CHECK(etcd.s->grant(1s).value().ttl == 2);
  CHECK(etcd.s->grant(-5s).value().ttl == 2);
  CHECK(etcd.s->grant(3s).value().ttl == 3);
}

TEST_CASE("lessor: revoking a lease deletes all its keys at one revision, in key order", "[lease]") {
  fixture f;
  auto l = f.s->grant(60s).value().id;
  for (const char* k : {"c", "a", "b"}) f.s->put(k, "v", {.lease = l}).value();
  f.s->put("other", "v").value();
  CHECK(f.keys_of(l) == std::vector<std::string>{"a", "b", "c"});
  const auto before = f.s->revision();
  auto r = f.s->revoke(l).value();
  CHECK(r.header.revision == before + 1);
  CHECK_FALSE(f.has("a"));
  CHECK_FALSE(f.has("b"));
  CHECK_FALSE(f.has("c"));
  CHECK(f.has("other"));
  // All three deletions are one revision: at before they exist, at before+1 none does.
  CHECK(f.s->range(key_range("a", "d"), {.revision = before}).value().count == 3);
  CHECK(f.s->range(key_range("a", "d"), {.revision = before + 1}).value().count == 0);
  CHECK(f.s->time_to_live(l).value().ttl == -1);
  CHECK(f.s->revoke(l).error() == errc::lease_not_found);
  CHECK(f.s->revoke(l).error().message() == "etcdserver: requested lease not found");
}

TEST_CASE("lessor: revoking a lease without keys takes no revision", "[lease]") {
  fixture f;
  f.s->put("k", "v").value();
  auto l = f.s->grant(60s).value().id;
  CHECK(f.s->revoke(l).value().header.revision == 2);
  CHECK(f.s->revision() == 2);
}

TEST_CASE("lessor: a lease whose keys were all overwritten without it deletes nothing", "[lease]") {
  fixture f;
  auto l = f.s->grant(60s).value().id;
  f.s->put("k1", "v", {.lease = l}).value();
  f.s->put("k2", "v", {.lease = l}).value();
  f.s->put("k1", "w").value();  // no lease: detaches
  f.s->delete_range("k2").value();
  CHECK(f.keys_of(l).empty());
  const auto rev = f.s->revision();
  f.s->revoke(l).value();
  CHECK(f.s->revision() == rev);
  CHECK(f.has("k1"));
}

TEST_CASE("lessor: attachment follows etcd's rules for puts, ignore_lease and deletes", "[lease]") {
  fixture f;
  auto l1 = f.s->grant(60s).value().id;
  auto l2 = f.s->grant(60s).value().id;
  for (const char* k : {"ka", "kb", "kc"}) f.s->put(k, "1", {.lease = l1}).value();
  f.s->put("ka", "2", {.lease = l2}).value();          // moves to l2
  f.s->put("kb", "2").value();                          // detaches
  f.s->put("kc", "2", {.ignore_lease = true}).value();  // keeps l1
  CHECK(f.keys_of(l1) == std::vector<std::string>{"kc"});
  CHECK(f.keys_of(l2) == std::vector<std::string>{"ka"});
  CHECK(f.s->get("kb").value().kvs.at(0).lease == 0);
  CHECK(f.s->get("kc").value().kvs.at(0).lease == l1);
  f.s->delete_range("kc").value();
  CHECK(f.keys_of(l1).empty());
  const auto rev = f.s->revision();
  f.s->revoke(l1).value();
  CHECK(f.s->revision() == rev);
  CHECK(f.has("ka"));
  CHECK(f.has("kb"));
}

TEST_CASE("lessor: a put or txn naming an unknown lease fails and changes nothing", "[lease]") {
  fixture f;
  CHECK(f.s->put("k", "v", {.lease = 77}).error() == errc::lease_not_found);
  auto l = f.s->grant(60s).value().id;
  CHECK(f.s->txn().then(op::put("a", "1", {.lease = l}), op::put("b", "1", {.lease = 77})).commit().error() ==
        errc::lease_not_found);
  CHECK(f.s->revision() == 1);
  CHECK(f.keys_of(l).empty());
  f.s->txn().then(op::put("a", "1", {.lease = l}), op::put("b", "1", {.lease = l})).commit().value();
  CHECK(f.keys_of(l) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("lessor: a lease expires exactly at its deadline and not one millisecond before", "[lease]") {
  fixture f;
  auto l = f.s->grant(30s).value().id;
  f.s->put("/tmp/pid", "2187", {.lease = l}).value();
  f.clk->advance(30s - 1ms);
  CHECK(f.has("/tmp/pid"));
  CHECK(f.s->time_to_live(l).value().remaining == 1ms);
  CHECK(f.s->time_to_live(l).value().ttl == 0);
  const auto rev = f.s->revision();
  f.clk->advance(1ms);
  CHECK_FALSE(f.has("/tmp/pid"));
  CHECK(f.s->revision() == rev + 1);
  auto ttl = f.s->time_to_live(l).value();
  CHECK(ttl.ttl == -1);
  CHECK(ttl.granted_ttl == 0);
  CHECK(f.s->leases().value().leases.empty());
}

TEST_CASE("lessor: time-to-live truncates the remaining seconds", "[lease]") {
  fixture f;
  auto l = f.s->grant(10s).value().id;
  CHECK(f.s->time_to_live(l).value().ttl == 10);
  f.clk->advance(1ms);
  auto t = f.s->time_to_live(l).value();
  CHECK(t.ttl == 9);
  CHECK(t.granted_ttl == 10);
  CHECK(t.remaining == 9999ms);
}

TEST_CASE("lessor: keep-alive restores the full TTL and never resurrects an expired lease", "[lease]") {
  fixture f;
  auto l = f.s->grant(10s).value().id;
  f.s->put("k", "v", {.lease = l}).value();
  f.clk->advance(9s);
  auto ka = f.s->keep_alive_once(l).value();
  CHECK(ka.ttl == 10);
  CHECK(ka.id == l);
  f.clk->advance(9s);
  CHECK(f.has("k"));  // 18 s after the grant, alive thanks to the renewal
  f.clk->advance(1s);
  CHECK_FALSE(f.has("k"));
  CHECK(f.s->keep_alive_once(l).error() == errc::lease_not_found);
  CHECK(f.s->keep_alive_once(12345).error() == errc::lease_not_found);
}

TEST_CASE("lessor: renewing after the deadline but before the wheel's tick revokes instead", "[lease]") {
  fixture f({.tuning = {.lease_tick = 10ms}});
  auto l = f.s->grant(1005ms).value().id;
  f.s->put("k", "v", {.lease = l}).value();
  f.clk->advance(1007ms);  // past the deadline; the wheel fires at the 1010 ms tick
  CHECK(f.has("k"));
  CHECK(f.s->time_to_live(l).value().remaining == -2ms);
  CHECK(f.s->keep_alive_once(l).error() == errc::lease_not_found);
  CHECK_FALSE(f.has("k"));
  f.clk->advance(10ms);  // the tick finds nothing left to do
  CHECK(f.s->leases().value().leases.empty());
}

TEST_CASE("lessor: leases are listed soonest expiry first", "[lease]") {
  fixture f;
  auto a = f.s->grant(100s).value().id;
  auto b = f.s->grant(2s).value().id;
  auto c = f.s->grant(max_lease_ttl).value().id;
  auto d = f.s->grant(30s).value().id;
  auto list = f.s->leases().value().leases;
  CHECK(list == std::vector<lease_status>{{b}, {d}, {a}, {c}});
}

TEST_CASE("lessor: an expiry storm revokes every lease, one revision each, in bounded batches", "[lease]") {
  fixture f({.tuning = {.expiry_batch = 7}});
  constexpr int leases = 1000;
  for (int i = 0; i < leases; ++i) {
    auto l = f.s->grant(5s).value().id;
    for (int k = 0; k < 3; ++k) f.s->put("storm/" + std::to_string(i) + "/" + std::to_string(k), "v", {.lease = l}).value();
  }
  const auto rev = f.s->revision();
  f.clk->advance(5s);
  CHECK(f.s->range(prefix("storm/")).value().count == 0);
  CHECK(f.s->revision() == rev + leases);
  CHECK(f.s->statistics().leases == 0);
}

TEST_CASE("lessor: nothing runs after close, and closed stores refuse calls", "[lease]") {
  fixture f;
  auto l = f.s->grant(1s).value().id;
  f.s->put("k", "v", {.lease = l}).value();
  const auto rev = f.s->revision();
  f.s->close();
  f.clk->advance(5s);  // the store no longer listens
  CHECK(f.s->revision() == rev);  // the lease's expiry did not run (it would have deleted "k")
  CHECK(f.s->get("k").error() == errc::closed);
  CHECK(f.s->grant(1s).error() == errc::closed);
}

TEST_CASE("lessor: a lease holds its keys' index entries, and none it holds is ever freed under it", "[lease]") {
  // A lease names its keys by the store's index entries. Keys deleted (or moved off the lease) and then
  // compacted away free their entries: the lease must have let go of them first, and a key put again
  // under the lease gets a new entry. Under AddressSanitizer a stale entry here is a use after free.
  fixture f;
  auto l = f.s->grant(10s).value().id;
  auto other = f.s->grant(60s).value().id;
  for (const char* k : {"a", "b", "c", "d"}) f.s->put(k, "1", {.lease = l}).value();
  f.s->delete_range("a").value();                   // deleted
  f.s->put("b", "2", {.lease = other}).value();     // moved to another lease
  f.s->delete_range("b").value();
  f.s->compact(f.s->revision()).value();            // "a" and "b" leave the index: their entries are freed
  CHECK(f.s->statistics().index_entries == 2);
  f.s->put("a", "3", {.lease = l}).value();         // a new entry for "a", on the lease again
  CHECK(f.keys_of(l) == std::vector<std::string>{"a", "c", "d"});
  CHECK(f.keys_of(other).empty());
  const auto rev = f.s->revision();
  f.clk->advance(11s);  // expires: its three keys go at one revision, in key order
  CHECK(f.s->revision() == rev + 1);
  CHECK(f.s->range(all_keys()).value().kvs.empty());
  CHECK(f.s->time_to_live(l).value().ttl == -1);
}
