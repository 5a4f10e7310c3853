// The store's watch calls.
#include "store/store_impl.hpp"

#include "base/time_math.hpp"

#include <boost/asio/system_executor.hpp>

#include <string>

namespace leasekv {

result<std::unique_ptr<watcher>> store::watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                              watch_handler handler) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  if (r.key.empty()) r.key.assign(1, '\0');
  if (!r.range_end.empty() && r.range_end != std::string_view("\0", 1) && r.range_end <= r.key) {
    return errc::watch_range_empty;
  }
  if (o.start_revision < 0) {
    set_last_error_detail("watch start revision must be >= 0 (0: from now), got " + std::to_string(o.start_revision));
    return errc::invalid_argument;
  }
  if (!ex) ex = boost::asio::system_executor();
  std::shared_ptr<watcher::state> st;
  clock::time_point progress_at;
  {
    write_lock lock(impl_->mu, impl_->waiting);
    // Under the lock: a watcher added after close() closed the hub would never be told anything.
    BOOST_OUTCOME_TRYV(impl_->check_open());
    st = impl_->hub->add(impl_->kv, r, o, ex, std::move(handler));
    if (o.progress_notify) {
      progress_at = base::saturating_add(impl_->clk->now(), base::saturating_duration(impl_->opts.watch_progress_interval));
      impl_->progress_timers.emplace(std::make_pair(progress_at, impl_->renewal_seq++), st);
    }
  }
  if (o.progress_notify) impl_->poke(progress_at);
  return std::make_unique<watcher>(std::move(st), std::move(ex));
}

result<std::unique_ptr<watcher>> store::watch(key_range r, watch_options o, boost::asio::any_io_executor ex) {
  return watch(std::move(r), o, std::move(ex), nullptr);
}

}  // namespace leasekv
