// The data directory under hostile conditions: a disk full at a segment switch, the log deleted under the
// writer, a reader racing the writer's snapshots, a directory that does not exist or cannot be written,
// and close() racing a group commit.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "storage/data_dir.hpp"
#include "support/fault_env.hpp"

#include <string>
#include <thread>

using namespace leasekv;
using leasekv::testing::fault_env;
namespace errc_t = boost::system::errc;

namespace {

const std::string wal1 = "/db/" + storage::wal_name(1);

options options_on(const std::shared_ptr<fault_env>& env) {
  options o;
  o.data_dir = "/db";
  o.env = env;
  o.clock = std::make_shared<manual_clock>();
  return o;
}

std::string key_of(int i) { return "k" + std::to_string(i); }

storage::recovery_sink accept_all() {
  return {[](const storage::snap_meta_record&) { return true; }, [](const storage::snap_key_record&) { return true; },
          [](std::int64_t, std::int64_t, std::int64_t) { return true; }, [](const storage::entry_record&) { return true; }};
}

std::string entry(std::int64_t revision) {
  storage::entry_record r;
  r.revision = revision;
  r.changes.push_back({storage::change_kind::put, "k", "v", 0});
  return storage::encode(r);
}

}  // namespace

TEST_CASE("data directory: a snapshot whose next segment cannot be created loses no acknowledged write", "[storage]") {
  auto env = std::make_shared<fault_env>();
  auto o = options_on(env);
  o.tuning.snapshot_after_bytes = 400;
  // The disk fills up once snapshot 2 is written: segment 2's header does not fit, nor does any snapshot
  // after; the writes go on into segment 1.
  env->fail_appends_to("0000000000000002", errc_t::no_space_on_device, 1);
  int acked = 0;
  {
    auto s = store::open(o).value();
    for (int i = 0; i < 40; ++i) acked += s->put(key_of(i), std::string(50, 'v')).has_value();
  }
  CHECK(acked == 40);
  env->fail_appends_to("", errc_t::no_space_on_device);  // space again
  env->crash(false);
  auto s = store::open(o).value();
  for (int i = 0; i < 40; ++i) {
    INFO("key " << i);
    CHECK(s->get(key_of(i)).value().kvs.size() == 1);
  }
}

TEST_CASE("data directory: the log deleted under the writer fails the next write, and the reopen names it", "[storage]") {
  auto env = std::make_shared<fault_env>();
  auto o = options_on(env);
  SECTION("synced each write") {
    auto s = store::open(o).value();
    s->put("a", "1").value();
    env->remove(wal1).value();
    env->sync_dir("/db").value();
    auto r = s->put("b", "2");
    CHECK(r.error() == errc::io_error);
    CHECK(r.error().detail().find(wal1 + ": deleted while open") == 0);
    CHECK(s->put("c", "3").error() == errc::io_error);  // poisoned
  }
  SECTION("never synced: found at the next segment switch") {
    o.sync = sync_policy::none;
    o.tuning.snapshot_after_bytes = 300;
    auto s = store::open(o).value();
    s->put("a", "1").value();
    env->remove(wal1).value();
    env->sync_dir("/db").value();
    int acked = 0;
    while (acked < 100 && s->put(key_of(acked), std::string(40, 'v'))) ++acked;
    CHECK(acked < 10);  // the first snapshot found it
    CHECK(s->put("x", "y").error() == errc::io_error);
  }
  env->crash(false);
  auto reopened = store::open(o);
  CHECK(reopened.error() == errc::corrupt);
  CHECK(reopened.error().detail().find(storage::wal_name(1) + ": missing") == 0);
}

TEST_CASE("data directory: a reader opened while the writer snapshots retries its listing", "[storage]") {
  auto env = std::make_shared<fault_env>();
  auto o = options_on(env);
  o.tuning.snapshot_after_bytes = 300;
  auto writer = store::open(o).value();
  for (int i = 0; i < 5; ++i) writer->put(key_of(i), std::string(40, 'v')).value();
  // Between the reader's listing and its first read, the writer moves two snapshots on: every file the
  // reader listed is gone.
  int next = 5;
  env->on_read("snap-", [&](const std::string& snap) {
    env->on_read("", nullptr);
    const std::string wal = "/db/wal-" + snap.substr(snap.size() - 21, 16) + ".log";
    while (next < 200 && (env->exists(snap) || env->exists(wal))) writer->put(key_of(next++), std::string(40, 'v')).value();
    CHECK(next < 200);
  });
  auto ro = o;
  ro.read_only = true;
  auto reader = store::open(ro);
  INFO((reader ? std::string() : reader.error().what()));
  REQUIRE(reader.has_value());
  CHECK(reader.value()->revision() == writer->revision());
  CHECK(reader.value()->range(all_keys()).value().count == next);
}

TEST_CASE("data directory: a read of a directory that does not exist is the empty store and creates nothing", "[storage]") {
  auto env = std::make_shared<fault_env>();
  auto o = options_on(env);
  auto ro = o;
  ro.read_only = true;
  auto reader = store::open(ro).value();
  CHECK(reader->revision() == 1);
  CHECK(reader->range(all_keys()).value().kvs.empty());
  CHECK_FALSE(env->exists("/db"));
  CHECK(reader->refresh().value() == 1);
  // Once a writer makes it, the reader follows.
  auto writer = store::open(o).value();
  auto first = reader->refresh();
  INFO((first ? std::string() : first.error().what()));
  CHECK(first.value() == 1);
  writer->put("a", "1").value();
  CHECK(reader->refresh().value() == 2);
  CHECK(reader->get("a").value().kvs.at(0).value == "1");
}

