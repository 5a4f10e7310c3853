// Watchers against concurrent writers: a replay that starts while writers run must continue live with no
// gap and no duplicate (checked against the revision sequence), and a watcher that is slow on purpose
// must neither stall the writers nor lose anything. Runs under ThreadSanitizer in CI.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace leasekv;

TEST_CASE("watch concurrency: replay-then-live and a slow watcher see every revision exactly once", "[concurrency][watch]") {
  auto s = store::open({.tuning = {.watch_max_pending_events = 16}}).value();
  constexpr int writers = 2;
  constexpr int puts_per_writer = 2000;
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread delivery([&] { ioc.run(); });

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::int64_t> replayed;
  std::vector<std::int64_t> slow_revs;
  // A slow one, from before the first write: it dawdles in its handler and falls far behind the writers.
  auto slow = s->watch(prefix("k/"), {}, ioc.get_executor(), [&](const watch_response& r) {
    std::this_thread::yield();
    std::lock_guard lock(mu);
    for (const auto& e : r.events) slow_revs.push_back(e.kv.mod_revision);
    cv.notify_all();
  }).value();

  std::atomic<bool> started{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < puts_per_writer; ++i) {
        s->put("k/" + std::to_string(w) + "/" + std::to_string(i % 10), std::to_string(i)).value();
        if (i == puts_per_writer / 4) started = true;
      }
    });
  }
  while (!started.load()) std::this_thread::yield();

  // Replays from revision 2 while the writers are still going.
  auto live = s->watch(prefix("k/"), {.start_revision = 2}, ioc.get_executor(), [&](const watch_response& r) {
    std::lock_guard lock(mu);
    for (const auto& e : r.events) replayed.push_back(e.kv.mod_revision);
    cv.notify_all();
  }).value();

  for (auto& t : threads) t.join();
  const std::int64_t last = s->revision();
  REQUIRE(last == 1 + writers * puts_per_writer);

  // Wait until both have everything; the bound only turns a hang into a failure.
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(60), [&] {
      return !replayed.empty() && replayed.back() == last && !slow_revs.empty() && slow_revs.back() == last;
    });
  }
  live->cancel();
  slow->cancel();
  work.reset();
  delivery.join();

  std::lock_guard lock(mu);
  REQUIRE(replayed.size() == static_cast<std::size_t>(last - 1));
  for (std::size_t i = 0; i < replayed.size(); ++i) REQUIRE(replayed[i] == static_cast<std::int64_t>(i) + 2);
  REQUIRE(slow_revs.size() == static_cast<std::size_t>(last - 1));
  for (std::size_t i = 0; i < slow_revs.size(); ++i) REQUIRE(slow_revs[i] == static_cast<std::int64_t>(i) + 2);
}

TEST_CASE("watch concurrency: cancel racing delivery — no callback starts after cancel returns", "[concurrency][watch]") {
  auto s = store::open().value();
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread delivery([&] { ioc.run(); });
  for (int round = 0; round < 50; ++round) {
    std::atomic<bool> cancelled{false};
    std::atomic<int> late{0};
    auto w = s->watch(prefix("c/"), {}, ioc.get_executor(), [&](const watch_response&) {
      if (cancelled.load()) late++;
      std::this_thread::yield();
    }).value();
    std::thread writer([&] {
      for (int i = 0; i < 200; ++i) s->put("c/" + std::to_string(i % 5), "v").value();
    });
    std::this_thread::yield();
    w->cancel();
    cancelled = true;
    writer.join();
    CHECK(late == 0);
  }
  work.reset();
  delivery.join();
}
