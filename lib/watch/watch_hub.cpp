#include "watch/watch_hub.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>
#include <utility>

namespace leasekv::detail {

namespace {

// etcd sends at most this many revisions in one catch-up response.
constexpr std::size_t max_revisions_per_response = 1000;
// A callback drain delivers at most this many responses before yielding its executor.
constexpr int responses_per_drain = 64;

watch_event make_event(const mvcc::key_entry& e, const mvcc::key_version& v, const mvcc::key_version* prev, bool with_prev) {
  watch_event ev;
  ev.type = v.tombstone() ? watch_event::kind::del : watch_event::kind::put;
  ev.kv = mvcc::to_key_value(e, v);
  if (with_prev && prev != nullptr && !prev->tombstone()) ev.prev_kv = mvcc::to_key_value(e, *prev);
  return ev;
}

bool filtered(const watch_options& o, const mvcc::key_version& v) { return v.tombstone() ? o.no_delete : o.no_put; }

}  // namespace

bool in_range(const key_range& r, std::string_view key) {
  if (r.range_end.empty()) return key == r.key;
  if (r.range_end == std::string_view("\0", 1)) return key >= r.key;
  return key >= r.key && key < r.range_end;
}

watch_hub::shape watch_hub::shape_of(const key_range& r) {
  if (r.range_end.empty()) return shape::key;
  if (r.range_end != std::string_view("\0", 1) && r.range_end == prefix_end(r.key)) return shape::prefix;
  return shape::range;
}

watch_hub::watcher_list* watch_hub::list_for(const watcher::state& s) {
  switch (shape_of(s.range)) {
    case shape::key: return &by_key_[s.range.key];
    case shape::prefix: return &by_prefix_[s.range.key];
    case shape::range: return &ranged_;
  }
  return &ranged_;
}

watch_hub::watch_hub(std::function<void(const locked_fn&)> run_locked, std::function<response_header(std::int64_t)> header,
                     std::size_t max_pending_events)
    : run_locked_(std::move(run_locked)), header_(std::move(header)), max_pending_events_(std::max<std::size_t>(1, max_pending_events)) {}

std::shared_ptr<watcher::state> watch_hub::add(const mvcc::kv_store& kv, const key_range& r, const watch_options& o,
                                               boost::asio::any_io_executor ex, watch_handler cb) {
  auto s = std::make_shared<watcher::state>();
  s->id = next_id_++;
  s->range = r;
  s->single_key = r.range_end.empty();
  s->opts = o;
  s->executor = std::move(ex);
  s->callback = std::move(cb);
  s->hub = weak_from_this();
  const std::int64_t cur = kv.current_revision();
  current_rev_.store(cur, std::memory_order_relaxed);
  if (o.start_revision == 0 || o.start_revision > cur) {
    s->synced = true;
    s->min_rev = o.start_revision;
  } else {
    s->next_rev = o.start_revision;
  }
  list_for(*s)->push_back(s);
  if (shape_of(r) == shape::prefix) ++prefix_lengths_[r.key.size()];
  if (!s->synced) {
    std::lock_guard lock(s->mu);
    schedule_catch_up(s);
  }
  return s;
}

void watch_hub::remove(const watcher::state* s) {
  const shape sh = shape_of(s->range);
  watcher_list* v = list_for(*s);
  const auto before = v->size();
  std::erase_if(*v, [s](const std::shared_ptr<watcher::state>& x) { return x.get() == s; });
  if (sh == shape::prefix && v->size() < before) {
    if (--prefix_lengths_[s->range.key.size()] == 0) prefix_lengths_.erase(s->range.key.size());
  }
  if (v->empty()) {
    if (sh == shape::key) by_key_.erase(s->range.key);
    if (sh == shape::prefix) by_prefix_.erase(s->range.key);
  }
}

void watch_hub::push(watcher::state& s, watch_response r) {
  s.queued_events += r.events.size();
  s.queue.push_back(std::move(r));
}

watch_response watch_hub::progress_response(const watcher::state& s, std::int64_t rev) const {
  watch_response r;
  r.header = header_(rev);
  r.watch_id = s.id;
  return r;
}

void watch_hub::on_write(const mvcc::kv_store& kv, const std::vector<mvcc::change>& changes) {
  const std::int64_t rev = kv.current_revision();
  current_rev_.store(rev, std::memory_order_relaxed);
  if (empty() || changes.empty()) return;
  std::vector<std::shared_ptr<watcher::state>> touched;
  for (const mvcc::change& c : changes) {
    const std::string_view key = c.entry->key();
    auto visit = [&](const std::shared_ptr<watcher::state>& s) {
      if (!s->single_key && !in_range(s->range, key)) return;
      if (filtered(s->opts, *c.version)) return;
      if (s->scratch.empty()) touched.push_back(s);
      s->scratch.push_back(make_event(*c.entry, *c.version, c.prev, s->opts.prev_kv));
    };
    if (!by_key_.empty()) {
      if (auto it = by_key_.find(key); it != by_key_.end()) {
        for (const auto& s : it->second) visit(s);
      }
    }
    for (const auto& [length, count] : prefix_lengths_) {
      if (length > key.size()) break;
      if (auto it = by_prefix_.find(key.substr(0, length)); it != by_prefix_.end()) {
        for (const auto& s : it->second) visit(s);
      }
    }
    for (const auto& s : ranged_) visit(s);
  }
  for (const auto& s : touched) {
    watch_response r;
    r.header = header_(rev);
    r.watch_id = s->id;
    r.events = std::move(s->scratch);
    s->scratch.clear();
    std::lock_guard lock(s->mu);
    if (s->cancelled || s->finished) continue;
    s->active_since_progress = true;
    if (!s->synced || rev < s->min_rev) continue;
    if (!s->queue.empty() && s->queued_events + r.events.size() > max_pending_events_) {
      // A slow consumer: leave the live path; it catches up from history once it has drained.
      s->synced = false;
      s->next_rev = rev;
      continue;
    }
    push(*s, std::move(r));
    kick(s);
  }
}

void watch_hub::kick(const std::shared_ptr<watcher::state>& s) {
  if (s->cancelled) return;
  if (s->callback) {
    if (!s->queue.empty()) {
      if (!s->drain_scheduled) {
        s->drain_scheduled = true;
        boost::asio::post(s->executor, [self = shared_from_this(), s] { self->drain(s); });
      }
      return;
    }
  } else if (s->pending && !s->queue.empty()) {
    watch_response r = std::move(s->queue.front());
    s->queue.pop_front();
    s->queued_events -= r.events.size();
    if (r.canceled) s->ended = true;
    s->pending->complete({}, std::move(r));
    s->pending.reset();
  }
  if (s->queue.empty() && !s->synced && !s->finished) schedule_catch_up(s);
}

void watch_hub::schedule_catch_up(const std::shared_ptr<watcher::state>& s) {
  if (s->catch_up_scheduled || s->cancelled || s->finished) return;
  s->catch_up_scheduled = true;
  boost::asio::post(s->executor, [self = shared_from_this(), s] {
    std::shared_lock alive(self->alive_mu_);
    if (!self->alive_) return;
    self->run_locked_([&](const mvcc::kv_store& kv) { self->catch_up(kv, s); });
  });
}

void watch_hub::catch_up(const mvcc::kv_store& kv, const std::shared_ptr<watcher::state>& s) {
  std::lock_guard lock(s->mu);
  s->catch_up_scheduled = false;
  if (s->cancelled || s->finished || s->synced) return;
  if (s->next_rev < kv.compacted_revision()) {
    watch_response r;
    r.header = header_(0);  // etcd leaves the revision unset on a compaction cancel
    r.watch_id = s->id;
    r.canceled = true;
    r.compact_revision = kv.compacted_revision();
    r.cancel_reason = errc::compacted;
    s->finished = true;
    push(*s, std::move(r));
    kick(s);
    return;
  }
  const std::int64_t cur = kv.current_revision();
  struct replayed {
    mvcc::revision rev;
    watch_event event;
  };
  std::vector<replayed> events;
  kv.for_each_entry(s->range, [&](const mvcc::key_entry& e) {
    for (const mvcc::key_version* v = e.head; v != nullptr && v->mod_main >= s->next_rev; v = v->older) {
      if (v->mod_main > cur || filtered(s->opts, *v)) continue;
      events.push_back({v->rev(), make_event(e, *v, v->older, s->opts.prev_kv)});
    }
    return true;
  });
  std::sort(events.begin(), events.end(), [](const replayed& a, const replayed& b) { return a.rev < b.rev; });

  // Queue whole revisions, at most max_revisions_per_response per response, within the pending budget.
  std::size_t i = 0;
  bool budget_left = true;
  while (i < events.size() && budget_left) {
    watch_response r;
    r.header = header_(cur);
    r.watch_id = s->id;
    std::size_t revisions = 0;
    while (i < events.size() && revisions < max_revisions_per_response) {
      std::size_t j = i;
      while (j < events.size() && events[j].rev.main == events[i].rev.main) ++j;
      const std::size_t n = j - i;
      if (s->queued_events + r.events.size() + n > max_pending_events_ && (s->queued_events + r.events.size()) > 0) {
        budget_left = false;
        break;
      }
      for (; i < j; ++i) r.events.push_back(std::move(events[i].event));
      ++revisions;
    }
    if (!r.events.empty()) push(*s, std::move(r));
  }
  if (i < events.size()) {
    s->next_rev = events[i].rev.main;  // the rest when the consumer has drained this
  } else {
    s->synced = true;
    s->min_rev = 0;
    s->next_rev = cur + 1;
    if (s->progress_requested) {
      s->progress_requested = false;
      push(*s, progress_response(*s, cur));
    }
  }
  kick(s);
}

void watch_hub::drain(const std::shared_ptr<watcher::state>& s) {
  std::lock_guard handler_lock(s->handler_mu);
  for (int n = 0; n < responses_per_drain; ++n) {
    watch_response r;
    {
      std::lock_guard lock(s->mu);
      if (s->cancelled) {
        s->drain_scheduled = false;
        return;
      }
      if (s->queue.empty()) {
        s->drain_scheduled = false;
        if (!s->synced && !s->finished) schedule_catch_up(s);
        return;
      }
      r = std::move(s->queue.front());
      s->queue.pop_front();
      s->queued_events -= r.events.size();
    }
    s->callback(r);
    if (r.canceled) {
      std::lock_guard lock(s->mu);
      s->ended = true;
      s->drain_scheduled = false;
      return;
    }
  }
  boost::asio::post(s->executor, [self = shared_from_this(), s] { self->drain(s); });
}

void watch_hub::start_next(const std::shared_ptr<watcher::state>& s, std::unique_ptr<watch_completion> c) {
  std::lock_guard lock(s->mu);
  if (s->cancelled) {
    c->complete(boost::asio::error::operation_aborted, {});
    return;
  }
  if (s->pending) {
    c->complete(errc::invalid_argument, {});  // one async_next at a time
    return;
  }
  if (s->queue.empty() && s->ended) {
    c->complete(errc::watch_canceled, {});
    return;
  }
  s->pending = std::move(c);
  kick(s);
}

void watch_hub::cancel(const std::shared_ptr<watcher::state>& s) {
  {
    std::lock_guard handler_lock(s->handler_mu);  // waits for a callback in progress (unless it is ours)
    std::lock_guard lock(s->mu);
    if (s->cancelled) return;
    s->cancelled = true;
    if (s->pending) {
      s->pending->complete(boost::asio::error::operation_aborted, {});
      s->pending.reset();
    }
  }
  std::shared_lock alive(alive_mu_);
  if (!alive_) return;
  run_locked_([&](const mvcc::kv_store&) { remove(s.get()); });
}

void watch_hub::request_progress(const std::shared_ptr<watcher::state>& s) {
  std::shared_lock alive(alive_mu_);
  if (!alive_) return;
  run_locked_([&](const mvcc::kv_store& kv) {
    std::lock_guard lock(s->mu);
    if (s->cancelled || s->finished) return;
    if (s->synced) {
      push(*s, progress_response(*s, kv.current_revision()));
      kick(s);
    } else {
      s->progress_requested = true;
    }
  });
}

void watch_hub::notify_progress(const mvcc::kv_store& kv, const std::shared_ptr<watcher::state>& s) {
  std::lock_guard lock(s->mu);
  if (s->cancelled || s->finished) return;
  if (!s->active_since_progress && s->synced && s->queue.empty()) {
    push(*s, progress_response(*s, kv.current_revision()));
    kick(s);
  }
  s->active_since_progress = false;
}

void watch_hub::close() {
  std::unique_lock alive(alive_mu_);  // waits for running jobs
  if (!alive_) return;
  // Nothing can be delivered any more: pending pulls end now, so their executors' work is released.
  auto end_all = [](const std::shared_ptr<watcher::state>& s) {
    std::lock_guard lock(s->mu);
    s->cancelled = true;
    if (s->pending) {
      s->pending->complete(boost::asio::error::operation_aborted, {});
      s->pending.reset();
    }
  };
  run_locked_([&](const mvcc::kv_store&) {
    for (const index* idx : {&by_key_, &by_prefix_}) {
      for (const auto& [key, v] : *idx) {
        for (const auto& s : v) end_all(s);
      }
    }
    for (const auto& s : ranged_) end_all(s);
    by_key_.clear();
    by_prefix_.clear();
    prefix_lengths_.clear();
    ranged_.clear();
  });
  alive_ = false;
}

}  // namespace leasekv::detail

namespace leasekv {

std::int64_t watcher::id() const { return state_->id; }

void watcher::cancel() {
  if (auto hub = state_->hub.lock()) {
    hub->cancel(state_);
  } else {
    std::lock_guard handler_lock(state_->handler_mu);
    std::lock_guard lock(state_->mu);
    state_->cancelled = true;
  }
}

void watcher::request_progress() {
  if (auto hub = state_->hub.lock()) hub->request_progress(state_);
}

void watcher::start_next(std::unique_ptr<detail::watch_completion> c) {
  if (auto hub = state_->hub.lock()) {
    hub->start_next(state_, std::move(c));
  } else {
    c->complete(boost::asio::error::operation_aborted, {});
  }
}

}  // namespace leasekv
