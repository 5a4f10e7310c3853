// A failed fsync poisons the store: after one, the kernel may have dropped the pages it could not write,
// so nothing later can be promised durable. Every write fails with errc::io_error from then on, even
// once the disk works again; reads still answer; a reopen finds every acknowledged write.
//
// The disk here is the fault env, seen through one that fails chosen fsyncs (support/failing_sync_env.hpp).
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/failing_sync_env.hpp"
#include "support/fault_env.hpp"

#include <string>

using namespace leasekv;
using namespace std::chrono_literals;
using leasekv::testing::failing_sync_env;
using leasekv::testing::fault_env;

TEST_CASE("sync failure: one failed fsync makes every later write fail, and nothing acknowledged is lost",
          "[store][storage]") {
  const auto policy = GENERATE(sync_policy::per_write, sync_policy::group_commit);
  CAPTURE(static_cast<int>(policy));
  auto disk = std::make_shared<fault_env>();
  auto flaky = std::make_shared<failing_sync_env>(disk);
  auto clk = std::make_shared<manual_clock>();
  options o;
  o.data_dir = "/db";
  o.env = flaky;
  o.clock = clk;
  o.sync = policy;
  auto s = store::open(o).value();
  s->put("a", "1").value();
  const lease_id l = s->grant(60s).value().id;
  s->put("b", "2", {.lease = l}).value();
  const std::int64_t acknowledged = s->revision();

  flaky->fail_syncs = 1;
  auto failed = s->put("c", "3");
  REQUIRE(flaky->failed == 1);  // the put's fsync was the one that failed
  CHECK_FALSE(failed.has_value());

  // The disk works again, but the store cannot know what the failed fsync lost: it takes no more writes.
  REQUIRE(flaky->fail_syncs == 0);
  CHECK(s->put("d", "4").error() == errc::io_error);
  CHECK(s->delete_range(key_range("a")).error() == errc::io_error);
  CHECK(s->txn().then(op::put("e", "5")).commit().error() == errc::io_error);
  CHECK(s->grant(60s).error() == errc::io_error);
  CHECK(s->revoke(l).error() == errc::io_error);
  CHECK(s->compact(2).error() == errc::io_error);
  CHECK(flaky->failed == 1);  // none of them got as far as another fsync
  // Reads still answer.
  CHECK(s->get("a").value().kvs.at(0).value == "1");
  s.reset();

  // Reopened, it has every acknowledged write, and none of the refused ones.
  o.env = disk;
  auto reopened = store::open(o).value();
  CHECK(reopened->get("a").value().kvs.at(0).value == "1");
  CHECK(reopened->get("b").value().kvs.at(0).lease == l);
  CHECK(reopened->time_to_live(l).value().granted_ttl == 60);
  CHECK(reopened->get("d").value().kvs.empty());
  CHECK(reopened->get("e").value().kvs.empty());
  CHECK(reopened->revision() >= acknowledged);  // the failed put may or may not have reached the disk
  CHECK(reopened->revision() <= acknowledged + 1);
  // And it takes writes again.
  CHECK(reopened->put("f", "6").has_value());
}
