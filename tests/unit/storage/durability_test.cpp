// A data directory, on the fault-injecting in-memory env: reopening restores exactly the same state;
// damage is found and named; a full disk fails writes cleanly; one writer at a time.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/describe.hpp"
#include "support/fault_env.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <string>

using namespace leasekv;
using namespace std::chrono_literals;
using leasekv::testing::describe;
using leasekv::testing::fault_env;

namespace {

struct fixture {
  std::shared_ptr<fault_env> env = std::make_shared<fault_env>();
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();
  options opts;
  fixture() {
    opts.data_dir = "/db";
    opts.env = env;
    opts.clock = clk;
  }
  std::unique_ptr<store> open() { return store::open(opts).value(); }
};

// Everything observable: every revision's full key space, the compaction point, the leases.
std::string state_of(store& s) {
  std::string out = "rev=" + std::to_string(s.revision()) + " compacted=" + std::to_string(s.compacted_revision()) + "\n";
  for (std::int64_t r = std::max<std::int64_t>(1, s.compacted_revision()); r <= s.revision(); ++r) {
    out += describe(s.range(all_keys(), {.revision = r})) + "\n";
  }
  const auto leases = s.leases().value();
  for (const auto& l : leases.leases) out += describe(s.time_to_live(l.id, {.keys = true})) + "\n";
  return out;
}

void workload(store& s) {
  auto l = s.grant(30s).value().id;
  s.put("/tmp/pid", "2187", {.lease = l}).value();
  for (int i = 0; i < 20; ++i) s.put("k" + std::to_string(i % 5), std::string(static_cast<std::size_t>(i), 'x')).value();
  s.delete_range(prefix("k1")).value();
  s.txn().then(op::put("t1", "a"), op::put("t2", "b"), op::del("k2")).commit().value();
  s.put(std::string("bin\0\xff", 5), std::string("\0\x01", 2)).value();
  s.compact(s.revision() - 3).value();
  static lease_id negative = -5;  // a chosen, negative id, new each round
  auto l2 = s.grant(10s, negative--).value().id;
  s.put("short", "v", {.lease = l2}).value();
  s.keep_alive_once(l).value();
}

}  // namespace

TEST_CASE("durability: reopening restores revisions, history, compaction and leases exactly", "[storage]") {
  fixture f;
  std::string before;
  {
    auto s = f.open();
    workload(*s);
    before = state_of(*s);
  }
  auto s = f.open();
  CHECK(state_of(*s) == before);
  // It keeps working where it left off.
  const auto rev = s->revision();
  CHECK(s->put("after", "1").value().header.revision == rev + 1);
}

TEST_CASE("durability: snapshots bound the log and restore the same state", "[storage]") {
  fixture f;
  f.opts.tuning.snapshot_after_bytes = 512;
  std::string before;
  {
    auto s = f.open();
    for (int round = 0; round < 5; ++round) workload(*s);
    before = state_of(*s);
  }
  const auto files = f.env->list("/db").value();
  int wals = 0;
  int snaps = 0;
  for (const auto& n : files) {
    wals += n.rfind("wal-", 0) == 0;
    snaps += n.rfind("snap-", 0) == 0;
  }
  CHECK(wals == 2);  // the current segment, and the one before it for readers still following it
  CHECK(snaps == 1);
  auto s = f.open();
  CHECK(state_of(*s) == before);
}

TEST_CASE("durability: a lease keeps its wall-clock deadline across a restart", "[storage][lease]") {
  fixture f;
  {
    auto s = f.open();
    auto l = s->grant(30s).value().id;
    s->put("/tmp/pid", "2187", {.lease = l}).value();
  }
  f.clk->advance(20s);  // while closed
  {
    auto s = f.open();
    const auto l = s->get("/tmp/pid").value().kvs.at(0).lease;
    CHECK(s->time_to_live(l).value().ttl == 10);
    CHECK(s->time_to_live(l, {.keys = true}).value().keys == std::vector<std::string>{"/tmp/pid"});
  }
  f.clk->advance(15s);  // past the deadline while closed: revoked as the store opens, at one revision
  auto s = f.open();
  CHECK(s->get("/tmp/pid").value().kvs.empty());
  CHECK(s->leases().value().leases.empty());
  CHECK(s->revision() == 3);
}

