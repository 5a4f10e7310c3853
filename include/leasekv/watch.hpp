// leasekv — watch: ordered streams of changes, with history replay, delivered the Boost.Asio way.
//
// A watcher sees every change to its keys in revision order. All events of one revision (a txn, a lease
// revoke or expiry) arrive together in one response. With a start_revision in the past it first replays
// history from there and then continues live, without a gap or a duplicate; below the compacted revision
// it is cancelled at once (compact_revision set, cancel_reason = errc::compacted).
//
// Two ways to receive:
//
//   // 1. a callback, run on an executor of your choice
//   auto w = store->watch(leasekv::prefix("/services/"), {}, ioc.get_executor(),
//                         [](const leasekv::watch_response& r) { ... }).value();
//
//   // 2. pull, with any Asio completion token (callbacks, use_future, use_awaitable)
//   auto w = store->watch(leasekv::prefix("/services/"), {.start_revision = 1}, ioc.get_executor()).value();
//   w->async_next([](boost::system::error_code ec, leasekv::watch_response r) { ... });
//   leasekv::watch_response r = w->async_next(boost::asio::use_future).get();
//
// Slow consumers never block writers and never make memory grow without bound: a watcher whose undelivered
// events pass options::watch_max_pending_events leaves the live path and later catches up from history;
// if that history was compacted meanwhile it is cancelled with errc::compacted.
//
// Thread safety: a watcher may be used from any thread. Handlers never run while the store holds a lock,
// never inside the call that started the operation, and may call back into the store (put, watch,
// cancel). In callback mode, no handler runs after cancel() returns (cancel may be called from a handler).
// In pull mode a pending async_next completes with boost::asio::error::operation_aborted on cancel().
//
// Lifetimes: a watcher may outlive its store (it then delivers nothing more; async_next completes with
// operation_aborted) and the execution context of its executor. When that context (an io_context, a
// thread_pool) is destroyed, the watcher is cancelled as far as delivery goes: writes to the store from
// any thread go on and post nothing to it; its undelivered responses are dropped; a pending async_next
// whose handler would run there is destroyed without being called (as Asio destroys every operation
// pending on a destroyed context: a use_future's future then reports a broken promise). Destroy the
// watcher afterwards as usual. Do not call async_next with a handler that would run on a destroyed
// context: Asio cannot even count work on one.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/types.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace leasekv {

struct watch_event {
  enum class kind { put, del };
  kind type = kind::put;
  key_value kv;                      // for a delete: only key and mod_revision
  std::optional<key_value> prev_kv;  // with watch_options::prev_kv, when the key existed before
  friend bool operator==(const watch_event&, const watch_event&) = default;
};

struct watch_response {
  response_header header;   // revision: of the events' revision when live; the store's when replaying
  std::int64_t watch_id = 0;
  std::vector<watch_event> events;
  std::int64_t compact_revision = 0;      // set when cancelled because history was compacted
  bool canceled = false;                  // the last response of a cancelled watcher
  boost::system::error_code cancel_reason;
  // etcd's rule: no events, not cancelled, no compact revision, and a revision: a progress notification.
  bool is_progress_notify() const {
    return events.empty() && !canceled && compact_revision == 0 && header.revision != 0;
  }
};

struct watch_options {
  std::int64_t start_revision = 0;  // 0: changes after now; <= current: replay from there; future: wait
  bool prev_kv = false;             // attach each key's previous value
  bool no_put = false;              // filters
  bool no_delete = false;
  bool progress_notify = false;     // send an empty response after options::watch_progress_interval idle
};

using watch_handler = std::function<void(const watch_response&)>;

namespace detail {

// A type-erased, move-only completion for async_next (Asio 1.18 has no any_completion_handler).
struct watch_completion {
  virtual ~watch_completion() = default;
  // Posts the handler to its associated executor with these arguments. Called once, while that
  // executor's context exists (or never: then the completion is destroyed during the context's shutdown).
  virtual void complete(boost::system::error_code ec, watch_response r) = 0;
  // The execution context the handler runs on, or null for an executor without one (it never dies).
  virtual boost::asio::execution_context* context() const = 0;
};

template <class Handler, class Executor>
struct watch_completion_impl final : watch_completion {
  watch_completion_impl(Handler&& h, const Executor& ex) : handler(std::move(h)), work(ex) {}
  void complete(boost::system::error_code ec, watch_response r) override {
    auto ex = work.get_executor();
    boost::asio::post(ex, [h = std::move(handler), ec, r = std::move(r)]() mutable { h(ec, std::move(r)); });
    work.reset();
  }
  boost::asio::execution_context* context() const override {
    using ex_type = typename boost::asio::executor_work_guard<Executor>::executor_type;
    if constexpr (boost::asio::can_query<const ex_type&, boost::asio::execution::context_t>::value) {
      return &boost::asio::query(work.get_executor(), boost::asio::execution::context);
    } else if constexpr (requires(const ex_type& e) { e.context(); }) {
      return &work.get_executor().context();
    } else {
      return nullptr;  // e.g. use_future's: it runs the handler in place
    }
  }
  Handler handler;
  boost::asio::executor_work_guard<Executor> work;
};

}  // namespace detail

// A watch: an abstract handle, made by store::watch(). Destroying it cancels the watch.
class watcher {
 public:
  virtual ~watcher() = default;
  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;

  // The watch id: 0, 1, 2, ... per store, in creation order.
  virtual std::int64_t id() const = 0;

  // Stops the watch.
  virtual void cancel() = 0;

  // Asks for a progress notification: an empty response with the current revision, once the watcher has
  // delivered everything up to it.
  virtual void request_progress() = 0;

  // Pull mode: completes with the next response (error operation_aborted after cancel(), or
  // errc::watch_canceled after the cancelled response was taken). Completion signature:
  // void(boost::system::error_code, watch_response). One async_next may be outstanding at a time.
  template <class CompletionToken>
  auto async_next(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, watch_response)>(
        [this](auto handler) {
          using handler_type = std::decay_t<decltype(handler)>;
          auto ex = boost::asio::get_associated_executor(handler, executor_);
          start_next(std::make_unique<detail::watch_completion_impl<handler_type, decltype(ex)>>(std::move(handler), ex));
        },
        token);
  }

 protected:
  // `ex`: where a pull's handler runs when it has no associated executor of its own.
  explicit watcher(boost::asio::any_io_executor ex) : executor_(std::move(ex)) {}
  // Starts one pull: completes `c` exactly once, never inside this call.
  virtual void start_next(std::unique_ptr<detail::watch_completion> c) = 0;

 private:
  boost::asio::any_io_executor executor_;
};

}  // namespace leasekv
