// Catch-up from history: bounded work per hold of the store's lock, bounded queues, every event exactly
// once; and watchers that outlive their executor's context.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "mvcc/kv_store.hpp"
#include "watch/hub_watcher.hpp"
#include "watch/watch_hub.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace leasekv;

namespace {

// A hub over a bare kv_store, in one thread: the store's lock is not needed.
struct hub_fixture {
  mvcc::kv_store kv{false};
  std::shared_ptr<detail::watch_hub> hub;
  boost::asio::io_context ioc;
  explicit hub_fixture(std::size_t max_pending) {
    auto run = [this](const detail::watch_hub::locked_fn& fn) { fn(kv); };
    hub = std::make_shared<detail::watch_hub>(run, run, [](std::int64_t rev) { return response_header{1, 1, rev, 1}; },
                                              max_pending);
  }
  void put(const std::string& key, const std::string& value) {
    kv.begin_write();
    kv.put(key, value, no_lease, false, false, nullptr);
    kv.end_write();
    hub->on_write(kv, kv.changes());
  }
  void del(const std::string& key) {
    kv.begin_write();
    kv.delete_range(key_range(key), nullptr);
    kv.end_write();
    hub->on_write(kv, kv.changes());
  }
};

}  // namespace

TEST_CASE("watch catch-up: one hold of the lock reads and makes a bounded number of events, whatever the history",
          "[watch]") {
  constexpr std::size_t max_pending = 1000;
  hub_fixture f(max_pending);
  constexpr int revisions = 200000;
  for (int i = 0; i < revisions; ++i) f.put("k" + std::to_string(i % 5), std::to_string(i));  // 2..200001
  auto st = f.hub->add(f.kv, prefix("k"), {.start_revision = 1}, f.ioc.get_executor(), nullptr);
  detail::hub_watcher w(st, f.ioc.get_executor());
  std::int64_t last = 1;
  std::size_t events = 0;
  bool in_order = true;
  std::function<void()> next = [&] {
    w.async_next([&](boost::system::error_code ec, watch_response r) {
      if (ec) return;
      for (const auto& e : r.events) {
        in_order = in_order && e.kv.mod_revision == last + 1;
        last = e.kv.mod_revision;
        ++events;
      }
      if (events < revisions) next();
    });
  };
  next();
  f.ioc.run();
  CHECK(events == revisions);
  CHECK(in_order);
  const auto stats = f.hub->stats();
  CHECK(stats.holds >= revisions / detail::catch_up_hold_events);
  CHECK(stats.max_hold_events <= detail::catch_up_hold_events);
  CHECK(stats.max_hold_records <= detail::catch_up_hold_records);
  CHECK(stats.max_queued_events <= max_pending);
  // Live once caught up.
  f.put("k9", "live");
  std::optional<watch_response> live;
  w.async_next([&](boost::system::error_code ec, watch_response r) {
    if (!ec) live = std::move(r);
  });
  f.ioc.restart();
  f.ioc.run_one();
  REQUIRE(live);
  REQUIRE(live->events.size() == 1);
  CHECK(live->events[0].kv.mod_revision == revisions + 2);
}

TEST_CASE("watch catch-up: a watcher of one key reads a long history of other keys in bounded holds", "[watch]") {
  hub_fixture f(100);
  for (int i = 0; i < 50000; ++i) f.put(i % 1000 == 0 ? std::string("rare") : "busy" + std::to_string(i % 3), "v");
  auto st = f.hub->add(f.kv, key_range("rare"), {.start_revision = 1}, f.ioc.get_executor(), nullptr);
  detail::hub_watcher w(st, f.ioc.get_executor());
  std::vector<std::int64_t> revs;
  std::function<void()> next = [&] {
    w.async_next([&](boost::system::error_code ec, watch_response r) {
      if (ec) return;
      for (const auto& e : r.events) revs.push_back(e.kv.mod_revision);
      if (revs.size() < 50) next();
    });
  };
  next();
  f.ioc.run();
  REQUIRE(revs.size() == 50);
  for (std::size_t i = 0; i < revs.size(); ++i) CHECK(revs[i] == static_cast<std::int64_t>(i) * 1000 + 2);
  CHECK(f.hub->stats().max_hold_records <= detail::catch_up_hold_records);
}