TEST_CASE("data directory: a directory that cannot be written opens read-only and errors name the path", "[storage]") {
  auto env = std::make_shared<fault_env>();
  auto o = options_on(env);
  store::open(o).value()->put("a", "1").value();
  env->set_read_only(true);
  auto refused = store::open(o);
  CHECK(refused.error() == errc_t::read_only_file_system);
  CHECK(refused.error().detail() == "/db/LOCK: " + make_error_code(errc_t::read_only_file_system).message());
  auto ro = o;
  ro.read_only = true;
  CHECK(store::open(ro).value()->get("a").value().kvs.at(0).value == "1");
}

TEST_CASE("data directory: a header-only first segment without a snapshot is a creation cut short", "[storage]") {
  auto env = std::make_shared<fault_env>();
  env->create_dir("/db").value();
  env->contents(wal1) = storage::file_header(storage::wal_magic, 1);
  auto o = options_on(env);
  auto s = store::open(o).value();
  s->put("a", "1").value();
  s.reset();
  CHECK(store::open(o).value()->get("a").value().kvs.size() == 1);
  // With a record in it, it is damage.
  env->remove("/db/" + storage::snap_name(1)).value();
  CHECK(store::open(o).error() == errc::corrupt);
}

TEST_CASE("data directory: close() makes appends durable, releases the lock, and fails later appends", "[storage]") {
  auto env = std::make_shared<fault_env>();
  storage::data_dir_options dopts;
  auto d = storage::data_dir::open(env, "/db", dopts, {}, accept_all()).value();
  const auto lsn1 = d->append(entry(2)).value();
  d->sync_to(lsn1).value();
  const auto lsn2 = d->append(entry(3)).value();
  // A group-commit waiter racing close: it gets success, since close's sync covers its record.
  std::thread waiter([&] { CHECK(d->sync_to(lsn2).has_value()); });
  d->close().value();
  waiter.join();
  CHECK(d->sync_to(lsn2).has_value());
  CHECK(d->append(entry(4)).error() == errc::closed);
  CHECK(d->snapshot([](const auto&) {}).error() == errc::closed);
  d->close().value();  // again: nothing to do
  CHECK(storage::data_dir::open(env, "/db", dopts, {}, accept_all()).has_value());  // the lock is free
  // Both records are durable.
  env->crash(false);
  int entries = 0;
  auto sink = accept_all();
  sink.entry = [&](const storage::entry_record&) { return ++entries > 0; };
  auto again = storage::data_dir::open(env, "/db", dopts, {}, sink);
  REQUIRE(again.has_value());
  CHECK(entries == 2);
}

TEST_CASE("data directory: a waiter whose record close() could not sync gets io_error", "[storage]") {
  auto env = std::make_shared<fault_env>();
  auto d = storage::data_dir::open(env, "/db", {}, {}, accept_all()).value();
  const auto lsn = d->append(entry(2)).value();
  env->fail_once(1, errc_t::io_error);  // close's sync
  auto closed = d->close();
  CHECK(closed.error() == errc::io_error);
  CHECK(closed.error().detail().find(wal1) == 0);
  CHECK(d->sync_to(lsn).error() == errc::io_error);
  CHECK(d->append(entry(3)).error() == errc::closed);
}

TEST_CASE("data directory: a disk that stays full costs one snapshot attempt per eighth of snapshot_after_bytes", "[storage]") {
  auto env = std::make_shared<fault_env>();
  storage::data_dir_options dopts;
  dopts.snapshot_after_bytes = 8192;
  auto d = storage::data_dir::open(env, "/db", dopts, {}, accept_all()).value();
  // Room for the log to grow, never for a snapshot (it holds a 200 KiB record).
  env->set_space(150 << 10);
  int attempts = 0;
  auto produce = [&](const std::function<void(std::string_view)>& emit) {
    ++attempts;
    emit(std::string(200 << 10, 's'));
  };
  std::int64_t revision = 1;
  std::uint64_t end = 0;
  while (end < (100u << 10)) {
    end = d->append(entry(++revision)).value();
    if (d->wants_snapshot()) CHECK_FALSE(d->snapshot(produce).has_value());
  }
  // ~2,500 appends past the threshold: without the backoff, as many attempts (each writing until the
  // disk is full); with it, one per 1 KiB of log.
  const std::uint64_t step = dopts.snapshot_after_bytes / 8;
  INFO(attempts << " attempts over " << end << " bytes of log");
  CHECK(attempts >= 2);  // it does try again
  CHECK(static_cast<std::uint64_t>(attempts) <= (end - dopts.snapshot_after_bytes) / step + 1);
  CHECK(d->segment() == 1);
  // Space again: the next try comes within one step, and succeeds.
  env->set_space(UINT64_MAX);
  const int before = attempts;
  const std::uint64_t from = end;
  while (d->segment() == 1 && end < from + step + 100) {
    end = d->append(entry(++revision)).value();
    if (d->wants_snapshot()) d->snapshot(produce).value();
  }
  CHECK(attempts == before + 1);
  CHECK(d->segment() == 2);
  CHECK_FALSE(d->wants_snapshot());
}
