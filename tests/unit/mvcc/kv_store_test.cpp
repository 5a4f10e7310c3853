#include <catch2/catch.hpp>

#include "mvcc/kv_store.hpp"

#include <fmt/core.h>

#include <new>
#include <optional>
#include <span>
#include <string>
#include <vector>

using leasekv::errc;
using leasekv::key_range;
using leasekv::range_options;
using leasekv::mvcc::kv_store;

TEST_CASE("kv_store: a write group takes one main revision and numbers its changes by sub-revision", "[mvcc]") {
  kv_store kv;
  CHECK(kv.current_revision() == 1);
  kv.begin_write();
  kv.put("b", "1", 0, false, false, nullptr);
  kv.put("a", "2", 0, false, false, nullptr);
  kv.delete_range(key_range("b"), nullptr);
  REQUIRE(kv.changes().size() == 3);
  CHECK(kv.changes()[0].version->rev().sub == 0);
  CHECK(kv.changes()[1].version->rev().sub == 1);
  CHECK(kv.changes()[2].version->rev().sub == 2);
  CHECK(kv.changes()[2].version->tombstone());
  CHECK(kv.changes()[2].prev == kv.changes()[0].version);
  CHECK(kv.end_write() == 2);
}

TEST_CASE("kv_store: a write group that changes nothing takes no revision", "[mvcc]") {
  kv_store kv;
  kv.begin_write();
  CHECK(kv.delete_range(key_range("missing"), nullptr) == 0);
  CHECK(kv.end_write() == 1);
}

TEST_CASE("kv_store: compaction frees superseded versions and whole deleted keys", "[mvcc]") {
  kv_store kv;
  auto put = [&](const char* k, const char* v) {
    kv.begin_write();
    kv.put(k, v, 0, false, false, nullptr);
    kv.end_write();
  };
  put("a", "1");  // 2
  put("a", "2");  // 3
  put("b", "1");  // 4
  kv.begin_write();
  kv.delete_range(key_range("b"), nullptr);  // 5
  kv.end_write();
  CHECK(kv.versions() == 4);
  CHECK(kv.entries() == 2);

  REQUIRE(kv.set_compacted(5));
  std::optional<std::string> resume(std::in_place);
  int batches = 0;
  while (resume) {
    resume = kv.compact_batch(5, *resume, 1);
    ++batches;
  }
  CHECK(batches == 2);
  CHECK(kv.versions() == 1);  // a@3 only
  CHECK(kv.entries() == 1);
  auto r = kv.range(key_range("a"), {}).value();
  REQUIRE(r.kvs.size() == 1);
  CHECK(r.kvs[0].value == "2");
  CHECK(kv.range(key_range("a"), range_options{.revision = 4}).error() == errc::compacted);
  CHECK(kv.range(key_range("a"), range_options{.revision = 5}).has_value());
}

TEST_CASE("kv_store: values too large for the arena's pools live beside small ones through overwrite, compaction and close", "[mvcc]") {
  // Closing skips the per-key walk only while no version lives outside the arena: with large values
  // still retained, the walk must free them (LeakSanitizer reports it otherwise).
  kv_store kv;
  const std::string big(5000, 'b');
  const std::string small(10, 's');
  for (int round = 0; round < 3; ++round) {
    kv.begin_write();
    for (int i = 0; i < 50; ++i) kv.put("k" + std::to_string(i), i % 2 == 0 ? big : small, 0, false, false, nullptr);
    kv.end_write();
  }
  REQUIRE(kv.set_compacted(kv.current_revision()).has_value());
  for (auto resume = kv.compact_batch(kv.current_revision(), "", 7); resume; resume = kv.compact_batch(kv.current_revision(), *resume, 7)) {
  }
  CHECK(kv.versions() == 50);
  auto r = kv.range(key_range("k0"), range_options{});
  REQUIRE(r.has_value());
  REQUIRE(r.value().kvs.size() == 1);
  CHECK(r.value().kvs[0].value == big);
  CHECK(r.value().kvs[0].version == 3);
}

