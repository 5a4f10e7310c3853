#include "recipes/queue_wait.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>

#include <cstdio>
#include <future>

namespace leasekv::recipes {

std::string session_key(std::string_view prefix, lease_id lease) {
  char hex[24];
  const auto magnitude = lease < 0 ? 0 - static_cast<unsigned long long>(lease) : static_cast<unsigned long long>(lease);
  std::snprintf(hex, sizeof hex, "%s%llx", lease < 0 ? "-" : "", magnitude);
  std::string key(prefix);
  key += hex;
  return key;
}

range_options first_created() {
  range_options o;
  o.order = sort_order::ascend;
  o.target = sort_target::create;
  o.limit = 1;
  return o;
}

range_options last_created_up_to(std::int64_t max_create_revision) {
  range_options o;
  o.order = sort_order::descend;
  o.target = sort_target::create;
  o.limit = 1;
  o.max_create_revision = max_create_revision;
  return o;
}

strand make_recipe_strand(const boost::asio::any_io_executor& ex) {
  return boost::asio::make_strand(ex ? ex : boost::asio::any_io_executor(boost::asio::system_executor()));
}

queue_wait::queue_wait(params p, handler h) : p_(std::move(p)), handler_(std::move(h)) {}

queue_wait::~queue_wait() {
  retire(own_);
  retire(predecessor_);
}

void queue_wait::start() {
  boost::asio::post(p_.on, [self = shared_from_this()] {
    if (self->done_) return;
    self->watch_own_key();
    if (self->done_) return;
    if (self->p_.deadline) {
      self->timer_ = std::make_unique<boost::asio::steady_timer>(self->p_.on, *self->p_.deadline);
      self->timer_->async_wait([w = self->weak_from_this()](boost::system::error_code ec) {
        auto s = w.lock();
        if (s && !ec) s->finish(error(boost::asio::error::timed_out));
      });
    }
    self->look();
  });
}

void queue_wait::cancel() {
  cancelled_.store(true);
  boost::asio::post(p_.on, [self = shared_from_this()] { self->finish(error(boost::asio::error::operation_aborted)); });
}

void queue_wait::watch_own_key() {
  watch_options o;
  o.start_revision = p_.read_revision + 1;
  o.no_put = true;
  auto w = on_store(p_.anchor, [&](store& s) {
    return s.watch(key_range(p_.my_key), o, p_.on, [self = weak_from_this()](const watch_response& r) {
      if (auto me = self.lock()) me->on_own_key(r);
    });
  });
  if (!w) {
    finish(w.error());
    return;
  }
  own_ = std::move(w).value();
}

void queue_wait::look() {
  if (done_) return;
  auto r = on_store(p_.anchor, [&](store& s) { return s.range(prefix(p_.prefix), last_created_up_to(p_.my_rev - 1)); });
  if (!r) {
    finish(r.error());
    return;
  }
  if (r.value().kvs.empty()) {
    confirm(r.value().header);
    return;
  }
  // The key just older than ours: wait for its delete, watching from the revision read so that a delete
  // after the read is not missed.
  watch_options o;
  o.start_revision = r.value().header.revision;
  o.no_put = true;
  auto w = on_store(p_.anchor, [&](store& s) {
    return s.watch(key_range(r.value().kvs.front().key), o, p_.on, [self = weak_from_this()](const watch_response& wr) {
      if (auto me = self.lock()) me->on_predecessor(wr);
    });
  });
  if (!w) {
    finish(w.error());
    return;
  }
  retire(predecessor_);
  predecessor_ = std::move(w).value();
}

namespace {
// The error a cancelled watch ends a wait with: clientv3's ErrCompacted for compacted history.
error cancel_error(const watch_response& r) {
  if (r.compact_revision != 0) return errc::compacted;
  return r.cancel_reason ? error(r.cancel_reason) : error(errc::watch_canceled);
}
}  // namespace

void queue_wait::on_predecessor(const watch_response& r) {
  if (done_) return;
  if (r.canceled) {
    finish(cancel_error(r));
    return;
  }
  for (const auto& e : r.events) {
    if (e.type == watch_event::kind::del) {
      look();
      return;
    }
  }
}

void queue_wait::on_own_key(const watch_response& r) {
  if (done_) return;
  if (r.canceled) {
    finish(cancel_error(r));
    return;
  }
  for (const auto& e : r.events) {
    if (e.type == watch_event::kind::del) {
      finish(error(errc::session_expired));
      return;
    }
  }
}

// The queue ahead is empty; the turn is ours only if our key is still the one we queued (its delete may
// be in flight to on_own_key).
void queue_wait::confirm(const response_header& h) {
  auto mine = on_store(p_.anchor, [&](store& s) { return s.get(p_.my_key); });
  if (!mine) {
    finish(mine.error());
    return;
  }
  if (mine.value().kvs.empty() || mine.value().kvs.front().create_revision != p_.my_rev) {
    finish(error(errc::session_expired));
    return;
  }
  finish(h);
}

void queue_wait::finish(result<response_header> r) {
  if (done_) return;
  done_ = true;
  if (cancelled_.load()) r = error(boost::asio::error::operation_aborted);
  retire(own_);
  retire(predecessor_);
  if (timer_) timer_->cancel();
  auto h = std::move(handler_);
  handler_ = nullptr;
  h(std::move(r));
}

// Cancels `w` and destroys it later on the strand: its handler may be running further up this stack.
void queue_wait::retire(std::unique_ptr<watcher>& w) {
  if (!w) return;
  w->cancel();
  boost::asio::post(p_.on, [dead = std::shared_ptr<watcher>(std::move(w))] {});
}

void pending_wait::begin() {
  base::lock_guard lock(mu_);
  cancel_requested_ = false;
}

bool pending_wait::cancelled() {
  base::lock_guard lock(mu_);
  return cancel_requested_;
}

void pending_wait::start(const std::shared_ptr<queue_wait>& w) {
  bool cancelled = false;
  {
    base::lock_guard lock(mu_);
    wait_ = w;
    cancelled = cancel_requested_;
  }
  w->start();
  if (cancelled) w->cancel();
}

void pending_wait::done() {
  base::lock_guard lock(mu_);
  wait_.reset();
}

void pending_wait::cancel() {
  base::lock_guard lock(mu_);
  cancel_requested_ = true;
  if (wait_) wait_->cancel();
}

result<void> wait_blocking(const std::function<void(std::unique_ptr<void_completion>)>& start) {
  auto done = std::make_shared<std::promise<boost::system::error_code>>();
  auto f = done->get_future();
  auto sys = boost::asio::system_executor();
  start(detail::make_completion<boost::system::error_code>(
      boost::asio::bind_executor(sys, [done](boost::system::error_code ec) { done->set_value(ec); }), sys));
  if (auto ec = f.get()) return error(ec);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

}  // namespace leasekv::recipes
