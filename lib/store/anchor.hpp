// What outlives a store: the objects made from it (a txn_builder, a session) reach it through an anchor
// they share with it, never through a plain reference. The store's destructor detaches the anchor first,
// waiting for any call made through it to return; a call after that fails with errc::closed instead of
// touching freed memory.
//
// Thread safety: call() and detach() may be used from any thread. A call through the anchor must not
// destroy the store it reaches (detach() would wait for that call: a deadlock).
#pragma once

#include "leasekv/error.hpp"

#include <shared_mutex>
#include <type_traits>
#include <utility>

namespace leasekv {

class store;

namespace detail {

class store_anchor {
 public:
  explicit store_anchor(store& s) : target_(&s) {}
  store_anchor(const store_anchor&) = delete;
  store_anchor& operator=(const store_anchor&) = delete;

  // Returns f(store), or errc::closed once the store is gone. f returns a result<T>.
  template <class F>
  auto call(F&& f) -> std::invoke_result_t<F, store&> {
    std::shared_lock lock(mu_);
    if (target_ == nullptr) return errc::closed;
    return std::forward<F>(f)(*target_);
  }

  // Called by the store's destructor: waits for calls in progress; later calls fail with errc::closed.
  void detach() {
    std::unique_lock lock(mu_);
    target_ = nullptr;
  }

 private:
  std::shared_mutex mu_;
  store* target_;  // guarded by mu_
};

}  // namespace detail
}  // namespace leasekv
