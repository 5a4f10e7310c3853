// leasekv — type-erased completion handlers for the recipes' async operations (mutex.hpp, election.hpp).
// Asio 1.18 has no any_completion_handler, so each initiating function wraps its handler in one of these.
//
// Thread safety: a completion is completed once, from any thread.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <tuple>
#include <utility>

namespace leasekv::detail {

// A handler taking Args..., with the work of its executor counted until it is posted.
template <class... Args>
struct completion {
  virtual ~completion() = default;
  // Posts the handler to its associated executor with these arguments. Called at most once; never runs
  // the handler in place.
  virtual void complete(Args... args) = 0;
};

template <class Handler, class Executor, class... Args>
struct completion_impl final : completion<Args...> {
  completion_impl(Handler&& h, const Executor& ex) : handler(std::move(h)), work(ex) {}
  void complete(Args... args) override {
    auto ex = work.get_executor();
    boost::asio::post(ex, [h = std::move(handler), a = std::make_tuple(std::move(args)...)]() mutable {
      std::apply(h, std::move(a));
    });
    work.reset();
  }
  Handler handler;
  boost::asio::executor_work_guard<Executor> work;
};

// Wraps `h`; it runs on its associated executor, else on `fallback`.
template <class... Args, class Handler, class Fallback>
std::unique_ptr<completion<Args...>> make_completion(Handler&& h, const Fallback& fallback) {
  using handler_type = std::decay_t<Handler>;
  auto ex = boost::asio::get_associated_executor(h, fallback);
  return std::make_unique<completion_impl<handler_type, decltype(ex), Args...>>(std::forward<Handler>(h), ex);
}

}  // namespace leasekv::detail