TEST_CASE("durability: etcd's behaviour restarts every lease with its full TTL", "[storage][lease]") {
  fixture f;
  f.opts.lease_restart_full_ttl = true;
  lease_id l = 0;
  {
    auto s = f.open();
    l = s->grant(30s).value().id;
  }
  f.clk->advance(25s);
  auto s = f.open();
  CHECK(s->time_to_live(l).value().ttl == 30);
}

TEST_CASE("durability: a torn last record is cut off, and everything before it kept", "[storage]") {
  fixture f;
  {
    auto s = f.open();
    s->put("a", "1").value();
    s->put("b", "2").value();
  }
  auto& wal = f.env->contents("/db/wal-0000000000000001.log");
  wal.resize(wal.size() - 3);  // the last record loses its tail
  auto s = f.open();
  CHECK(s->get("a").value().kvs.size() == 1);
  CHECK(s->get("b").value().kvs.empty());
  CHECK(s->revision() == 2);
  s->put("c", "3").value();  // appends after the cut
  s.reset();
  CHECK(f.open()->get("c").value().kvs.size() == 1);
}

TEST_CASE("durability: damage before the tail fails the open, naming the file and offset", "[storage]") {
  fixture f;
  {
    auto s = f.open();
    for (int i = 0; i < 5; ++i) s->put("k" + std::to_string(i), "v").value();
  }
  auto& wal = f.env->contents("/db/wal-0000000000000001.log");
  SECTION("a bit flip in a record's body") {
    wal[40] = static_cast<char>(wal[40] ^ 0x10);
    auto s = store::open(f.opts);
    CHECK(s.error() == errc::corrupt);
    CHECK(s.error().detail().find("wal-0000000000000001.log: checksum mismatch at offset 20") == 0);
  }
  SECTION("a bit flip in a record's length") {
    wal[20] = static_cast<char>(wal[20] ^ 0x04);
    auto s = store::open(f.opts);
    CHECK(s.error() == errc::corrupt);
    CHECK(s.error().detail() == "wal-0000000000000001.log: bad record header at offset 20");
  }
  SECTION("a zeroed block in the middle") {
    std::fill(wal.begin() + 30, wal.begin() + 60, '\0');
    CHECK(store::open(f.opts).error() == errc::corrupt);
  }
  SECTION("a truncated snapshot") {
    auto& snap = f.env->contents("/db/snap-0000000000000001.snap");
    snap.resize(snap.size() - 5);
    auto s = store::open(f.opts);
    CHECK(s.error() == errc::corrupt);
    CHECK(s.error().detail().find("snap-0000000000000001.snap") == 0);
  }
  auto problems = check_data_dir(*f.env, "/db").value();
  CHECK_FALSE(problems.empty());
}

TEST_CASE("durability: garbage appended after the last record is cut off as a torn tail", "[storage]") {
  fixture f;
  {
    auto s = f.open();
    s->put("a", "1").value();
  }
  f.env->contents("/db/wal-0000000000000001.log") += "\x13\x37garbage";
  auto s = f.open();
  CHECK(s->get("a").value().kvs.size() == 1);
  CHECK(check_data_dir(*f.env, "/db").value().empty());  // the open cut it
}

TEST_CASE("durability: a full disk fails writes cleanly, reads go on, writes resume with space", "[storage]") {
  fixture f;
  auto s = f.open();
  s->put("a", "1").value();
  const auto before = state_of(*s);
  f.env->set_space(f.env->total_bytes() + 10);
  CHECK(s->put("b", std::string(100, 'x')).error() == boost::system::errc::no_space_on_device);
  CHECK(s->txn().then(op::put("c", std::string(100, 'x')), op::del("a")).commit().error() ==
        boost::system::errc::no_space_on_device);
  CHECK(s->grant(std::chrono::hours(1)).has_error());
  CHECK(state_of(*s) == before);  // memory equals what is on disk
  CHECK(s->get("a").value().kvs.at(0).value == "1");
  f.env->set_space(UINT64_MAX);
  s->put("b", "2").value();
  CHECK(s->revision() == 3);
  const auto after = state_of(*s);
  s.reset();
  CHECK(state_of(*f.open()) == after);
}

