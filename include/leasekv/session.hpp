// leasekv — sessions.
//
// A session is clientv3's concurrency.Session: a lease of its own, kept alive while the session lives,
// revoked when it is closed or destroyed. Keys put through the session vanish when their owner stops.
//
//   auto s = leasekv::session::open(*store, {.ttl = std::chrono::seconds(10)}).value();
//   s->put("/services/api/10.0.0.7", "up").value();   // gone within 10 s if this process dies
//
// The session keeps its lease alive with a keep-alive stream (store::start_keep_alive): every third of the
// TTL, as etcd's Go client does. With a manual_clock, renewals happen inside manual_clock::advance() at
// their scheduled times, so a test can advance an hour and the session's lease survives.
//
// Thread safety: a session may be used from any thread. on_lost never runs while the store holds a lock
// and never after close() returns.
//
// Lifetimes: a session may outlive its store (see session below). If the executor's context (an
// io_context) is destroyed first, its keep-alive stops: it renews no more and nothing is posted there.
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
  // The recipes (mutex.hpp, election.hpp) reach the store the way the session does.
  friend class mutex;
  friend class election;
  session(std::shared_ptr<detail::store_anchor> anchor, lease_id id) : anchor_(std::move(anchor)), lease_(id) {}
  std::shared_ptr<detail::store_anchor> anchor_;
  lease_id lease_;
  std::unique_ptr<keep_alive> keep_alive_;
  bool closed_ = false;
};

}  // namespace leasekv
