#include "watch/watch_hub.hpp"

#include "base/time_math.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include <algorithm>
#include <iterator>
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

// Delivers nothing more: cancelled by the user, or its executor's context is gone.
bool inactive(const detail::watcher_state& s) { return s.cancelled || s.gone; }

void raise_to(std::atomic<std::size_t>& max, std::size_t v) {
  std::size_t seen = max.load(std::memory_order_relaxed);
  while (v > seen && !max.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
  }
}

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

watch_hub::watcher_list* watch_hub::list_for(const detail::watcher_state& s) {
  switch (shape_of(s.range)) {
    case shape::key: return &by_key_[s.range.key];
    case shape::prefix: return &by_prefix_[s.range.key];
    case shape::range: return &ranged_;
  }
  return &ranged_;
}

watch_hub::watch_hub(runner run_locked, runner run_shared, std::function<response_header(std::int64_t)> header,
                     std::size_t max_pending_events)
    : run_locked_(std::move(run_locked)),
      run_shared_(std::move(run_shared)),
      header_(std::move(header)),
      max_pending_events_(std::max<std::size_t>(1, max_pending_events)) {}

watch_hub::catch_up_stats watch_hub::stats() const {
  return {holds_.load(), max_hold_records_.load(), max_hold_events_.load(), max_queued_events_.load()};
}

std::shared_ptr<detail::watcher_state> watch_hub::add(const mvcc::kv_store& kv, const key_range& r, const watch_options& o,
                                               boost::asio::any_io_executor ex, watch_handler cb) {
  auto s = std::make_shared<detail::watcher_state>();
  s->id = next_id_++;
  s->range = r;
  s->single_key = r.range_end.empty();
  s->opts = o;
  s->executor = std::move(ex);
  s->callback = std::move(cb);
  s->hub = weak_from_this();
  s->liveness = base::context_liveness::of(s->executor);
  s->context = &boost::asio::query(s->executor, boost::asio::execution::context);
  const std::int64_t cur = kv.current_revision();
  current_rev_.store(cur, std::memory_order_relaxed);
  if (o.start_revision == 0 || o.start_revision > cur) {
    s->synced = true;
    s->min_rev = o.start_revision;
  } else {
    s->next_rev = o.start_revision;
    s->read_from = {o.start_revision, 0};
  }
  list_for(*s)->push_back(s);
  if (shape_of(r) == shape::prefix) ++prefix_lengths_[r.key.size()];
  if (!s->synced) {
    std::lock_guard lock(s->mu);
    schedule_catch_up(s);
  }
  return s;
}

void watch_hub::remove(const detail::watcher_state* s) {
  const shape sh = shape_of(s->range);
  watcher_list* v = list_for(*s);
  const auto before = v->size();
  std::erase_if(*v, [s](const std::shared_ptr<detail::watcher_state>& x) { return x.get() == s; });
  if (sh == shape::prefix && v->size() < before) {
    if (--prefix_lengths_[s->range.key.size()] == 0) prefix_lengths_.erase(s->range.key.size());
  }
  if (v->empty()) {
    if (sh == shape::key) by_key_.erase(s->range.key);
    if (sh == shape::prefix) by_prefix_.erase(s->range.key);
  }
}

void watch_hub::push(detail::watcher_state& s, watch_response r) {
  s.queued_events += r.events.size();
  s.queue.push_back(std::move(r));
  raise_to(max_queued_events_, s.queued_events);
}

watch_response watch_hub::progress_response(const detail::watcher_state& s, std::int64_t rev) const {
  watch_response r;
  r.header = header_(rev);
  r.watch_id = s.id;
  return r;
}

