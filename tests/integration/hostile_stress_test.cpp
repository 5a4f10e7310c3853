// Everything at once on a real data directory: writers (plain and leased keys), a live watcher and one
// replaying history from revision 1, lease expiry on a manual clock advanced by its own thread, compaction,
// automatic snapshots every few KiB, and close() under all of it. Afterwards: every acknowledged write is
// there after reopening, and each watcher saw every revision of its span exactly once, in order (a gap is
// allowed only where compaction cancelled a replaying watcher, as etcd does). Runs under ThreadSanitizer
// and ASan in CI; its loops are bounded by counts, not time.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace leasekv;
using namespace std::chrono_literals;

namespace {

// What one watcher saw: the revisions of its events, in arrival order, and where compaction cut it.
struct stream_log {
  std::vector<std::int64_t> revisions;  // one entry per response's revision (events of one revision together)
  std::set<std::pair<std::int64_t, std::string>> seen;  // (revision, key): no event twice
  std::vector<std::size_t> cuts;  // indexes into `revisions` after which a compaction gap is allowed
  bool duplicate = false;
  bool out_of_order = false;

  void add(const watch_response& r) {
    for (const auto& ev : r.events) {
      const std::int64_t rev = ev.kv.mod_revision;
      if (!revisions.empty() && rev < revisions.back()) out_of_order = true;
      if (revisions.empty() || rev != revisions.back()) revisions.push_back(rev);
      if (!seen.emplace(rev, ev.kv.key).second) duplicate = true;
    }
  }
  // Consecutive revisions, except across a compaction cut.
  std::optional<std::pair<std::int64_t, std::int64_t>> first_gap() const {
    std::size_t cut = 0;
    for (std::size_t i = 1; i < revisions.size(); ++i) {
      while (cut < cuts.size() && cuts[cut] < i - 1) ++cut;
      const bool allowed = cut < cuts.size() && cuts[cut] == i - 1;
      if (!allowed && revisions[i] != revisions[i - 1] + 1) return std::make_pair(revisions[i - 1], revisions[i]);
    }
    return std::nullopt;
  }
};

}  // namespace

TEST_CASE("stress: writers, watchers, expiry, compaction, snapshots and close() together lose nothing", "[stress][concurrency]") {
  const auto dir = std::filesystem::temp_directory_path() / ("leasekv-hostile-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto clk = std::make_shared<manual_clock>();
  options o;
  o.data_dir = dir.string();
  o.sync = sync_policy::group_commit;
  o.tuning.snapshot_after_bytes = 16 << 10;  // a snapshot every few dozen writes
  o.clock = clk;
  o.tuning.watch_max_pending_events = 64;  // slow consumers leave the live path and catch up from history
  auto s = store::open(o).value();

  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });

  std::atomic<bool> stop{false};
  constexpr std::size_t writers = 2;
  constexpr int puts_per_writer = 1500;
  std::vector<std::map<std::string, std::string>> acked(writers);  // writer's own keys: last acknowledged value
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < puts_per_writer && !stop.load(); ++i) {
        const std::string key = "k/" + std::to_string(t) + "/" + std::to_string(i % 40);
        const std::string value = std::to_string(i);
        auto r = s->put(key, value);
        if (!r) {
          CHECK(r.error() == errc::closed);
          return;
        }
        acked[t][key] = value;
      }
    });
  }
  // Leased keys, expiring as the clock moves on.
  threads.emplace_back([&] {
    for (int i = 0; i < 400 && !stop.load(); ++i) {
      auto l = s->grant(std::chrono::milliseconds(100 + 50 * (i % 5)));
      if (!l) {
        CHECK(l.error() == errc::closed);
        return;
      }
      auto p = s->put("lease/" + std::to_string(i % 30), "x", {.lease = l.value().id});
      if (!p) CHECK((p.error() == errc::closed || p.error() == errc::lease_not_found));
    }
  });
  threads.emplace_back([&] {
    for (int i = 0; i < 2000 && !stop.load(); ++i) clk->advance(10ms);
  });
  // Compaction, a little behind the head.
  threads.emplace_back([&] {
    for (int i = 0; i < 200 && !stop.load(); ++i) {
      const std::int64_t target = s->revision() - 200;
      if (target > std::max<std::int64_t>(1, s->compacted_revision())) {
        auto c = s->compact(target);
        if (!c) CHECK((c.error() == errc::closed || c.error() == errc::compacted));
      }
      std::this_thread::yield();
    }
  });

  // Two watchers on everything: live from now, and replaying from revision 1 (resuming after compaction
  // cancels it, from its compaction revision, as a client would).
  stream_log live_log;
  stream_log replay_log;
  auto live = s->watch(key_range(std::string(1, '\0'), std::string(1, '\0')), {}, ioc.get_executor()).value();
  std::thread live_reader([&] {
    for (;;) {
      try {
        auto r = live->async_next(boost::asio::use_future).get();
        if (r.canceled) return;
        live_log.add(r);
      } catch (const boost::system::system_error&) {
        return;  // closed
      }
    }
  });
  std::thread replay_reader([&] {
    std::int64_t from = 1;
    for (int attempts = 0; attempts < 1000; ++attempts) {
      auto w = s->watch(key_range(std::string(1, '\0'), std::string(1, '\0')), {.start_revision = from}, ioc.get_executor());
      if (!w) return;  // closed
      for (;;) {
        watch_response r;
        try {
          r = w.value()->async_next(boost::asio::use_future).get();
        } catch (const boost::system::system_error&) {
          return;
        }
        if (r.canceled) {
          if (r.compact_revision == 0) return;
          if (!replay_log.revisions.empty()) replay_log.cuts.push_back(replay_log.revisions.size() - 1);
          from = std::max(r.compact_revision, replay_log.revisions.empty() ? 1 : replay_log.revisions.back() + 1);
          break;
        }
        replay_log.add(r);
        if (!replay_log.revisions.empty()) from = replay_log.revisions.back() + 1;
      }
    }
  });

  // Close under all of it, once the writers are well into their work.
  while (s->revision() < 1200) std::this_thread::yield();
  s->close();
  stop.store(true);
  for (auto& th : threads) th.join();
  live_reader.join();
  replay_reader.join();
  live.reset();
  s.reset();
  work.reset();
  io.join();

  CHECK_FALSE(live_log.duplicate);
  CHECK_FALSE(live_log.out_of_order);
  CHECK_FALSE(replay_log.duplicate);
  CHECK_FALSE(replay_log.out_of_order);
  if (auto gap = live_log.first_gap()) FAIL("live watcher skipped from revision " << gap->first << " to " << gap->second);
  if (auto gap = replay_log.first_gap()) FAIL("replaying watcher skipped from revision " << gap->first << " to " << gap->second);
  CHECK(live_log.revisions.size() > 100);
  CHECK(replay_log.revisions.size() > 100);

  o.clock = std::make_shared<manual_clock>();
  auto reopened = store::open(o).value();
  std::size_t checked = 0;
  for (std::size_t t = 0; t < writers; ++t) {
    for (const auto& [key, value] : acked[t]) {
      INFO("writer " << t << ", key " << key);
      auto got = reopened->get(key).value();
      REQUIRE(got.kvs.size() == 1);
      // The writer's last acknowledged value, or the one put it had in flight when close() came.
      const auto last = std::stoi(value);
      const auto found = std::stoi(got.kvs[0].value);
      CHECK((found == last || found == last + 40));
      ++checked;
    }
  }
  CHECK(checked > 0);
  reopened.reset();
  std::filesystem::remove_all(dir);
}
