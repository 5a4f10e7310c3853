// Whether an Asio execution context (an io_context, a thread_pool) still exists, for objects that post to
// it from other threads and may outlive it.
//
// Posting to an executor whose context was destroyed is undefined behaviour, and so is releasing work
// counted on it (an executor_work_guard). A context's destructor first shuts down its services, newest
// first, and only then its scheduler. context_liveness registers a service with the context; that
// service's shutdown() runs before the scheduler's, so at that moment the context still accepts posts and
// releases of counted work. It:
//   1. marks the context dead, under a mutex that run_if_alive() holds while it posts: a post either
//      happens before the shutdown or not at all;
//   2. then runs the cleanups registered with on_shutdown(), with no lock of ours held, in the thread
//      that destroys (or shuts down) the context. A cleanup drops pending work there: the handlers and
//      work guards of operations that will never complete.
//
//   auto live = base::context_liveness::of(executor);        // once, while the context exists
//   auto reg = live->on_shutdown([weak] { if (auto s = weak.lock()) s->drop_pending(); });
//   ...
//   if (!live->run_if_alive([&] { boost::asio::post(executor, job); })) { /* treat as cancelled */ }
//
// Contract for cleanups: a cleanup runs at most once, never under a lock of ours, and may run after its
// registration was destroyed (when shutdown had already taken it): capture only what stays valid on its
// own (a weak_ptr), and take your own locks inside. A cleanup must not throw.
//
// Lock order: the caller's locks, then the liveness mutex (run_if_alive, on_shutdown, a registration's
// destructor). Code run by run_if_alive must take no lock a cleanup may hold while it waits for us, and
// must not destroy the context.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace leasekv::base {

class context_liveness : public std::enable_shared_from_this<context_liveness> {
 public:
  // Undoes an on_shutdown() registration when destroyed (see the contract above on a running cleanup).
  class registration {
   public:
    registration() = default;
    registration(std::shared_ptr<context_liveness> owner, std::uint64_t id) : owner_(std::move(owner)), id_(id) {}
    ~registration() { reset(); }
    registration(registration&& o) noexcept : owner_(std::move(o.owner_)), id_(o.id_) {}
    registration& operator=(registration&& o) noexcept;
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    void reset();

   private:
    std::shared_ptr<context_liveness> owner_;
    std::uint64_t id_ = 0;
  };

  // The liveness of `ctx`, the same object for every caller of the same context. REQUIRES: ctx exists
  // and is not being destroyed (Asio's own rule for any use of it). Throws what use_service throws.
  static std::shared_ptr<context_liveness> of(boost::asio::execution_context& ctx);
  // The liveness of the context `ex` submits to (boost::asio::query(ex, execution::context)).
  // REQUIRES: ex is non-empty.
  static std::shared_ptr<context_liveness> of(const boost::asio::any_io_executor& ex);

  // True until the context's shutdown began. Only a hint unless checked inside run_if_alive.
  bool alive() const;

  // Runs f() iff the context has not begun to shut down, and returns whether it did. The shutdown waits
  // for f to return, so f may post to the context or release work counted on it.
  template <class F>
  bool run_if_alive(F&& f) {
    std::lock_guard lock(mu_);
    if (!alive_) return false;
    f();
    return true;
  }

  // Registers `cleanup` to run once at the context's shutdown. If the shutdown already happened the
  // cleanup is not kept and the returned registration is empty: the caller must check alive() inside
  // run_if_alive to learn that.
  registration on_shutdown(std::function<void()> cleanup);

  // Used by the service; public for tests: marks the context dead and runs the cleanups.
  void shut_down();

 private:
  void unregister(std::uint64_t id);

  mutable std::mutex mu_;
  bool alive_ = true;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::function<void()>> cleanups_;
};

}  // namespace leasekv::base
