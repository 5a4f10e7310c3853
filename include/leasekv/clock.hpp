// leasekv — time. Every deadline in a store comes from the clock in its options.
//
// clock::system() is the real clock: monotonic time for deadlines, wall-clock time for what is written
// to disk. manual_clock is for tests: time stands still until the test advances it, and advance() runs
// every expiry and renewal that became due in every store using the clock before it returns — so a test
// asserts on a lease's expiry right after advancing, with no sleeping and no background thread:
//
//   auto clk = std::make_shared<leasekv::manual_clock>();
//   auto store = leasekv::store::open({.clock = clk}).value();
//   auto lease = store->grant(std::chrono::seconds(30)).value();
//   store->put("/tmp/pid", "2187", {.lease = lease.id}).value();
//   clk->advance(std::chrono::seconds(30));          // the lease expires here, in this call
//   assert(store->get("/tmp/pid").value().kvs.empty());
//
// Thread safety: both clocks are safe to use from any thread. advance() calls may not overlap.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace leasekv {

class clock {
 public:
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~clock() = default;

  // Monotonic time: deadlines are measured on it.
  virtual time_point now() const noexcept = 0;
  // Wall-clock time: what deadlines are converted to when they are stored on disk.
  virtual std::chrono::system_clock::time_point wall_now() const noexcept = 0;
  // True for a clock that only moves when told (manual_clock): stores then expire leases in advance().
  virtual bool is_manual() const noexcept { return false; }

  // The real clock (shared, stateless).
  static std::shared_ptr<clock> system();
};

class manual_clock final : public clock {
 public:
  // Starts at monotonic time 0 and at wall-clock time `wall_start`.
  explicit manual_clock(std::chrono::system_clock::time_point wall_start =
                            std::chrono::system_clock::time_point(std::chrono::seconds(1'767'225'600)));

  time_point now() const noexcept override { return time_point(duration(now_ns_.load(std::memory_order_acquire))); }
  std::chrono::system_clock::time_point wall_now() const noexcept override;
  bool is_manual() const noexcept override { return true; }

  // Moves time forward by `d` (negative durations are ignored) and, before returning, lets every store
  // using this clock process what became due: lease expiries (keys deleted) and keep-alive renewals, in
  // deadline order. Handlers of keep-alives and watches are posted to their executors, not run here.
  void advance(duration d);

  // Observes time: `fn(now)` is called by every advance(), on the advancing thread, until the returned
  // subscription is destroyed (an embedded store subscribes to expire its leases). Destroying it waits for
  // a call in progress, so nothing runs after the subscription is gone. fn must not call advance().
  class subscription;
  std::unique_ptr<subscription> subscribe(std::function<void(time_point)> fn);

 private:
  struct listener;
  std::atomic<std::int64_t> now_ns_{0};
  std::chrono::system_clock::time_point wall_start_;
  std::mutex mu_;  // guards listeners_
  std::vector<std::weak_ptr<listener>> listeners_;
};

class manual_clock::subscription {
 public:
  ~subscription();
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;

 private:
  friend class manual_clock;
  explicit subscription(std::shared_ptr<listener> l) : l_(std::move(l)) {}
  std::shared_ptr<listener> l_;
};

}  // namespace leasekv