TEST_CASE("watch catch-up: queued events never exceed watch_max_pending_events, overflow and replay alike", "[watch]") {
  hub_fixture f(64);
  auto st = f.hub->add(f.kv, prefix("k"), {}, f.ioc.get_executor(), nullptr);
  detail::hub_watcher w(st, f.ioc.get_executor());
  for (int i = 0; i < 5000; ++i) f.put("k" + std::to_string(i % 3), "v");  // nobody pulls: it overflows
  std::size_t events = 0;
  std::function<void()> next = [&] {
    w.async_next([&](boost::system::error_code ec, watch_response r) {
      if (ec) return;
      events += r.events.size();
      if (events < 5000) next();
    });
  };
  next();
  f.ioc.run();
  CHECK(events == 5000);
  CHECK(f.hub->stats().max_queued_events <= 64);
}

TEST_CASE("watch catch-up: a long replay with prev_kv, filters and compaction racing it delivers each event once, in order, then live",
          "[watch]") {
  auto s = store::open({.tuning = {.watch_max_pending_events = 5000}}).value();
  // History: 200,000 revisions over 7 keys, every 10th a delete; the model records what each watcher expects.
  struct expected {
    std::int64_t rev;
    std::string key;
    bool put;
    std::string value;
    std::optional<std::string> prev;
  };
  std::vector<expected> all;
  std::map<std::string, std::string> live;
  auto apply = [&](int i) {
    const std::string key = "h/" + std::to_string(i % 7);
    std::optional<std::string> prev;
    if (auto it = live.find(key); it != live.end()) prev = it->second;
    if (i % 10 == 9 && prev) {
      const std::int64_t rev = s->delete_range(key_range(key)).value().header.revision;
      all.push_back({rev, key, false, "", prev});
      live.erase(key);
    } else {
      const std::string value = std::to_string(i);
      const std::int64_t rev = s->put(key, value).value().header.revision;
      all.push_back({rev, key, true, value, prev});
      live[key] = value;
    }
  };
  constexpr int history = 200000;
  for (int i = 0; i < history; ++i) apply(i);

  boost::asio::io_context ioc;
  struct seen {
    std::vector<watch_event> events;
    bool canceled = false;
  };
  seen plain;
  seen with_prev;  // prev_kv, no_delete
  std::mutex mu;
  std::condition_variable cv;
  std::int64_t progress = 0;  // the highest revision the plain watcher has seen
  auto w1 = s->watch(prefix("h/"), {.start_revision = 1}, ioc.get_executor(), [&](const watch_response& r) {
               std::lock_guard lock(mu);
               plain.canceled = plain.canceled || r.canceled;
               for (const auto& e : r.events) plain.events.push_back(e);
               if (!r.events.empty()) progress = r.events.back().kv.mod_revision;
               cv.notify_all();
             }).value();
  auto w2 = s->watch(prefix("h/"), {.start_revision = 1, .prev_kv = true, .no_delete = true}, ioc.get_executor(),
                     [&](const watch_response& r) {
                       std::lock_guard lock(mu);
                       with_prev.canceled = with_prev.canceled || r.canceled;
                       for (const auto& e : r.events) with_prev.events.push_back(e);
                       cv.notify_all();
                     })
                .value();
  auto work = boost::asio::make_work_guard(ioc);
  std::thread delivery([&] { ioc.run(); });
  // Once both are well into the history, compact part of what they already passed, from another
  // thread, while they go on; then write more, live.
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return progress >= 100000 || plain.canceled; });
  }
  std::thread compactor([&] { s->compact(20000).value(); });
  compactor.join();
  for (int i = history; i < history + 1000; ++i) apply(i);
  const std::int64_t last = all.back().rev;
  std::int64_t last_put = 0;
  for (const expected& e : all) last_put = e.put ? e.rev : last_put;
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] {
      return plain.canceled || with_prev.canceled ||
             (progress == last && !with_prev.events.empty() && with_prev.events.back().kv.mod_revision == last_put);
    });
  }
  w1.reset();
  w2.reset();
  work.reset();
  delivery.join();
  // Both saw all of it, in order, once.
  auto check = [&](const seen& got, bool prev_kv, bool no_delete) {
    CHECK_FALSE(got.canceled);
    std::size_t i = 0;
    for (const expected& e : all) {
      if (no_delete && !e.put) continue;
      REQUIRE(i < got.events.size());
      const watch_event& ev = got.events[i++];
      REQUIRE(ev.kv.mod_revision == e.rev);
      REQUIRE(ev.kv.key == e.key);
      REQUIRE((ev.type == watch_event::kind::put) == e.put);
      if (e.put) REQUIRE(ev.kv.value == e.value);
      if (prev_kv && e.prev && e.rev > 20001) {  // compaction may drop a prev_kv at its revision
        REQUIRE(ev.prev_kv);
        REQUIRE(ev.prev_kv->value == *e.prev);
      }
      if (!prev_kv) REQUIRE_FALSE(ev.prev_kv);
    }
    CHECK(i == got.events.size());
  };
  check(plain, false, false);
  check(with_prev, true, true);
}

