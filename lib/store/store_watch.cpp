// The store's watch calls.
#include "store/store_impl.hpp"

#include "base/time_math.hpp"
#include "watch/hub_watcher.hpp"

#include <boost/asio/system_executor.hpp>

#include <string>

namespace leasekv {

result<std::unique_ptr<watcher>> embedded_store::watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                              watch_handler handler) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  if (r.key.empty()) r.key.assign(1, '\0');
  if (!r.range_end.empty() && r.range_end != std::string_view("\0", 1) && r.range_end <= r.key) {
    return errc::watch_range_empty;
  }
  if (o.start_revision < 0) {
    return error(errc::invalid_argument, "watch start revision must be >= 0 (0: from now), got " + std::to_string(o.start_revision));
  }
  if (!ex) ex = boost::asio::system_executor();
  std::shared_ptr<detail::watcher_state> st;
  clock::time_point progress_at;
  {
    write_lock lock(impl_->mu, impl_->waiting);
    // Under the lock: a watcher added after close() closed the hub would never be told anything.
    BOOST_OUTCOME_TRYV(impl_->check_open());
    st = impl_->hub->add(impl_->kv, r, o, ex, std::move(handler));
    if (o.progress_notify) {
      progress_at = base::saturating_add(impl_->clk->now(), base::saturating_duration(impl_->opts.watch_progress_interval));
      impl_->hub->schedule_progress(st, progress_at);
    }
  }
  if (o.progress_notify) impl_->poke(progress_at);
  return std::unique_ptr<watcher>(std::make_unique<detail::hub_watcher>(std::move(st), std::move(ex)));
}

}  // namespace leasekv
