// leasekv — a lock that frees itself when its holder dies: clientv3's concurrency.Mutex on a session.
//
//   auto s = leasekv::session::open(*store, {.ttl = std::chrono::seconds(10)}).value();
//   leasekv::mutex m(*s, "/locks/report");
//   m.lock().value();              // blocks until this session holds the lock
//   ...                            // fence writes with store->txn().when(m.is_owner()).then(...)
//   m.unlock().value();
//
// Layout, exactly clientv3's, so C++ and Go (clientv3) contenders share one lock on one store or cluster:
// each session queues the key `<prefix>/<its lease id in lowercase hex>`, attached to its lease, value
// empty. The key with the lowest create revision holds the lock. A waiter watches only the deletion of the
// key created just before its own (no herd), then looks again. Worked example, prefix "/l":
//
//   rev 5  A puts /l/1a   A holds the lock (no older key)
//   rev 6  B puts /l/2b   B waits for /l/1a's delete
//   rev 7  C puts /l/3c   C waits for /l/2b's delete
//   rev 8  B's lease expires: /l/2b deleted. C looks again, finds /l/1a, waits for its delete.
//   rev 9  A unlocks: /l/1a deleted. C finds no older key and holds the lock.
//
// Unlike clientv3 3.4, a waiter whose key disappears while it waits (its session's lease ended, or the key
// was deleted) stops with errc::session_expired instead of waiting for a turn it no longer has. A lock
// that fails, is cancelled or times out deletes the waiter's key, so it never blocks those after it.
//
// Thread safety: calls on one mutex must not overlap, except cancel(), which may be called from any thread
// while a lock is pending. Distinct mutexes may be used from distinct threads. Completion handlers never
// run inside the call that started the operation.
#pragma once

#include "leasekv/completion.hpp"
#include "leasekv/error.hpp"
#include "leasekv/session.hpp"
#include "leasekv/txn.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace leasekv {

namespace detail {
struct mutex_state;
}

class mutex {
 public:
  using deadline = std::chrono::steady_clock::time_point;

  // A mutex named `prefix` (the keys go under prefix + "/") on the session's lease. The session must
  // outlive the lock calls; the mutex may outlive the store (its calls then fail with errc::closed).
  // `ex`: where the waits of async_lock run, and its handler when that has no executor of its own
  // (empty: Asio's system executor). The blocking calls never use `ex`.
  mutex(session& s, std::string_view prefix, boost::asio::any_io_executor ex = {});
  // Cancels a pending lock (its handler gets operation_aborted). A held lock stays held: unlock() first.
  ~mutex();
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  // Blocks until this session holds the lock (at once if it already does: the same key is reused).
  // Fails with the store's error (lease_not_found once the session's lease is gone), session_expired
  // (the key vanished while waiting), operation_aborted after cancel(), timed_out at the deadline. A
  // store closed while a lock waits delivers no more watch events: that wait ends only by cancel() or
  // its deadline.
  result<void> lock();
  result<void> lock_until(deadline d);
  result<void> lock_for(std::chrono::steady_clock::duration d) { return lock_until(std::chrono::steady_clock::now() + d); }

  // lock(), asynchronously. Completion signature: void(boost::system::error_code).
  template <class CompletionToken>
  auto async_lock(CompletionToken&& token) {
    return initiate(std::nullopt, std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_lock_until(deadline d, CompletionToken&& token) {
    return initiate(d, std::forward<CompletionToken>(token));
  }

  // Ends a pending lock: it completes with operation_aborted and deletes its key. No effect otherwise.
  void cancel();

  // Takes the lock if nobody else holds it; else fails with errc::mutex_locked without queueing.
  result<void> try_lock();

  // Deletes the key (whether or not the lock was held). Fails as store::delete_range fails.
  result<void> unlock();

  // A compare true while this session holds the lock (clientv3's IsOwner): put it in a txn to fence
  // writes. Never true before a lock or after unlock().
  compare is_owner() const;
  // The key this mutex queued ("\0" before a lock and after unlock(), as clientv3's).
  std::string key() const;
  // The header of the response that gave the lock.
  response_header header() const;

 private:
  template <class CompletionToken>
  auto initiate(std::optional<deadline> d, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
        [this, d](auto handler) {
          start_lock(d, false, detail::make_completion<boost::system::error_code>(std::move(handler), executor_));
        },
        token);
  }
  // `blocking`: the wait runs on the system executor instead of the mutex's.
  void start_lock(std::optional<deadline> d, bool blocking,
                  std::unique_ptr<detail::completion<boost::system::error_code>> c);
  result<void> wait_for_lock(std::optional<deadline> d);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<detail::mutex_state> state_;
};

}  // namespace leasekv
