// Keep-alive streams of the embedded store: each stream's state, its handle, and the schedule of their
// renewals.
//
// A stream renews its lease every `interval` (a third of the TTL, as etcd's Go client does). The store
// keeps the streams in a keep_alive_schedule ordered by next renewal and renews them from its expiry
// processing (the manual clock's advance(), or the expiry timer); each renewal is posted to the stream's
// handler. A stream ends when it is cancelled, when its lease ends (the handler gets lease_not_found
// once), or when its executor's context is destroyed.
//
// Thread safety: keep_alive_state::deliver and keep_alive_stream may be used from any thread;
// keep_alive_schedule is guarded by the store's lock.
#pragma once

#include "leasekv/clock.hpp"
#include "leasekv/store.hpp"

#include "base/executor_liveness.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace leasekv::detail {

struct keep_alive_state {
  lease_id id = no_lease;
  std::chrono::milliseconds interval{0};
  boost::asio::any_io_executor executor;
  std::shared_ptr<base::context_liveness> context;  // the executor's context: posts stop once it is gone
  keep_alive_handler handler;
  std::recursive_mutex mu;  // held while the handler runs; recursive so it may cancel itself
  std::atomic<bool> cancelled{false};

  // Posts one call of the handler. It does not run if the stream is cancelled before it starts. If the
  // executor's context was destroyed, nothing can run there any more: the stream ends (cancelled), and
  // the store drops it at its next renewal.
  static void deliver(const std::shared_ptr<keep_alive_state>& s, boost::system::error_code ec, lease_keep_alive_response r) {
    const bool posted = s->context->run_if_alive([&] {
      boost::asio::post(s->executor, [s, ec, r = std::move(r)] {
        std::lock_guard lock(s->mu);
        if (s->cancelled.load(std::memory_order_acquire)) return;
        s->handler(ec, r);
      });
    });
    if (!posted) s->cancelled.store(true, std::memory_order_release);
  }
};

// The handle store::start_keep_alive returns.
class keep_alive_stream final : public keep_alive {
 public:
  explicit keep_alive_stream(std::shared_ptr<keep_alive_state> s) : state_(std::move(s)) {}
  ~keep_alive_stream() override { cancel(); }
  lease_id id() const override { return state_->id; }
  void cancel() override {
    std::lock_guard lock(state_->mu);  // waits for a handler in progress (unless called from it)
    state_->cancelled.store(true, std::memory_order_release);
  }

 private:
  std::shared_ptr<keep_alive_state> state_;
};

// The streams by next renewal time (ties in scheduling order).
class keep_alive_schedule {
 public:
  bool empty() const { return renewals_.empty(); }
  void add(std::shared_ptr<keep_alive_state> s, clock::time_point at) {
    renewals_.emplace(std::make_pair(at, seq_++), std::move(s));
  }
  // REQUIRES: !empty().
  clock::time_point next_time() const { return renewals_.begin()->first.first; }
  // REQUIRES: !empty(). Removes and returns the stream due first.
  std::shared_ptr<keep_alive_state> take_next() { return std::move(renewals_.extract(renewals_.begin()).mapped()); }
  // Removes every stream of lease `id`, calling f(stream) for each.
  template <class F>
  void remove_lease(lease_id id, F&& f) {
    for (auto it = renewals_.begin(); it != renewals_.end();) {
      if (it->second->id != id) {
        ++it;
        continue;
      }
      f(it->second);
      it = renewals_.erase(it);
    }
  }

 private:
  std::map<std::pair<clock::time_point, std::uint64_t>, std::shared_ptr<keep_alive_state>> renewals_;
  std::uint64_t seq_ = 0;
};

}  // namespace leasekv::detail