namespace {

// "key@main.sub" for every record of the change log, in order.
std::string log_text(const kv_store& kv) {
  std::string out;
  for (auto p = kv.log().begin(); p != kv.log().end(); ++p) {
    const auto& r = kv.log().at(p);
    out += std::string(r.entry->key()) + "@" + std::to_string(r.version->mod_main) + "." +
           std::to_string(r.version->rev().sub) + " ";
  }
  return out;
}

}  // namespace

TEST_CASE("kv_store: the change log holds every version from the compacted revision on, in revision order", "[mvcc]") {
  kv_store kv(false);
  auto put = [&](std::string_view k) {
    kv.begin_write();
    kv.put(k, "v", 0, false, false, nullptr);
    kv.end_write();
  };
  put("b");  // 2
  put("a");  // 3
  kv.begin_write();  // 4: a txn
  kv.put("c", "v", 0, false, false, nullptr);
  kv.delete_range(leasekv::key_range("b"), nullptr);
  kv.end_write();
  kv.begin_write();  // aborted: leaves no record
  kv.put("x", "v", 0, false, false, nullptr);
  kv.abort_write();
  put("c");  // 5
  CHECK(log_text(kv) == "b@2.0 a@3.0 c@4.0 b@4.1 c@5.0 ");
  // Compaction at 4 frees b's tombstone at 4 (and b@2 below): nothing it frees stays in the log.
  REQUIRE(kv.set_compacted(4));
  CHECK(log_text(kv) == "c@4.0 c@5.0 ");
  for (std::optional<std::string> resume(std::in_place); resume;) resume = kv.compact_batch(4, *resume, 1);
  CHECK(log_text(kv) == "c@4.0 c@5.0 ");
  CHECK(kv.log().lower_bound({5, 0}) == kv.log().begin() + 1);
}

TEST_CASE("kv_store: a snapshot's versions, restored key by key, enter the change log in revision order", "[mvcc]") {
  kv_store kv(false);
  kv.restore_revisions(6, 2);
  kv.restore_version("a", {2, 0}, 2, 1, 0, "1");
  kv.restore_version("a", {5, 0}, 2, 2, 0, "2");
  kv.restore_version("b", {3, 0}, 3, 1, 0, "1");
  kv.restore_version("c", {6, 1}, 6, 1, 0, "1");
  kv.restore_version("d", {1, 0}, 1, 1, 0, "1");  // kept by compaction at 2: below it, out of the log
  kv.restore_version("d", {6, 0}, 1, 2, 0, "2");
  kv.end_restore();
  CHECK(log_text(kv) == "a@2.0 b@3.0 a@5.0 d@6.0 c@6.1 ");
}

TEST_CASE("kv_store: the change log spans chunks and frees them as compaction passes", "[mvcc]") {
  kv_store kv(false);
  constexpr int n = 300000;  // more than two chunks of records
  for (int i = 0; i < n; ++i) {
    kv.begin_write();
    kv.put("k" + std::to_string(i % 10), "v", 0, false, false, nullptr);
    kv.end_write();
  }
  REQUIRE(kv.log().size() == n);
  for (std::int64_t rev : {std::int64_t{2}, std::int64_t{150000}, std::int64_t{n + 1}}) {
    CHECK(kv.log().at(kv.log().lower_bound({rev, 0})).version->mod_main == rev);
  }
  REQUIRE(kv.set_compacted(200000));
  CHECK(kv.log().size() == n + 2 - 200000);
  CHECK(kv.log().at(kv.log().begin()).version->mod_main == 200000);
  REQUIRE(kv.set_compacted(n + 1));
  CHECK(kv.log().size() == 1);
}

