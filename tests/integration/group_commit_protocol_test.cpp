// The group commit protocol (lib/storage/group_commit.hpp) with real threads: how writers share syncs,
// who gets a failed sync's error, and that a writer whose record is durable never waits for a later sync.
// Then the same through a store: a sync failing under a batch of concurrent writers. Runs under
// ThreadSanitizer in CI (label concurrency). Nothing sleeps: waits are on conditions, each bounded.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "storage/group_commit.hpp"
#include "support/failing_sync_env.hpp"
#include "support/fault_env.hpp"

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace leasekv;
using namespace std::chrono_literals;
using leasekv::storage::group_commit;
using leasekv::testing::failing_sync_env;
using leasekv::testing::fault_env;

TEST_CASE("group commit: a sync failing in the middle of a batch fails every writer of that batch and every later one",
          "[concurrency][storage]") {
  group_commit gc;
  std::mutex mu;
  std::condition_variable cv;
  bool release_first = false;
  std::atomic<int> syncs{0};
  std::atomic<int> waiting{0};
  // Sync 1 covers record 1 only (records 2 and 3 came after it began) and ends when the test says so;
  // sync 2, which records 2 and 3 wait for, fails.
  const group_commit::sync_fn sync = [&]() -> result<std::uint64_t> {
    const int n = ++syncs;
    if (n == 1) {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 10s, [&] { return release_first; });
      return 1;
    }
    if (n == 2) return error(errc::io_error, "wal: the disk went away");
    return 100;
  };
  result<void> first = BOOST_OUTCOME_V2_NAMESPACE::success();
  std::thread leader([&] { first = gc.wait(1, sync); });
  while (syncs.load() == 0) std::this_thread::yield();
  std::vector<result<void>> batch(2, BOOST_OUTCOME_V2_NAMESPACE::success());
  std::vector<std::thread> writers;
  for (int i = 0; i < 2; ++i) {
    writers.emplace_back([&, i] {
      ++waiting;
      batch[static_cast<std::size_t>(i)] = gc.wait(static_cast<std::uint64_t>(2 + i), sync);
    });
  }
  while (waiting.load() < 2) std::this_thread::yield();
  {
    std::lock_guard lock(mu);
    release_first = true;
  }
  cv.notify_all();
  leader.join();
  for (auto& t : writers) t.join();
  CHECK(first.has_value());  // its record was on disk before anything failed
  for (const auto& r : batch) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::io_error);
    CHECK(r.error().detail() == "wal: the disk went away");
  }
  CHECK(syncs.load() == 2);  // one sync for the whole second batch, which failed
  CHECK(gc.wait(1, sync).has_value());        // durable before the failure: still durable
  CHECK(gc.wait(4, sync).error() == errc::io_error);  // after it: refused, with no further sync
  CHECK(syncs.load() == 2);
  CHECK(gc.durable() == 1);
}

TEST_CASE("group commit: a writer whose record is durable returns without waiting for the next sync and writers share syncs",
          "[concurrency][storage]") {
  // Each sync first waits until every writer whose record an earlier sync covered has returned: a
  // protocol in which a writer learns that only after taking a lock the syncing leader holds (a plain
  // mutex around the fdatasync) deadlocks here, and the bounded wait counts a violation.
  group_commit gc;
  constexpr int writers = 8;
  constexpr int writes_each = 300;
  std::atomic<std::uint64_t> appended{0};
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t covered = 0;   // guarded by mu: the last sync's target
  std::uint64_t returned = 0;  // guarded by mu
  int violations = 0;          // guarded by mu
  int syncs = 0;               // guarded by mu
  const group_commit::sync_fn sync = [&]() -> result<std::uint64_t> {
    {
      std::unique_lock lock(mu);
      if (!cv.wait_for(lock, 5s, [&] { return returned >= covered; })) ++violations;
    }
    // A sync takes a while (a real one ~150 us): the writers it did not cover append meanwhile.
    for (int i = 0; i < 50; ++i) std::this_thread::yield();
    std::lock_guard lock(mu);
    ++syncs;
    covered = appended.load();
    return covered;
  };
  std::atomic<int> started{0};
  std::vector<std::thread> ts;
  for (int w = 0; w < writers; ++w) {
    ts.emplace_back([&] {
      ++started;
      while (started.load() < writers) std::this_thread::yield();  // all start together
      for (int i = 0; i < writes_each; ++i) {
        const std::uint64_t lsn = appended.fetch_add(1) + 1;  // lsns are 1, 2, ...: one per record
        REQUIRE(gc.wait(lsn, sync).has_value());
        std::lock_guard lock(mu);
        ++returned;
        cv.notify_all();
      }
    });
  }
  for (auto& t : ts) t.join();
  std::lock_guard lock(mu);
  CHECK(violations == 0);
  CHECK(returned == writers * writes_each);
  CHECK(gc.durable() == writers * writes_each);
  // Writers share syncs: fewer syncs than records (with 8 writers, usually several records each).
  CHECK(syncs < writers * writes_each);
}

TEST_CASE("group commit: a store sync failing under concurrent writers fails each write it held and a crash keeps only the acknowledged",
          "[concurrency][storage]") {
  const int fail_at = GENERATE(3, 10, 40);
  CAPTURE(fail_at);
  auto disk = std::make_shared<fault_env>();
  auto flaky = std::make_shared<failing_sync_env>(disk);
  options o;
  o.data_dir = "/db";
  o.env = flaky;
  o.sync = sync_policy::group_commit;
  auto s = store::open(o).value();
  flaky->log_syncs = 0;
  flaky->fail_log_sync_at = fail_at;
  std::mutex mu;
  std::map<std::string, bool> outcome;  // key -> acknowledged
  std::vector<std::thread> ts;
  for (int w = 0; w < 8; ++w) {
    ts.emplace_back([&, w] {
      for (int i = 0; i < 100; ++i) {
        const std::string k = fmt::format("w{}/{:03}", w, i);
        auto r = s->put(k, "v");
        std::lock_guard lock(mu);
        outcome[k] = r.has_value();
        if (!r) {
          CHECK(r.error() == errc::io_error);
          break;  // every later write fails too
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  REQUIRE(flaky->log_syncs.load() >= fail_at);  // the failure happened under the writers
  CHECK(s->put("after", "v").error() == errc::io_error);
  s.reset();
  // The failed sync synced nothing: after a crash every write it held is gone, every acknowledged one is
  // there, and nothing is half there.
  disk->crash(false);
  o.env = disk;
  auto reopened = store::open(o).value();
  const auto all = reopened->range(all_keys()).value();
  std::set<std::string> found;
  for (const auto& kv : all.kvs) found.insert(kv.key);
  int acked = 0;
  for (const auto& [k, ok] : outcome) {
    INFO(k << (ok ? " acknowledged" : " failed"));
    CHECK(found.count(k) == (ok ? 1u : 0u));
    acked += ok ? 1 : 0;
  }
  CHECK(found.size() == static_cast<std::size_t>(acked));
  CHECK(reopened->revision() == 1 + acked);
}
