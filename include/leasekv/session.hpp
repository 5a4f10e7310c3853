// leasekv — keep-alive streams and sessions.
//
// A keep_alive renews a lease every third of its TTL (as etcd's Go client does) and reports each renewal
// to a handler, on an executor of the caller's choice, until it is cancelled or the lease ends — then
// the handler gets lease_not_found once more and the stream stops. With a manual_clock, renewals happen
// inside manual_clock::advance() at their scheduled times, so a test can advance an hour and the lease
// survives.
//
// A session is clientv3's concurrency.Session: a lease of its own, kept alive while the session lives,
// revoked when it is closed or destroyed. Keys put through the session vanish when their owner stops.
//
//   auto s = leasekv::session::open(*store, {.ttl = std::chrono::seconds(10)}).value();
//   s->put("/services/api/10.0.0.7", "up").value();   // gone within 10 s if this process dies
//
// Thread safety: keep_alive and session objects may be used from any thread. Handlers never run while the
// store holds a lock, never inside the call that started the stream, and never after cancel() or close()
// returns (cancel() may be called from inside a handler).
//
// Lifetimes: a keep_alive or session may outlive its store (see session below). If the executor's context
// (an io_context) is destroyed first, the stream stops: it renews no more and nothing is posted there.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/lease.hpp"
#include "leasekv/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

namespace leasekv {

class keep_alive {
 public:
  struct state;
  explicit keep_alive(std::shared_ptr<state> s) : state_(std::move(s)) {}
  ~keep_alive() { cancel(); }
  keep_alive(const keep_alive&) = delete;
  keep_alive& operator=(const keep_alive&) = delete;

  lease_id id() const;
  // Stops renewing. No handler of this stream runs after cancel() returns.
  void cancel();

 private:
  std::shared_ptr<state> state_;
};

// Starts a keep-alive stream for lease `id`: renews it now (failing with lease_not_found if it is
// unknown or expired) and then every TTL/3. Handlers run on `ex`; an empty executor means Asio's system
// executor (a background thread pool).
result<std::unique_ptr<keep_alive>> start_keep_alive(store& s, lease_id id, boost::asio::any_io_executor ex,
                                                     keep_alive_handler handler);

struct session_options {
  std::chrono::milliseconds ttl{60000};  // the session lease's TTL
  lease_id id = no_lease;                // 0: let the store choose
  boost::asio::any_io_executor executor; // where on_lost runs; empty: Asio's system executor
  // Called once if the lease is lost while the session is open (it expired or was revoked elsewhere).
  std::function<void(boost::system::error_code)> on_lost;
};

// A session may outlive its store: put() then fails with errc::closed, and close() and the destructor
// have nothing left to revoke (an in-memory store's leases died with it; a data directory's lease expires
// by its TTL when the directory is next opened).
class session {
 public:
  static result<std::unique_ptr<session>> open(store& s, session_options o = {});
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  lease_id lease() const { return lease_; }
  // Puts `key` attached to the session's lease.
  result<put_response> put(std::string_view key, std::string_view value);
  // Stops the keep-alive and revokes the lease (deleting the session's keys). Idempotent; a lease that
  // is already gone is not an error here.
  result<void> close();

 private:
  session(std::shared_ptr<detail::store_anchor> anchor, lease_id id) : anchor_(std::move(anchor)), lease_(id) {}
  std::shared_ptr<detail::store_anchor> anchor_;
  lease_id lease_;
  std::unique_ptr<keep_alive> keep_alive_;
  bool closed_ = false;
};

}  // namespace leasekv
