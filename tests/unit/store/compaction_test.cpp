#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <string>

using namespace leasekv;

TEST_CASE("compaction: etcd's boundaries on a fresh store", "[compaction]") {
  auto s = store::open().value();
  CHECK(s->compacted_revision() == -1);
  CHECK(s->compact(2).error() == errc::future_revision);
  CHECK(s->compact(1).value().header.revision == 1);
  CHECK(s->compact(1).error() == errc::compacted);
  CHECK(s->compact(0).error() == errc::compacted);
  CHECK(s->compact(0).error().message() == "mvcc: required revision has been compacted");
}

TEST_CASE("compaction: reads at the compacted revision work, below it fail", "[compaction]") {
  auto s = store::open().value();
  s->put("key", "val1").value();  // 2
  s->put("key", "val2").value();  // 3
  s->put("key", "val3").value();  // 4
  CHECK(s->get("key", {.revision = 3}).value().kvs.at(0).value == "val2");
  CHECK(s->compact(4).value().header.revision == 4);
  CHECK(s->get("key", {.revision = 3}).error() == errc::compacted);
  CHECK(s->get("key", {.revision = 4}).value().kvs.at(0).value == "val3");
  CHECK(s->compact(2).error() == errc::compacted);
  CHECK(s->revision() == 4);  // compaction never changes the revision
}

TEST_CASE("compaction: superseded versions and deleted keys are really freed", "[compaction]") {
  auto s = store::open().value();
  for (int i = 0; i < 2500; ++i) {  // more keys than one compaction batch
    const std::string k = "k" + std::to_string(i);
    s->put(k, "a").value();
    s->put(k, "b").value();
    if (i % 2 == 0) s->delete_range(k).value();
  }
  CHECK(s->statistics().versions == 2500 * 2 + 1250);
  s->compact(s->revision()).value();
  const auto st = s->statistics();
  CHECK(st.versions == 1250);
  CHECK(st.index_entries == 1250);
  CHECK(st.keys == 1250);
  CHECK(s->get("k1").value().kvs.at(0).value == "b");
  CHECK(s->get("k2").value().kvs.empty());
  // A compacted-away key can be created again from scratch.
  s->put("k2", "new").value();
  CHECK(s->get("k2").value().kvs.at(0).version == 1);
}

TEST_CASE("compaction: keeps the newest version at or below the revision for reads above it", "[compaction]") {
  auto s = store::open().value();
  s->put("a", "1").value();  // 2
  s->put("b", "1").value();  // 3
  s->put("a", "2").value();  // 4
  s->compact(3).value();
  CHECK(s->get("a", {.revision = 3}).value().kvs.at(0).value == "1");
  CHECK(s->get("a").value().kvs.at(0).value == "2");
  CHECK(s->range(prefix(""), {.revision = 3}).value().count == 2);
}

TEST_CASE("quota: past it writes get etcd's no-space error, reads/deletes/compaction go on, then writes resume", "[compaction][quota]") {
  auto s = store::open({.quota_bytes = 20000}).value();
  int written = 0;
  for (; written < 1000; ++written) {
    auto r = s->put("k" + std::to_string(written % 10), std::string(100, 'v'));
    if (!r) {
      CHECK(r.error() == errc::no_space);
      CHECK(r.error().message() == "etcdserver: mvcc: database space exceeded");
      break;
    }
  }
  REQUIRE(written < 1000);
  const auto rev = s->revision();
  CHECK(s->txn().then(op::put("t", "x")).commit().error() == errc::no_space);
  CHECK(s->grant(std::chrono::seconds(10)).error() == errc::no_space);
  CHECK(s->revision() == rev);                        // nothing half-applied
  CHECK(s->get("k1").value().kvs.size() == 1);        // reads work
  CHECK(s->delete_range("k9").value().deleted == 1);  // deletes work
  CHECK(s->txn().then(op::del("k8")).commit().has_value());  // a txn without puts too
  s->compact(s->revision()).value();                  // compaction frees the history...
  CHECK(s->put("again", "v").has_value());            // ...and writes resume
  CHECK(s->statistics().bytes < 20000);
}