TEST_CASE("durability: a revoke or expiry that cannot be written keeps the lease with every key attached", "[storage][lease]") {
  fixture f;
  auto s = f.open();
  const auto l = s->grant(10s).value().id;
  for (const char* k : {"b", "a", "c"}) s->put(k, "v", {.lease = l}).value();
  const auto before = state_of(*s);
  f.env->set_space(f.env->total_bytes() + 10);
  CHECK(s->revoke(l).error() == boost::system::errc::no_space_on_device);
  CHECK(state_of(*s) == before);
  f.clk->advance(11s);  // the expiry fails the same way: the lease stays (past its deadline), to be retried
  CHECK(s->revision() == 4);
  CHECK(s->range(all_keys()).value().count == 3);
  CHECK(s->time_to_live(l, {.keys = true}).value().keys == std::vector<std::string>{"a", "b", "c"});
  f.env->set_space(UINT64_MAX);
  f.clk->advance(1s);  // the retry a second later succeeds: every key goes, at one revision
  CHECK(s->time_to_live(l).value().ttl == -1);
  CHECK(s->range(all_keys()).value().kvs.empty());
  CHECK(s->revision() == 5);
}

TEST_CASE("durability: one writer per data directory, and readers open beside it", "[storage]") {
  fixture f;
  auto writer = f.open();
  writer->put("k", "v").value();
  auto second = store::open(f.opts);
  CHECK(second.error() == errc::locked);
  CHECK(second.error().detail().find("held by process") == 0);
  auto ro = f.opts;
  ro.read_only = true;
  auto reader = store::open(ro).value();
  CHECK(reader->get("k").value().kvs.at(0).value == "v");
  CHECK(reader->put("x", "y").error() == errc::read_only);
  writer.reset();
  CHECK(store::open(f.opts).has_value());  // the lock went with the writer
}

TEST_CASE("durability: the largest TTL survives a restart without overflow", "[storage][lease]") {
  fixture f;
  lease_id l = 0;
  {
    auto s = f.open();
    l = s->grant(max_lease_ttl).value().id;
  }
  auto s = f.open();
  CHECK(s->time_to_live(l).value().granted_ttl == 9'000'000'000LL);
  CHECK(s->time_to_live(l).value().ttl == 9'000'000'000LL);
}

TEST_CASE("durability: a reader beside a writer follows its log, rotations included, and its watchers see it live", "[storage][watch]") {
  fixture f;
  f.opts.tuning.snapshot_after_bytes = 400;
  auto writer = f.open();
  writer->put("a", "0").value();
  auto ro = f.opts;
  ro.read_only = true;
  auto reader = store::open(ro).value();
  boost::asio::io_context ioc;
  std::vector<std::int64_t> seen;
  auto w = reader->watch(prefix(""), {}, ioc.get_executor(), [&](const watch_response& r) {
    for (const auto& e : r.events) seen.push_back(e.kv.mod_revision);
  }).value();
  const auto l = writer->grant(30s).value().id;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 8; ++i) {
      writer->put("k" + std::to_string(i), std::string(20, 'v'), {.lease = i % 2 == 0 ? l : 0}).value();
      if (i % 3 == 0) CHECK(reader->refresh().value() == writer->revision());  // across rotations
    }
    writer->delete_range("k1").value();
  }
  writer->revoke(l).value();
  CHECK(reader->refresh().value() == writer->revision());
  CHECK(state_of(*reader) == state_of(*writer));
  ioc.poll();
  REQUIRE(seen.size() == static_cast<std::size_t>(3 * 9 + 4));  // 27 changes, then 4 revoked keys
  for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] >= seen[i - 1]);
  CHECK(seen.back() == writer->revision());
}

TEST_CASE("durability: a saved snapshot restores into a new data directory with the same state", "[storage]") {
  fixture f;
  std::string before;
  {
    auto s = f.open();
    workload(*s);
    s->save_snapshot("/backup.snap").value();
    before = state_of(*s);
    s->put("after-the-snapshot", "x").value();  // not in the copy
  }
  const auto info = inspect_snapshot(*f.env, "/backup.snap").value();
  CHECK(info.revision > 1);
  CHECK(info.total_keys > 0);
  restore_snapshot(*f.env, "/backup.snap", "/restored").value();
  CHECK(restore_snapshot(*f.env, "/backup.snap", "/restored").error() == boost::system::errc::file_exists);
  auto o = f.opts;
  o.data_dir = "/restored";
  auto s = store::open(o).value();
  CHECK(state_of(*s) == before);
  f.env->contents("/backup.snap").resize(info.total_size - 4);
  CHECK(inspect_snapshot(*f.env, "/backup.snap").error() == errc::corrupt);
}
