// The embedded store's watcher: a handle on a watcher_state the watch hub feeds.
//
// Thread safety: as watcher's (any thread; cancel() also from inside the watcher's own handler).
#pragma once

#include "leasekv/watch.hpp"
#include "watch/watch_hub.hpp"

#include <memory>

namespace leasekv::detail {

class hub_watcher final : public watcher {
 public:
  hub_watcher(std::shared_ptr<watcher_state> s, boost::asio::any_io_executor ex)
      : watcher(std::move(ex)), state_(std::move(s)) {}
  ~hub_watcher() override { cancel(); }

  std::int64_t id() const override { return state_->id; }
  // Once the hub is gone (the store closed), only marks the state cancelled: nothing can deliver any more.
  void cancel() override;
  void request_progress() override;

 private:
  // Once the hub is gone, completes `c` with operation_aborted at once (through its executor).
  void start_next(std::unique_ptr<watch_completion> c) override;

  std::shared_ptr<watcher_state> state_;
};

}  // namespace leasekv::detail
