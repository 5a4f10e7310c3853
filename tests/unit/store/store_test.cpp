#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/describe.hpp"

#include <fmt/core.h>

#include <string>
#include <vector>

using namespace leasekv;

namespace {

std::vector<std::string> keys_of(const range_response& r) {
  std::vector<std::string> out;
  for (const auto& kv : r.kvs) out.push_back(kv.key);
  return out;
}

}  // namespace

TEST_CASE("store: an empty store is at revision 1 and the first put makes revision 2", "[store]") {
  auto s = store::open().value();
  CHECK(s->revision() == 1);
  CHECK(s->get("foo").value().header.revision == 1);
  auto put = s->put("/tmp/pid", "2187").value();
  CHECK(put.header.revision == 2);
  auto got = s->get("/tmp/pid").value();
  REQUIRE(got.kvs.size() == 1);
  CHECK(got.kvs[0] == key_value{"/tmp/pid", 2, 2, 1, "2187", 0});
  CHECK(got.count == 1);
}

TEST_CASE("store: versions count the puts of a generation and a delete ends it", "[store]") {
  auto s = store::open().value();
  s->put("foo", "a").value();                  // 2
  s->put("foo", "a").value();                  // 3: same value still counts
  CHECK(s->get("foo").value().kvs[0].version == 2);
  auto del = s->delete_range("foo").value();   // 4
  CHECK(del.deleted == 1);
  CHECK(del.header.revision == 4);
  CHECK(s->get("foo").value().kvs.empty());
  s->put("foo", "b").value();                  // 5
  auto kv = s->get("foo").value().kvs.at(0);
  CHECK(kv.create_revision == 5);
  CHECK(kv.version == 1);
  // History is still readable.
  CHECK(s->get("foo", {.revision = 3}).value().kvs.at(0).version == 2);
  CHECK(s->get("foo", {.revision = 4}).value().kvs.empty());
}

TEST_CASE("store: deleting nothing takes no revision", "[store]") {
  auto s = store::open().value();
  s->put("a", "1").value();
  auto del = s->delete_range("nothing").value();
  CHECK(del.deleted == 0);
  CHECK(del.header.revision == 2);
  CHECK(s->revision() == 2);
}

TEST_CASE("store: prev_kv returns the previous value of puts and deletes", "[store]") {
  auto s = store::open().value();
  CHECK_FALSE(s->put("k", "1", {.prev_kv = true}).value().prev_kv);
  auto p = s->put("k", "2", {.prev_kv = true}).value();
  REQUIRE(p.prev_kv);
  CHECK(p.prev_kv->value == "1");
  auto d = s->delete_range(prefix("k"), {.prev_kv = true}).value();
  REQUIRE(d.prev_kvs.size() == 1);
  CHECK(d.prev_kvs[0].value == "2");
  CHECK(d.prev_kvs[0].mod_revision == 3);
}

TEST_CASE("store: ignore_value and ignore_lease keep the current value and need the key", "[store]") {
  auto s = store::open().value();
  CHECK(s->put("k", "", {.ignore_value = true}).error() == errc::key_not_found);
  CHECK(s->put("k", "v", {.ignore_lease = true}).error() == errc::key_not_found);
  CHECK(s->revision() == 1);
  s->put("k", "v").value();
  CHECK(s->put("k", "x", {.ignore_value = true}).error() == errc::value_provided);
  CHECK(s->put("k", "x", {.lease = 5, .ignore_lease = true}).error() == errc::lease_provided);
  s->put("k", "", {.ignore_value = true}).value();
  auto kv = s->get("k").value().kvs.at(0);
  CHECK(kv.value == "v");
  CHECK(kv.version == 2);
}

TEST_CASE("store: bad input gets etcd's errors and changes nothing", "[store]") {
  auto s = store::open({.max_request_bytes = 64}).value();
  CHECK(s->put("", "v").error() == errc::key_not_provided);
  CHECK(s->get("").error() == errc::key_not_provided);
  CHECK(s->delete_range("").error() == errc::key_not_provided);
  CHECK(s->put("k", std::string(65, 'x')).error() == errc::request_too_large);
  CHECK(s->put("k", "v", {.lease = 42}).error() == errc::lease_not_found);
  CHECK(s->get("k", {.revision = 2}).error() == errc::future_revision);
  CHECK(s->get("k", {.revision = 2}).error().message() == "mvcc: required revision is a future revision");
  CHECK(s->revision() == 1);
  CHECK(s->statistics().index_entries == 0);
}

