// Puts in a row are held back and applied together (embedded_store::impl::apply_deferred). Nothing a caller can
// observe may tell: every read, write, lease call, watch and expiry sees each put that returned before it.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/io_context.hpp>

#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace leasekv;
using namespace std::chrono_literals;

namespace {

std::string key_n(int i) { return fmt::format("/registry/pods/{:08d}", i); }

// A store that holds puts back whatever its size (by default only large ones do).
options holding(options o = {}) {
  o.tuning.hold_back_puts_from_keys = 0;
  return o;
}

}  // namespace

TEST_CASE("deferred puts: each returns the revision it gets, across several batches, and reads see them all",
          "[store][deferred]") {
  auto s = store::open(holding()).value();
  constexpr int n = 100;  // three batches of 32 and a partial one
  std::vector<std::int64_t> revs;
  for (int i = 0; i < n; ++i) revs.push_back(s->put(key_n((i * 37) % n), fmt::format("v{}", i)).value().header.revision);
  for (int i = 0; i < n; ++i) CHECK(revs[static_cast<std::size_t>(i)] == 2 + i);
  auto all = s->range(prefix("/registry/pods/")).value();
  CHECK(all.header.revision == 1 + n);
  REQUIRE(all.kvs.size() == n);
  for (int i = 0; i < n; ++i) {
    const auto& kv = all.kvs[static_cast<std::size_t>((i * 37) % n)];
    CHECK(kv.key == key_n((i * 37) % n));
    CHECK(kv.value == fmt::format("v{}", i));
    CHECK(kv.mod_revision == 2 + i);
    CHECK(kv.create_revision == 2 + i);
    CHECK(kv.version == 1);
  }
}

TEST_CASE("deferred puts: the same key several times in one batch counts versions in order", "[store][deferred]") {
  auto s = store::open(holding()).value();
  s->put("a", "1").value();  // 2
  s->put("b", "1").value();  // 3
  s->put("a", "2").value();  // 4
  s->put("a", "3").value();  // 5
  const auto a = s->get("a").value();
  REQUIRE(a.kvs.size() == 1);
  CHECK(a.kvs[0] == key_value{"a", 2, 5, 3, "3", 0});
  range_options at4;
  at4.revision = 4;
  CHECK(s->get("a", at4).value().kvs[0].value == "2");
}

TEST_CASE("deferred puts: every other call applies them first", "[store][deferred]") {
  auto s = store::open(holding()).value();
  SECTION("a delete") {
    s->put("k", "v").value();
    CHECK(s->delete_range("k").value().deleted == 1);
  }
  SECTION("a put with prev_kv, ignore_value or ignore_lease") {
    s->put("k", "v1").value();
    put_options o;
    o.prev_kv = true;
    auto r = s->put("k", "v2", o).value();
    REQUIRE(r.prev_kv.has_value());
    CHECK(r.prev_kv->value == "v1");
    s->put("j", "v1").value();
    put_options keep;
    keep.ignore_value = true;
    CHECK(s->put("j", "", keep).value().header.revision == 5);
    CHECK(s->get("j").value().kvs[0].value == "v1");
  }
  SECTION("a transaction's compares") {
    s->put("k", "v").value();
    auto t = s->txn().when(compare::value_of("k") == "v").then(op::put("ok", "1")).commit().value();
    CHECK(t.succeeded);
  }
  SECTION("a large put keeps its place after them") {
    s->put("k", "small").value();
    const std::string big(8192, 'x');
    CHECK(s->put("k", big).value().header.revision == 3);
    const auto got = s->get("k").value();
    CHECK(got.kvs[0].value == big);
    CHECK(got.kvs[0].version == 2);
  }
  SECTION("compaction") {
    s->put("k", "1").value();
    s->put("k", "2").value();
    CHECK(s->compact(3).has_value());
    CHECK(s->get("k").value().kvs[0].value == "2");
  }
  SECTION("statistics and revision") {
    s->put("k", "1").value();
    s->put("j", "1").value();
    CHECK(s->revision() == 3);
    CHECK(s->statistics().keys == 2);
  }
}

TEST_CASE("deferred puts: leases see their keys, and a revoke or an expiry deletes them", "[store][deferred]") {
  auto clk = std::make_shared<manual_clock>();
  options o;
  o.clock = clk;
  auto s = store::open(holding(o)).value();
  const lease_id id = s->grant(10s).value().id;
  put_options on;
  on.lease = id;
  s->put("a", "1", on).value();  // 2
  s->put("b", "1", on).value();  // 3
  s->put("c", "1").value();      // 4
  SECTION("time_to_live lists the keys") {
    time_to_live_options keys;
    keys.keys = true;
    const auto ttl = s->time_to_live(id, keys).value();
    CHECK(ttl.keys == std::vector<std::string>{"a", "b"});
  }
  SECTION("a revoke deletes them at one revision") {
    CHECK(s->revoke(id).value().header.revision == 5);
    CHECK(s->range(key_range("a", "z")).value().kvs.size() == 1);
  }
  SECTION("an expiry deletes them at one revision") {
    clk->advance(10s);
    const auto left = s->range(key_range("a", "z")).value();
    REQUIRE(left.kvs.size() == 1);
    CHECK(left.kvs[0].key == "c");
    CHECK(left.header.revision == 5);
  }
  SECTION("a put on a lease that is gone fails, deferred or not") {
    s->revoke(id).value();
    CHECK(s->put("d", "1", on).error() == errc::lease_not_found);
  }
}

TEST_CASE("deferred puts: held-back bytes count against the quota", "[store][deferred]") {
  options o;
  const std::string value(36, 'v');
  const std::uint64_t per_put = 4 + value.size() + 64;  // key, value, a version's overhead
  o.quota_bytes = 10 * per_put;
  auto s = store::open(holding(o)).value();
  for (int i = 0; i < 10; ++i) REQUIRE(s->put(fmt::format("k{:03d}", i), value).has_value());
  CHECK(s->put("k010", value).error() == errc::no_space);  // none applied yet: only the held-back bytes say so
  CHECK(s->statistics().keys == 10);
}

TEST_CASE("deferred puts: a watch from an earlier revision replays them, and later puts are not held back",
          "[store][deferred]") {
  auto s = store::open(holding()).value();
  for (int i = 0; i < 5; ++i) s->put(key_n(i), "v").value();  // 2..6, held back
  boost::asio::io_context io;
  std::vector<std::int64_t> seen;
  auto w = s->watch(prefix("/registry/"), {.start_revision = 2}, io.get_executor(), [&](const watch_response& r) {
    for (const auto& e : r.events) seen.push_back(e.kv.mod_revision);
  }).value();
  io.poll();
  s->put(key_n(5), "v").value();  // 7: a watcher is there, so it goes out at once, with no read after it
  io.restart();
  io.poll();
  CHECK(seen == std::vector<std::int64_t>{2, 3, 4, 5, 6, 7});
}