TEST_CASE("watch catch-up: every event delivered once when the whole history is replayed and then written live", "[watch]") {
  hub_fixture f(500);
  for (int i = 0; i < 20000; ++i) {
    if (i % 4 == 3) {
      f.del("k" + std::to_string(i % 3));
    } else {
      f.put("k" + std::to_string(i % 3), std::to_string(i));
    }
  }
  auto st = f.hub->add(f.kv, prefix("k"), {.start_revision = 1}, f.ioc.get_executor(), nullptr);
  detail::hub_watcher w(st, f.ioc.get_executor());
  std::vector<std::int64_t> revs;
  bool wrote_live = false;
  std::function<void()> next = [&] {
    w.async_next([&](boost::system::error_code ec, watch_response r) {
      if (ec) return;
      for (const auto& e : r.events) revs.push_back(e.kv.mod_revision);
      if (!wrote_live && revs.size() > 5000) {
        wrote_live = true;  // writes while it replays: they come after the history, once each
        for (int i = 0; i < 100; ++i) f.put("k0", "live");
      }
      if (revs.size() < 20100) next();
    });
  };
  next();
  f.ioc.run();
  REQUIRE(revs.size() == 20100);
  for (std::size_t i = 0; i < revs.size(); ++i) REQUIRE(revs[i] == static_cast<std::int64_t>(i) + 2);
}

TEST_CASE("watch: a watcher whose io_context was destroyed posts nothing and writes from any thread go on", "[watch]") {
  auto s = store::open({}).value();
  s->put("old", "1").value();
  auto ioc = std::make_unique<boost::asio::io_context>();
  int callbacks = 0;
  auto cb = s->watch(prefix("k"), {}, ioc->get_executor(), [&](const watch_response&) { ++callbacks; }).value();
  auto replaying = s->watch(prefix(""), {.start_revision = 1}, ioc->get_executor(), [](const watch_response&) {}).value();
  auto pull = s->watch(prefix("k"), {}, ioc->get_executor()).value();
  s->put("k", "1").value();
  ioc->poll();  // the callback ran; no drain is pending any more
  REQUIRE(callbacks == 1);
  // A pending pull: its handler and the work it counts belong to the context.
  auto token = std::make_shared<int>(0);
  bool called = false;
  pull->async_next([&called, token](boost::system::error_code, watch_response) { called = true; });
  pull.reset();  // cancelled: its completion is posted, never run
  auto pending = s->watch(prefix("k"), {}, ioc->get_executor()).value();
  pending->async_next([&called, token](boost::system::error_code, watch_response) { called = true; });
  ioc.reset();
  CHECK_FALSE(called);
  CHECK(token.use_count() == 1);  // both handlers destroyed uncalled, with their context
  s->put("k", "2").value();
  std::thread other([&] { s->put("k", "3").value(); });
  other.join();
  s->compact(s->revision()).value();
  CHECK(callbacks == 1);
  cb.reset();
  replaying.reset();
  pending->request_progress();
  pending.reset();
  s.reset();
}