TEST_CASE("store: keys and values are binary-safe", "[store]") {
  auto s = store::open().value();
  const std::string key("a\0\xff", 3);
  const std::string value("\0\xff\0", 3);
  s->put(key, value).value();
  s->put(std::string("a\0", 2), "shorter").value();
  auto got = s->get(key).value();
  REQUIRE(got.kvs.size() == 1);
  CHECK(got.kvs[0].value == value);
  auto all = s->range(prefix(std::string("a\0", 2))).value();
  CHECK(all.count == 2);
  CHECK(all.kvs[0].key == std::string("a\0", 2));
}

TEST_CASE("store: key ranges follow etcd's conventions", "[store]") {
  auto s = store::open().value();
  for (const char* k : {"a", "b", "b/1", "b/2", "c", "\xff"}) s->put(k, "v").value();
  CHECK(keys_of(s->range(key_range("b", "c")).value()) == std::vector<std::string>{"b", "b/1", "b/2"});
  CHECK(keys_of(s->range(prefix("b/")).value()) == std::vector<std::string>{"b/1", "b/2"});
  CHECK(keys_of(s->range(from_key("b/2")).value()) == std::vector<std::string>{"b/2", "c", "\xff"});
  CHECK(s->range(all_keys()).value().count == 6);
  CHECK(s->range(prefix("")).value().count == 6);
  CHECK(keys_of(s->range(prefix("\xff")).value()) == std::vector<std::string>{"\xff"});
  CHECK(s->range(key_range("c", "a")).value().count == 0);
  CHECK(prefix_end("a\xff") == "b");
  CHECK(prefix_end("\xff\xff") == std::string(1, '\0'));
}

TEST_CASE("store: limit sets more while count ignores limit and filters", "[store]") {
  auto s = store::open().value();
  s->put("a", "1").value();
  s->put("b", "2").value();
  s->put("c", "3").value();
  auto r = s->range(prefix(""), {.limit = 1}).value();
  CHECK(keys_of(r) == std::vector<std::string>{"a"});
  CHECK(r.more);
  CHECK(r.count == 3);
  auto exact = s->range(prefix(""), {.limit = 3}).value();
  CHECK_FALSE(exact.more);
  auto filtered = s->range(prefix(""), {.min_mod_revision = 3}).value();
  CHECK(keys_of(filtered) == std::vector<std::string>{"b", "c"});
  CHECK(filtered.count == 3);
  auto filtered_limited = s->range(prefix(""), {.limit = 1, .min_create_revision = 3, .max_create_revision = 3}).value();
  CHECK(keys_of(filtered_limited) == std::vector<std::string>{"b"});
  CHECK_FALSE(filtered_limited.more);
  auto counted = s->range(prefix(""), {.count_only = true}).value();
  CHECK(counted.kvs.empty());
  CHECK(counted.count == 3);
  auto keys = s->range(prefix(""), {.keys_only = true}).value();
  CHECK(keys.kvs.at(0).value.empty());
  CHECK(keys.kvs.at(0).mod_revision == 2);
}

TEST_CASE("store: sorting by every target, ties in key order", "[store]") {
  auto s = store::open().value();
  s->put("k3", "x").value();  // 2
  s->put("k1", "z").value();  // 3
  s->put("k2", "y").value();  // 4
  s->put("k1", "z").value();  // 5: k1 version 2
  using v = std::vector<std::string>;
  CHECK(keys_of(s->range(prefix("k"), {.order = sort_order::descend}).value()) == v{"k3", "k2", "k1"});
  CHECK(keys_of(s->range(prefix("k"), {.target = sort_target::create}).value()) == v{"k3", "k1", "k2"});
  CHECK(keys_of(s->range(prefix("k"), {.order = sort_order::descend, .target = sort_target::create}).value()) ==
        v{"k2", "k1", "k3"});
  CHECK(keys_of(s->range(prefix("k"), {.order = sort_order::ascend, .target = sort_target::mod}).value()) ==
        v{"k3", "k2", "k1"});
  CHECK(keys_of(s->range(prefix("k"), {.target = sort_target::value}).value()) == v{"k3", "k2", "k1"});
  // Version ties (k2, k3 both 1) stay in key order in both directions.
  CHECK(keys_of(s->range(prefix("k"), {.target = sort_target::version}).value()) == v{"k2", "k3", "k1"});
  CHECK(keys_of(s->range(prefix("k"), {.order = sort_order::descend, .target = sort_target::version}).value()) ==
        v{"k1", "k2", "k3"});
  auto top = s->range(prefix("k"), {.limit = 1, .order = sort_order::descend, .target = sort_target::mod}).value();
  CHECK(keys_of(top) == v{"k1"});
  CHECK(top.more);
  // etcd 3.4's quirk: a target with no order and a limit sorts only the first limit+1 keys (measured on
  // etcd 3.4.23: here k1 and k2, so k2, though k3's value "x" is the least).
  auto page = s->range(prefix("k"), {.limit = 1, .target = sort_target::value}).value();
  CHECK(keys_of(page) == v{"k2"});
  CHECK(page.more);
  CHECK(page.count == 3);
}

