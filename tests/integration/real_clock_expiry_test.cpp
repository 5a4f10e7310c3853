// End to end on the real clock (the README's claim): a store opened with its defaults deletes a lease's
// keys after the lease's TTL and within one wheel tick (1 ms) of its deadline. A watcher sees the
// DELETE; its time is measured against the grant. Never early is exact: the deadline is at least the
// TTL after the moment before grant() was called. Late is bounded generously (a tick plus 500 ms for a
// loaded, sanitized CI machine): the bound catches an expiry that waits for a coarse poll or a later
// event, not scheduling noise. Real time is what this test is about, so it waits for it; the waits are
// bounded so a store that never expires fails instead of hanging.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

using namespace leasekv;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

TEST_CASE("real clock: a lease's keys are deleted within one tick of its deadline, never before", "[concurrency][lease]") {
  constexpr auto ttl = 300ms;
  constexpr auto slack = 500ms;
  auto s = store::open().value();  // the real clock, with its own expiry thread
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread delivery([&] { ioc.run(); });

  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    std::mutex mu;
    std::condition_variable cv;
    std::optional<steady::time_point> deleted_at;
    const std::string key = "k" + std::to_string(round);
    auto w = s->watch(key_range(key), {.no_put = true}, ioc.get_executor(), [&](const watch_response& r) {
      if (r.events.empty()) return;
      std::lock_guard lock(mu);
      if (!deleted_at) deleted_at = steady::now();
      cv.notify_all();
    }).value();

    const auto before_grant = steady::now();
    const lease_id l = s->grant(ttl).value().id;
    const auto after_grant = steady::now();
    s->put(key, "v", {.lease = l}).value();

    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, ttl + 10s, [&] { return deleted_at.has_value(); }));  // a guard, not a delay
    const auto early = *deleted_at - (before_grant + ttl);
    const auto late = *deleted_at - (after_grant + ttl);
    INFO("deleted " << std::chrono::duration_cast<std::chrono::microseconds>(late).count()
                    << " us after the deadline");
    CHECK(early >= 0ms);
    CHECK(late <= 1ms + slack);
    CHECK(s->get(key).value().kvs.empty());
    CHECK(s->time_to_live(l).value().ttl == -1);
  }
  work.reset();
  s->close();
  delivery.join();
}
