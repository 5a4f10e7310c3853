#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <string>

using namespace leasekv;

TEST_CASE("txn: compare-and-swap on version takes the success branch once", "[txn]") {
  auto s = store::open().value();
  auto create = [&] {
    return s->txn()
        .when(compare::version("k") == 0)
        .then(op::put("k", "v"))
        .otherwise(op::get("k"))
        .commit()
        .value();
  };
  auto first = create();
  CHECK(first.succeeded);
  CHECK(first.header.revision == 2);
  REQUIRE(first.responses.size() == 1);
  CHECK(first.responses[0].type == request_op::kind::put);
  auto second = create();
  CHECK_FALSE(second.succeeded);
  CHECK(second.header.revision == 2);  // the failure branch wrote nothing
  CHECK(second.responses.at(0).range.kvs.at(0).value == "v");
}

TEST_CASE("txn: all writes share one revision, numbered in op order", "[txn]") {
  auto s = store::open().value();
  s->put("w2", "x").value();
  auto r = s->txn().then(op::put("t1", "1"), op::put("t2", "2"), op::del("w2"), op::get(prefix("t"))).commit().value();
  CHECK(r.header.revision == 3);
  auto got = r.responses.at(3).range;  // reads inside the txn see its writes
  REQUIRE(got.kvs.size() == 2);
  CHECK(got.kvs[0].create_revision == 3);
  CHECK(got.kvs[1].mod_revision == 3);
  CHECK(got.header.revision == 3);
  CHECK(r.responses.at(2).delete_range.deleted == 1);
}

TEST_CASE("txn: compares over a range need every key to hold, missing keys compare as zero", "[txn]") {
  auto s = store::open().value();
  s->put("a1", "x").value();
  s->put("a2", "y").value();
  CHECK_FALSE(s->txn().when(compare::value_of(prefix("a")) == "x").commit().value().succeeded);
  CHECK(s->txn().when(compare::version(prefix("a")) == 1).commit().value().succeeded);
  CHECK(s->txn().when(compare::mod_revision(prefix("a")) > 1).commit().value().succeeded);
  CHECK(s->txn().when(compare::create_revision("missing") == 0).commit().value().succeeded);
  CHECK(s->txn().when(compare::lease("missing") == 0).commit().value().succeeded);
  // A value compare on a missing key is always false.
  CHECK_FALSE(s->txn().when(compare::value_of("missing") != "x").commit().value().succeeded);
  CHECK(s->txn().when(compare::value_of("a1") < "y", compare::value_of("a2") > "x").commit().value().succeeded);
}

// Each section ends by checking that what was refused applied nothing. (No section may return early:
// Catch2 finds the sections after it only by running into them, so an early return skips them all.)
TEST_CASE("txn: validation rejects the whole request before anything applies", "[txn]") {
  auto s = store::open().value();
  s->put("k", "v").value();
  const auto rev = s->revision();

  SECTION("too many operations") {
    txn_request t;
    for (int i = 0; i < 129; ++i) t.success.push_back(op::put("k" + std::to_string(i), "v"));
    CHECK(s->txn(t).error() == errc::too_many_ops);
    CHECK(s->revision() == rev);
    t.success.pop_back();
    CHECK(s->txn(t).has_value());
    CHECK(s->revision() == rev + 1);
  }
  SECTION("duplicate puts, or a put under a delete, in one branch") {
    CHECK(s->txn().then(op::put("a", "1"), op::put("a", "2")).commit().error() == errc::duplicate_key);
    CHECK(s->txn().then(op::put("a/x", "1"), op::del(prefix("a/"))).commit().error() == errc::duplicate_key);
    CHECK(s->revision() == rev);  // neither applied anything
    CHECK(s->get("a/x").value().kvs.empty());
    CHECK(s->txn().then(op::put("a", "1")).otherwise(op::put("a", "2")).commit().has_value());
    CHECK(s->revision() == rev + 1);
  }
  SECTION("a from-key delete covers no put in its branch, as in etcd") {
    // etcd checks a delete's interval [key, range_end) as plain strings, so "\0" as range_end covers
    // nothing there: etcd 3.4.23 accepts `put b` beside `del a --from-key` in one branch.
    CHECK(s->txn().then(op::del(from_key("a")), op::put("b", "1")).commit().has_value());
    CHECK(s->get("b").value().kvs.size() == 1);
    CHECK(s->get("k").value().kvs.empty());
    CHECK(s->revision() == rev + 1);
  }
  SECTION("nested txns: both branches may put one key, the parent may not") {
    txn_request inner;
    inner.success.push_back(op::put("n", "1"));
    inner.failure.push_back(op::put("n", "2"));
    CHECK(s->txn().then(op::txn(inner), op::put("x", "1")).commit().has_value());
    CHECK(s->txn().then(op::txn(inner), op::put("n", "3")).commit().error() == errc::duplicate_key);
    CHECK(s->revision() == rev + 1);
    CHECK(s->get("n").value().kvs.at(0).value == "1");
  }
  SECTION("a missing key, a key needed by ignore_value, a bad revision, an unknown lease") {
    CHECK(s->txn().when(compare::version("") == 0).commit().error() == errc::key_not_provided);
    CHECK(s->txn().then(op::put("new", "1"), op::put("gone", "", {.ignore_value = true})).commit().error() ==
          errc::key_not_found);
    CHECK(s->txn().then(op::put("new", "1"), op::get("k", {.revision = 99})).commit().error() ==
          errc::future_revision);
    CHECK(s->txn().then(op::put("new", "1", {.lease = 77})).commit().error() == errc::lease_not_found);
    CHECK(s->revision() == rev);
    CHECK(s->get("new").value().kvs.empty());
    // Only the branch that runs is checked, as etcd does.
    CHECK(s->txn().then(op::put("new", "1")).otherwise(op::put("gone", "", {.ignore_value = true})).commit().has_value());
    CHECK(s->get("new").value().kvs.size() == 1);
  }
}

TEST_CASE("txn: nested compares see the state from before the txn", "[txn]") {
  auto s = store::open().value();
  txn_request inner;
  inner.compares.push_back(compare::version("k") == 0);  // true before the outer put
  inner.success.push_back(op::put("seen-absent", "1"));
  inner.failure.push_back(op::put("seen-present", "1"));
  auto r = s->txn().then(op::put("k", "v"), op::txn(inner)).commit().value();
  REQUIRE(r.responses.at(1).txn);
  CHECK(r.responses[1].txn->succeeded);
  CHECK(s->get("seen-absent").value().kvs.size() == 1);
  CHECK(s->revision() == 2);
}

TEST_CASE("txn: a read-only txn takes no revision", "[txn]") {
  auto s = store::open().value();
  s->put("k", "v").value();
  auto r = s->txn().when(compare::value_of("k") == "v").then(op::get("k")).commit().value();
  CHECK(r.succeeded);
  CHECK(r.header.revision == 2);
  CHECK(s->revision() == 2);
}