void watch_hub::on_write(const mvcc::kv_store& kv, const std::vector<mvcc::change>& changes) {
  const std::int64_t rev = kv.current_revision();
  current_rev_.store(rev, std::memory_order_relaxed);
  if (empty() || changes.empty()) return;
  std::vector<std::shared_ptr<detail::watcher_state>> touched;
  for (const mvcc::change& c : changes) {
    const std::string_view key = c.entry->key();
    auto visit = [&](const std::shared_ptr<detail::watcher_state>& s) {
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
    if (inactive(*s) || s->finished) continue;
    s->active_since_progress = true;
    if (!s->synced || rev < s->min_rev) continue;
    if (!s->queue.empty() && s->queued_events + r.events.size() > max_pending_events_) {
      // A slow consumer: leave the live path; it catches up from history once it has drained.
      s->synced = false;
      s->next_rev = rev;
      s->read_from = {rev, 0};
      continue;
    }
    push(*s, std::move(r));
    kick(s);
  }
}

template <class Job>
bool watch_hub::post_job(const std::shared_ptr<detail::watcher_state>& s, Job&& job) {
  if (s->liveness->run_if_alive([&] { boost::asio::post(s->executor, std::forward<Job>(job)); })) return true;
  s->gone = true;
  s->queue.clear();
  s->queued_events = 0;
  s->carry.clear();
  if (s->pending) complete_pending(*s, boost::asio::error::operation_aborted, {});
  return false;
}

void watch_hub::complete_pending(detail::watcher_state& s, boost::system::error_code ec, watch_response r) {
  std::unique_ptr<watch_completion> c = std::move(s.pending);
  const std::shared_ptr<base::context_liveness> live = std::move(s.pending_liveness);
  s.pending_drop.reset();
  if (!live) {
    c->complete(ec, std::move(r));  // an executor without a context
    return;
  }
  // Refused only while that context shuts down, before its cleanup (which waits for s.mu, held here)
  // dropped c: destroying c now releases its work while the context still takes it.
  live->run_if_alive([&] { c->complete(ec, std::move(r)); });
}

void watch_hub::set_pending(const std::shared_ptr<detail::watcher_state>& s, std::unique_ptr<watch_completion> c) {
  boost::asio::execution_context* ctx = c->context();
  s->pending = std::move(c);
  if (ctx == nullptr) return;
  s->pending_liveness = ctx == s->context ? s->liveness : base::context_liveness::of(*ctx);
  const std::uint64_t seq = ++s->pending_seq;
  s->pending_drop = s->pending_liveness->on_shutdown([weak = std::weak_ptr<detail::watcher_state>(s), seq] {
    if (auto st = weak.lock()) {
      std::lock_guard lock(st->mu);
      if (st->pending && st->pending_seq == seq) {
        st->pending.reset();  // its handler and work, while the context still takes them back
        st->pending_liveness.reset();
      }
    }
  });
}

void watch_hub::kick(const std::shared_ptr<detail::watcher_state>& s) {
  if (inactive(*s)) return;
  if (s->callback) {
    if (!s->queue.empty()) {
      if (!s->drain_scheduled) {
        s->drain_scheduled = true;
        post_job(s, [self = shared_from_this(), s] { self->drain(s); });
      }
      return;
    }
  } else if (s->pending && !s->queue.empty()) {
    watch_response r = std::move(s->queue.front());
    s->queue.pop_front();
    s->queued_events -= r.events.size();
    if (r.canceled) s->ended = true;
    complete_pending(*s, {}, std::move(r));
  }
  if (s->queue.empty() && !s->synced && !s->finished) schedule_catch_up(s);
}

void watch_hub::schedule_catch_up(const std::shared_ptr<detail::watcher_state>& s) {
  if (s->catch_up_scheduled || inactive(*s) || s->finished) return;
  s->catch_up_scheduled = true;
  post_job(s, [self = shared_from_this(), s] {
    std::shared_lock alive(self->alive_mu_);
    if (!self->alive_) return;
    self->run_shared_([&](const mvcc::kv_store& kv) { self->catch_up(kv, s); });
  });
}

void watch_hub::catch_up(const mvcc::kv_store& kv, const std::shared_ptr<detail::watcher_state>& s) {
  std::lock_guard lock(s->mu);
  s->catch_up_scheduled = false;
  if (inactive(*s) || s->finished || s->synced) return;
  if (s->next_rev < kv.compacted_revision()) {
    watch_response r;
    r.header = header_(0);  // etcd leaves the revision unset on a compaction cancel
    r.watch_id = s->id;
    r.canceled = true;
    r.compact_revision = kv.compacted_revision();
    r.cancel_reason = errc::compacted;
    s->finished = true;
    s->carry.clear();
    push(*s, std::move(r));
    kick(s);
    return;
  }
  // From here on only records >= next_rev >= the compacted revision are read: the log holds nothing
  // compaction frees (change_log.hpp), and no write runs while this hold lasts.
  const std::int64_t cur = kv.current_revision();
  const mvcc::change_log& log = kv.log();
  std::uint64_t pos = log.lower_bound(s->read_from);
  watch_response r;
  r.header = header_(cur);
  r.watch_id = s->id;
  std::size_t revisions = 0;
  // Queues the carried revision (complete: the log has moved past it), if the budget allows.
  auto queue_carry = [&] {
    if (s->carry.empty()) return true;
    const std::size_t held = s->queued_events + r.events.size();
    if (held > 0 && held + s->carry.size() > max_pending_events_) return false;
    std::move(s->carry.begin(), s->carry.end(), std::back_inserter(r.events));
    s->carry.clear();
    if (++revisions == max_revisions_per_response) {
      push(*s, std::move(r));
      r = watch_response{};
      r.header = header_(cur);
      r.watch_id = s->id;
      revisions = 0;
    }
    return true;
  };
  std::size_t records = 0;
  std::size_t made = 0;
  bool caught_up = false;
  for (;;) {
    const std::int64_t main = pos < log.end() ? log.at(pos).version->mod_main : cur + 1;
    if (main != s->next_rev) {
      if (!queue_carry()) break;  // over budget: the rest once the consumer has drained
      s->next_rev = main;
    }
    if (pos == log.end()) {
      caught_up = true;
      break;
    }
    if (records == catch_up_hold_records || made == catch_up_hold_events) break;
    if (pos + 8 < log.end()) {
      __builtin_prefetch(log.at(pos + 8).entry);
      __builtin_prefetch(log.at(pos + 8).version);
    }
    const mvcc::change_log::record& rec = log.at(pos);
    ++records;
    if ((s->single_key ? rec.entry->key() == s->range.key : in_range(s->range, rec.entry->key())) &&
        !filtered(s->opts, *rec.version)) {
      s->carry.push_back(make_event(*rec.entry, *rec.version, rec.version->older, s->opts.prev_kv));
      ++made;
    }
    ++pos;
  }
  if (!r.events.empty()) push(*s, std::move(r));
  holds_.fetch_add(1, std::memory_order_relaxed);
  raise_to(max_hold_records_, records);
  raise_to(max_hold_events_, made);
  if (caught_up) {
    // Still under the lock: the next write group reaches this watcher live.
    s->synced = true;
    s->min_rev = 0;
    s->next_rev = cur + 1;
    if (s->progress_requested) {
      s->progress_requested = false;
      push(*s, progress_response(*s, cur));
    }
  } else {
    s->read_from = pos < log.end() ? log.at(pos).version->rev() : mvcc::revision{cur + 1, 0};
  }
  kick(s);
}

void watch_hub::drain(const std::shared_ptr<detail::watcher_state>& s) {
  std::lock_guard handler_lock(s->handler_mu);
  for (int n = 0; n < responses_per_drain; ++n) {
    watch_response r;
    {
      std::lock_guard lock(s->mu);
      if (inactive(*s)) {
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
  std::lock_guard lock(s->mu);
  post_job(s, [self = shared_from_this(), s] { self->drain(s); });
}

void watch_hub::start_next(const std::shared_ptr<detail::watcher_state>& s, std::unique_ptr<watch_completion> c) {
  std::lock_guard lock(s->mu);
  if (s->pending) {
    // One async_next at a time. Completed on the spot, as before: its context is the caller's.
    c->complete(errc::invalid_argument, {});
    return;
  }
  set_pending(s, std::move(c));
  if (inactive(*s)) {
    complete_pending(*s, boost::asio::error::operation_aborted, {});
  } else if (s->queue.empty() && s->ended) {
    complete_pending(*s, errc::watch_canceled, {});
  } else {
    kick(s);
  }
}

void watch_hub::cancel(const std::shared_ptr<detail::watcher_state>& s) {
  {
    std::lock_guard handler_lock(s->handler_mu);  // waits for a callback in progress (unless it is ours)
    std::lock_guard lock(s->mu);
    if (s->cancelled) return;
    s->cancelled = true;
    if (s->pending) complete_pending(*s, boost::asio::error::operation_aborted, {});
  }
  std::shared_lock alive(alive_mu_);
  if (!alive_) return;
  run_locked_([&](const mvcc::kv_store&) { remove(s.get()); });
}

void watch_hub::request_progress(const std::shared_ptr<detail::watcher_state>& s) {
  std::shared_lock alive(alive_mu_);
  if (!alive_) return;
  run_locked_([&](const mvcc::kv_store& kv) {
    std::lock_guard lock(s->mu);
    if (inactive(*s) || s->finished) return;
    if (s->synced) {
      push(*s, progress_response(*s, kv.current_revision()));
      kick(s);
    } else {
      s->progress_requested = true;
    }
  });
}

void watch_hub::notify_progress(const mvcc::kv_store& kv, const std::shared_ptr<detail::watcher_state>& s) {
  std::lock_guard lock(s->mu);
  if (inactive(*s) || s->finished) return;
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
  auto end_all = [](const std::shared_ptr<detail::watcher_state>& s) {
    std::lock_guard lock(s->mu);
    s->cancelled = true;
    if (s->pending) complete_pending(*s, boost::asio::error::operation_aborted, {});
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

void watch_hub::schedule_progress(const std::shared_ptr<watcher_state>& s, clock::time_point at) {
  progress_timers_.emplace(std::make_pair(at, progress_seq_++), s);
}

std::optional<clock::time_point> watch_hub::next_progress() const {
  if (progress_timers_.empty()) return std::nullopt;
  return progress_timers_.begin()->first.first;
}

void watch_hub::run_next_progress(const mvcc::kv_store& kv, std::chrono::milliseconds interval) {
  auto node = progress_timers_.extract(progress_timers_.begin());
  if (auto w = node.mapped().lock()) {
    notify_progress(kv, w);
    schedule_progress(w, base::saturating_add(node.key().first, base::saturating_duration(interval)));
  }
}

}  // namespace leasekv::detail