TEST_CASE("store: every header carries the store's stable identity", "[store]") {
  auto s = store::open().value();
  auto a = s->put("a", "1").value().header;
  auto b = s->get("a").value().header;
  CHECK(a.cluster_id != 0);
  CHECK(a.member_id != 0);
  CHECK(a.cluster_id == b.cluster_id);
  CHECK(a.member_id == b.member_id);
  CHECK(a.raft_term == 2);
  auto fixed = store::open({.cluster_id = 7, .member_id = 9}).value();
  CHECK(fixed->get("x").value().header == response_header{7, 9, 1, 2});
  // A server standing in for a restarted etcd member reports a later term.
  auto later = store::open({.cluster_id = 7, .member_id = 9, .raft_term = 5}).value();
  CHECK(later->put("x", "1").value().header == response_header{7, 9, 2, 5});
  CHECK(later->get("x").value().header.raft_term == 5);
  CHECK(store::open({.raft_term = 0}).error() == errc::invalid_argument);
}

TEST_CASE("store: with huge_pages off, a store large enough for 2 MiB regions behaves the same", "[store]") {
  // 50,000 keys take the arena, the hash index and the lease table past the sizes that get regions of
  // their own; each is then mapped without the huge-page advice.
  auto s = store::open({.tuning = {.huge_pages = false}}).value();
  std::vector<lease_id> leases;
  for (int i = 0; i < 50000; ++i) leases.push_back(s->grant(std::chrono::hours(1)).value().id);
  for (int i = 0; i < 50000; ++i) s->put("k/" + std::to_string(i), std::string(64, 'v'), {.lease = leases[static_cast<std::size_t>(i)]}).value();
  CHECK(s->range(prefix("k/"), {.count_only = true}).value().count == 50000);
  CHECK(s->get("k/49999").value().kvs.at(0).lease == leases.back());
  s->revoke(leases.front()).value();
  CHECK(s->get("k/0").value().kvs.empty());
  CHECK(s->statistics().leases == 49999);
}

TEST_CASE("store: range_view copies a read into one buffer that outlives later writes and moves with the response", "[store]") {
  auto s = store::open().value();
  for (int i = 0; i < 50; ++i) s->put(fmt::format("/pods/{:03d}", i), std::string(static_cast<std::size_t>(i), 'v')).value();
  s->put("/other", "x").value();
  auto view = s->range_view(prefix("/pods/"), {.limit = 20}).value();
  const auto owned = s->range(prefix("/pods/"), {.limit = 20}).value();
  // Every key and value lies in the response's one buffer.
  const std::size_t bytes = [&] {
    std::size_t n = 0;
    for (const auto& kv : owned.kvs) n += kv.key.size() + kv.value.size();
    return n;
  }();
  for (const auto& kv : view.kvs) {
    CHECK(kv.key.data() >= view.bytes.get());
    CHECK(kv.value.data() + kv.value.size() <= view.bytes.get() + bytes);
  }
  // The store moves on: the values change, the history is compacted away, the keys are deleted.
  for (int i = 0; i < 50; ++i) s->put(fmt::format("/pods/{:03d}", i), "changed").value();
  s->compact(s->revision()).value();
  s->delete_range(prefix("/pods/")).value();
  // The response moves to another owner: the views still read what was read.
  const range_view_response moved = std::move(view);
  CHECK(moved.count == 50);
  CHECK(moved.more);
  REQUIRE(moved.kvs.size() == owned.kvs.size());
  for (std::size_t i = 0; i < owned.kvs.size(); ++i) CHECK(moved.kvs[i].to_key_value() == owned.kvs[i]);

  // keys_only leaves the values out of the buffer; count_only returns no kvs.
  s->put("/k", "value").value();
  auto keys = s->range_view("/k", {.keys_only = true}).value();
  REQUIRE(keys.kvs.size() == 1);
  CHECK(keys.kvs[0].key == "/k");
  CHECK(keys.kvs[0].value.empty());
  CHECK(s->range_view(all_keys(), {.count_only = true}).value().kvs.empty());
  CHECK(s->range_view(all_keys(), {.count_only = true}).value().count == 2);
  // Errors are range's.
  CHECK(s->range_view("/k", {.revision = 1}).error() == errc::compacted);
  CHECK(s->range_view("").error() == errc::key_not_provided);
}
