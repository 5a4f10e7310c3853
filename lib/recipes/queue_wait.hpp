// What leasekv::mutex and leasekv::election share: clientv3/concurrency's layout (a key per session under
// a prefix, named by the session's lease in hex; the oldest key by create revision holds the lock or
// leads) and its wait (each waiter watches only the deletion of the key created just before its own).
//
// Everything here uses the public store interface only (through the session's anchor), so it works the
// same on the embedded store and on any other store backend.
#pragma once

#include "base/mutex.hpp"
#include "leasekv/completion.hpp"
#include "leasekv/store.hpp"
#include "store/anchor.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace leasekv::recipes {

using strand = boost::asio::strand<boost::asio::any_io_executor>;
using anchor_ptr = std::shared_ptr<detail::store_anchor>;

// `prefix` followed by the lease id in lowercase hex, as Go's %x writes an int64 ("lock/694d7b5a6ac21504").
std::string session_key(std::string_view prefix, lease_id lease);

// "The first created key" (create revision ascending, limit 1), and "the last created key with a create
// revision <= max_create_revision": clientv3's WithFirstCreate and WithLastCreate + WithMaxCreateRev.
range_options first_created();
range_options last_created_up_to(std::int64_t max_create_revision);

// Runs f(store) through the anchor: errc::closed once the store is gone.
template <class F>
auto on_store(const anchor_ptr& a, F&& f) {
  return a->call(std::forward<F>(f));
}

// The strand a recipe's waits run on: of `ex`, or of Asio's system executor when `ex` is empty.
strand make_recipe_strand(const boost::asio::any_io_executor& ex);

// A waiter's turn: completes once no key under `prefix` was created before `my_rev` (clientv3's
// waitDeletes(prefix, my_rev - 1)) and the waiter's own key `my_key` still has create revision my_rev,
// with the header of the read that found the queue ahead empty. It fails with
//   - errc::session_expired once `my_key` is deleted or replaced (its session's lease ended, or someone
//     deleted it): the waiter has lost its place, and waiting on could only hand it a lock it does not hold;
//   - operation_aborted after cancel(), timed_out at the deadline;
//   - a store error (a read, a watch), or errc::compacted if a watch's history was compacted away.
//
// Thread safety: start() and cancel() may be called from any thread; everything else runs on the strand,
// and so does the handler (never inside start()). The handler is called exactly once, unless the
// queue_wait is destroyed first.
class queue_wait : public std::enable_shared_from_this<queue_wait> {
 public:
  using handler = std::function<void(result<response_header>)>;
  struct params {
    anchor_ptr anchor;
    strand on;
    std::string prefix;
    std::string my_key;
    std::int64_t my_rev = 0;
    std::int64_t read_revision = 0;  // the revision my_key was read or created at: watched from after it
    std::optional<std::chrono::steady_clock::time_point> deadline;
  };
  queue_wait(params p, handler h);
  ~queue_wait();
  queue_wait(const queue_wait&) = delete;
  queue_wait& operator=(const queue_wait&) = delete;

  void start();
  // Completes with operation_aborted unless the handler already ran (or is running).
  void cancel();

 private:
  void watch_own_key();
  void look();
  void on_predecessor(const watch_response& r);
  void on_own_key(const watch_response& r);
  void confirm(const response_header& h);
  void finish(result<response_header> r);
  void retire(std::unique_ptr<watcher>& w);

  params p_;
  handler handler_;
  bool done_ = false;
  // Set by cancel() at once, from any thread: a step already queued on the strand before the cancel's
  // own must not complete the wait successfully after it.
  std::atomic<bool> cancelled_{false};
  std::unique_ptr<watcher> own_;          // deletes of my_key
  std::unique_ptr<watcher> predecessor_;  // deletes of the key just older than my_key
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

// The one pending lock or campaign of a mutex or election, as cancel() reaches it from any thread.
// Thread safety: every member may be called from any thread; `mu` is a leaf (no store call under it).
class pending_wait {
 public:
  // A new operation starts: a cancel() before it is forgotten.
  void begin() LEASEKV_EXCLUDES(mu_);
  // True if cancel() came since begin() (the operation then completes with operation_aborted).
  bool cancelled() LEASEKV_EXCLUDES(mu_);
  // Starts `w` as the operation's wait, cancelling it at once if cancel() came first.
  void start(const std::shared_ptr<queue_wait>& w) LEASEKV_EXCLUDES(mu_);
  // The wait completed.
  void done() LEASEKV_EXCLUDES(mu_);
  void cancel() LEASEKV_EXCLUDES(mu_);

 private:
  base::mutex mu_;
  std::shared_ptr<queue_wait> wait_ LEASEKV_GUARDED_BY(mu_);
  bool cancel_requested_ LEASEKV_GUARDED_BY(mu_) = false;
};

// What a mutex or an election shares with its pending operation: where it works (constant after
// construction) and that operation. The steps run on `strand` and outlive the mutex or election if it is
// destroyed while they are pending.
struct recipe_target {
  recipe_target(anchor_ptr a, lease_id l, std::string p, strand s)
      : anchor(std::move(a)), lease(l), prefix(std::move(p)), on(std::move(s)) {}
  anchor_ptr anchor;
  lease_id lease = no_lease;
  std::string prefix;  // ends in "/"
  strand on;
  pending_wait pending;
};

using void_completion = detail::completion<boost::system::error_code>;

// Runs start(c) with a completion `c` that runs on the system executor, and blocks until it completes:
// the blocking lock() and campaign().
result<void> wait_blocking(const std::function<void(std::unique_ptr<void_completion>)>& start);

}  // namespace leasekv::recipes
