#include <catch2/catch.hpp>

#include "mvcc/kv_store.hpp"

#include <optional>
#include <string>

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