namespace {

// Every version of every key, oldest first per key, with the fields reads return.
std::string history_text(const kv_store& kv) {
  std::string out;
  kv.for_each_entry([&](const leasekv::mvcc::key_entry& e) {
    std::vector<const leasekv::mvcc::key_version*> chain;
    for (const auto* v = e.head; v != nullptr; v = v->older) chain.push_back(v);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const auto kv1 = leasekv::mvcc::to_key_value(e, **it);
      out += fmt::format("{}@{}.{} c{} v{} l{} ={} ", kv1.key, kv1.mod_revision, (*it)->rev().sub, kv1.create_revision,
                         kv1.version, kv1.lease, kv1.value);
    }
  });
  return out;
}

}  // namespace

TEST_CASE("kv_store: puts applied together end as the same puts applied one group each would", "[mvcc]") {
  // apply_puts loads a batch's keys ahead and inserts new ones at the leaves it found first: new keys
  // between and after existing ones, existing keys, a key twice in a batch, more puts than one batch.
  kv_store together(false);
  kv_store one_by_one(false);
  auto key = [](int i) { return fmt::format("/registry/pods/{:08d}", i); };
  auto put_one = [](kv_store& kv, std::string_view k, std::string_view v, leasekv::lease_id lease) {
    kv.begin_write();
    kv.put(k, v, lease, false, false, nullptr);
    kv.end_write();
  };
  for (int i = 0; i < 20000; ++i) {
    put_one(together, key(10 * i), "old", 0);
    put_one(one_by_one, key(10 * i), "old", 0);
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    const int n = (i * 7919) % 20000;
    keys.push_back(key(i % 3 == 0 ? 10 * n : 10 * n + 5));  // existing, or new between existing ones
  }
  keys[40] = keys[35];         // the same key twice in one batch
  keys[50] = key(10 * 20000);  // after every key
  keys[51] = key(10 * 20001);
  std::vector<std::string> values;
  std::vector<leasekv::mvcc::pending_put> puts;
  for (std::size_t i = 0; i < keys.size(); ++i) values.push_back(fmt::format("v{}", i));
  for (std::size_t i = 0; i < keys.size(); ++i) puts.push_back({keys[i], values[i], static_cast<leasekv::lease_id>(i % 4)});
  REQUIRE(puts.size() > 3 * kv_store::put_batch);

  std::size_t calls = 0;
  together.apply_puts(puts, [&] {
    REQUIRE(together.changes().size() == 1);
    const auto& c = together.changes()[0];
    CHECK(c.entry->key() == keys[calls]);
    CHECK(c.version->mod_main == together.current_revision());
    CHECK(together.current_revision() == 20001 + static_cast<std::int64_t>(calls) + 1);
    ++calls;
  });
  CHECK(calls == puts.size());
  for (const auto& p : puts) put_one(one_by_one, p.key, p.value, p.lease);

  CHECK(together.current_revision() == one_by_one.current_revision());
  CHECK(together.entries() == one_by_one.entries());
  CHECK(together.bytes() == one_by_one.bytes());
  CHECK(history_text(together) == history_text(one_by_one));
  CHECK(log_text(together) == log_text(one_by_one));
}

TEST_CASE("kv_store: a committed() that throws stops apply_puts after its own put", "[mvcc]") {
  kv_store kv(false);
  const std::vector<leasekv::mvcc::pending_put> puts{{"a", "1", 0}, {"b", "1", 0}, {"c", "1", 0}, {"d", "1", 0}};
  int calls = 0;
  CHECK_THROWS_AS(kv.apply_puts(puts, [&] {
                    if (++calls == 2) throw std::bad_alloc();
                  }),
                  std::bad_alloc);
  CHECK(calls == 2);
  CHECK(kv.current_revision() == 3);
  CHECK(kv.live("b") != nullptr);
  CHECK(kv.live("c") == nullptr);
  kv.apply_puts(std::span(puts).subspan(2), [] {});  // the rest, later
  CHECK(kv.current_revision() == 5);
  CHECK(kv.live_keys() == 4);
}
