// close() racing calls on other threads, on a real data directory: every call either fails with closed
// or completes, and a write that completed is on disk after reopening. Before the fix, writes that took
// the lock after close() released the data directory were acknowledged without being written (per_write),
// a group-commit waiter synced a freed directory (ASan), and a watch created during close() left its
// async_next pending for ever. Runs under ThreadSanitizer and ASan in CI.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace leasekv;
using namespace std::chrono_literals;

namespace {

struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("leasekv-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("close: writers racing close() lose no acknowledged put, under every sync policy", "[close][concurrency]") {
  const auto policy = GENERATE(sync_policy::per_write, sync_policy::group_commit, sync_policy::none);
  temp_dir dir("close-race");
  constexpr std::size_t writers = 3;
  constexpr int runs = 6;
  std::size_t refused_total = 0;
  for (int run = 0; run < runs; ++run) {
    std::filesystem::remove_all(dir.path);
    options o;
    o.data_dir = dir.path.string();
    o.sync = policy;
    o.clock = std::make_shared<manual_clock>();
    auto s = store::open(o).value();
    std::vector<std::map<std::string, std::string>> acked(writers);
    std::vector<boost::system::error_code> refusal(writers);
    std::atomic<int> puts{0};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < writers; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          const std::string key = "w" + std::to_string(t) + "/" + std::to_string(i);
          const std::string value = "v" + std::to_string(run) + "." + std::to_string(i);
          auto r = s->put(key, value);
          if (!r) {
            refusal[t] = r.error();
            return;
          }
          acked[t][key] = value;
          puts.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    // Let the writers get going (a few dozen puts each, more each run), then close under them.
    while (puts.load(std::memory_order_relaxed) < 20 + 40 * run) std::this_thread::yield();
    s->close();
    for (auto& th : threads) th.join();
    for (const auto& e : refusal) {
      CHECK(e == errc::closed);  // the only way a put may fail here
      ++refused_total;
    }
    s.reset();

    auto reopened = store::open(o).value();
    for (std::size_t t = 0; t < writers; ++t) {
      INFO("run " << run << ", writer " << t << ", " << acked[t].size() << " acknowledged puts");
      for (const auto& [key, value] : acked[t]) {
        auto got = reopened->get(key).value();
        REQUIRE(got.kvs.size() == 1);
        REQUIRE(got.kvs[0].value == value);
      }
      // Nothing beyond what was acknowledged, except the one put each writer had in flight.
      auto all = reopened->range(prefix("w" + std::to_string(t) + "/"), {.count_only = true}).value();
      CHECK(static_cast<std::size_t>(all.count) >= acked[t].size());
      CHECK(static_cast<std::size_t>(all.count) <= acked[t].size() + 1);
    }
  }
  CHECK(refused_total == writers * static_cast<std::size_t>(runs));
}

TEST_CASE("close: a watch and async_next issued while close() runs always complete", "[close][concurrency]") {
  int created = 0;
  int refused = 0;
  for (int run = 0; run < 3000; ++run) {
    auto s = store::open({.clock = std::make_shared<manual_clock>()}).value();
    boost::asio::io_context ioc;
    std::atomic<bool> go{false};
    std::optional<boost::system::error_code> completed;
    std::unique_ptr<watcher> w;
    std::thread watching([&] {
      while (!go.load()) std::this_thread::yield();
      auto r = s->watch(prefix("/"), {}, ioc.get_executor());
      if (!r) {
        CHECK(r.error() == errc::closed);
        ++refused;
        return;
      }
      ++created;
      w = std::move(r).value();
      w->async_next([&](boost::system::error_code ec, watch_response) { completed = ec; });
    });
    go.store(true);
    if (run % 2 == 1) std::this_thread::yield();
    s->close();
    watching.join();
    if (w) {
      // The pending async_next holds work on ioc: run() returns only once it completed.
      ioc.run_for(10s);
      REQUIRE(completed.has_value());
      CHECK(*completed == boost::asio::error::operation_aborted);
    }
  }
  CHECK(created + refused == 3000);
}

TEST_CASE("close: concurrent close() calls all return once the store is closed", "[close][concurrency]") {
  temp_dir dir("close-twice");
  options o;
  o.data_dir = dir.path.string();
  o.sync = sync_policy::group_commit;
  auto s = store::open(o).value();
  s->put("k", "v").value();
  std::vector<std::thread> closers;
  std::atomic<int> returned{0};
  for (int i = 0; i < 4; ++i) {
    closers.emplace_back([&] {
      s->close();
      // Once any close() returned, the data directory's lock is free: another writer can open it.
      returned.fetch_add(1);
    });
  }
  for (auto& c : closers) c.join();
  CHECK(returned.load() == 4);
  o.lock_timeout = 0ms;
  auto second = store::open(o);
  REQUIRE(second);
  CHECK(second.value()->get("k").value().kvs.size() == 1);
}
