#include "watch/hub_watcher.hpp"

#include <boost/asio/error.hpp>

#include <mutex>

namespace leasekv::detail {

void hub_watcher::cancel() {
  if (auto hub = state_->hub.lock()) {
    hub->cancel(state_);
  } else {
    std::lock_guard handler_lock(state_->handler_mu);
    std::lock_guard lock(state_->mu);
    state_->cancelled = true;
  }
}

void hub_watcher::request_progress() {
  if (auto hub = state_->hub.lock()) hub->request_progress(state_);
}

void hub_watcher::start_next(std::unique_ptr<watch_completion> c) {
  if (auto hub = state_->hub.lock()) {
    hub->start_next(state_, std::move(c));
  } else {
    // The store is gone: close() ended every pull, so none is pending.
    std::lock_guard lock(state_->mu);
    watch_hub::set_pending(state_, std::move(c));
    watch_hub::complete_pending(*state_, boost::asio::error::operation_aborted, {});
  }
}

}  // namespace leasekv::detail
