// leasekv::mutex and election across threads, on the embedded store with the real clock (nothing here
// waits for a lease): for the ThreadSanitizer stage, and to show mutual exclusion under real contention.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

using namespace leasekv;
using namespace std::chrono_literals;

TEST_CASE("recipes: threads contending for one mutex never overlap, and the lock protects plain memory",
          "[recipes][concurrency]") {
  auto st = store::open({}).value();
  constexpr int threads = 8;
  constexpr int rounds = 25;
  long counter = 0;  // plain memory: only the lock orders these writes
  std::atomic<int> inside{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto s = session::open(*st, {.ttl = 30s}).value();
      mutex m(*s, "/tsan");
      for (int i = 0; i < rounds; ++i) {
        REQUIRE(m.lock());
        CHECK(inside.fetch_add(1) == 0);
        ++counter;
        inside.fetch_sub(1);
        REQUIRE(m.unlock());
      }
    });
  }
  for (auto& t : pool) t.join();
  CHECK(counter == threads * rounds);
  CHECK(st->range(prefix("/tsan/"), {.count_only = true}).value().count == 0);
}

TEST_CASE("recipes: async locks on a thread pool, cancelled from other threads while they wait", "[recipes][concurrency]") {
  auto st = store::open({}).value();
  boost::asio::thread_pool workers(3);
  auto holder_session = session::open(*st, {.ttl = 30s}).value();
  mutex holder(*holder_session, "/tsan-cancel");
  REQUIRE(holder.lock());
  constexpr int waiters = 6;
  std::vector<std::unique_ptr<session>> sessions;
  std::vector<std::unique_ptr<mutex>> mutexes;
  std::vector<std::promise<boost::system::error_code>> done(waiters);
  for (int i = 0; i < waiters; ++i) {
    sessions.push_back(session::open(*st, {.ttl = 30s}).value());
    mutexes.push_back(std::make_unique<mutex>(*sessions.back(), "/tsan-cancel", workers.get_executor()));
    // The waiters get the lock in the order their keys were queued: each hands it on at once.
    mutexes.back()->async_lock([&done, &m = *mutexes.back(), i](boost::system::error_code ec) {
      if (!ec) REQUIRE(m.unlock());
      done[static_cast<std::size_t>(i)].set_value(ec);
    });
  }
  // Cancel the even ones from threads of their own, while the odd ones wait on.
  std::vector<std::thread> cancellers;
  for (int i = 0; i < waiters; i += 2) cancellers.emplace_back([&, i] { mutexes[static_cast<std::size_t>(i)]->cancel(); });
  for (auto& t : cancellers) t.join();
  REQUIRE(holder.unlock());
  int acquired = 0;
  for (int i = 0; i < waiters; ++i) {
    const auto ec = done[static_cast<std::size_t>(i)].get_future().get();
    if (i % 2 == 0) {
      // Cancelled before it was queued or while it waited: the holder still held the lock then.
      CHECK(ec == boost::asio::error::operation_aborted);
      continue;
    }
    REQUIRE_FALSE(ec);
    ++acquired;
  }
  CHECK(acquired == waiters / 2);
  CHECK(st->range(prefix("/tsan-cancel/"), {.count_only = true}).value().count == 0);
  workers.join();
}
