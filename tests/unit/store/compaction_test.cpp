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
