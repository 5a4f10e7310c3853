// The store's lease calls, keep-alive streams, and the processing of everything that comes due in time.
#include "store/store_impl.hpp"

#include "base/time_math.hpp"

#include <boost/asio/system_executor.hpp>

#include <algorithm>

namespace leasekv {

namespace {

std::int64_t whole_seconds(std::chrono::milliseconds d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

storage::lease_op_record lease_op(storage::lease_op_kind kind, lease_id id) {
  storage::lease_op_record op;
  op.kind = kind;
  op.id = id;
  return op;
}

}  // namespace

// key_deleter: the lessor revoking a lease. It runs inside lessor calls made under `mu`, while the lease
// is still whole: after_write() detaches the deleted keys from it, as after any delete, and the lessor
// erases the lease once this succeeded.
result<void> embedded_store::impl::delete_lease_keys(lease_id id, std::vector<lease::key_ref>& keys) {
  // In key order, as etcd deletes them: the revision's events and log record are the same every time.
  std::sort(keys.begin(), keys.end(), [](lease::key_ref a, lease::key_ref b) { return a->key() < b->key(); });
  kv.begin_write();
  for (lease::key_ref e : keys) kv.delete_entry(e);
  storage::entry_record rec;
  rec.lease_ops.push_back(lease_op(storage::lease_op_kind::revoke, id));
  BOOST_OUTCOME_TRYV(commit(std::move(rec), true));
  kv.end_write();
  after_write();
  end_keep_alives(id);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<const lease::lease_record*> embedded_store::impl::renew(lease_id id, clock::time_point now) {
  // An expired lease not yet revoked is revoked here (lease_not_found): it is never resurrected.
  clock::time_point before;
  BOOST_OUTCOME_TRY(renewed, lessor.renew(id, now, &before));
  if (!dir) return renewed;  // memory only: no record to build
  auto op = lease_op(storage::lease_op_kind::renew, id);
  op.deadline_wall_ms = to_wall_ms(renewed->expires_at);
  storage::entry_record r;
  r.lease_ops.push_back(op);
  if (auto c = commit(std::move(r), false); !c) {
    lessor.set_deadline(id, before);
    return c.error();
  }
  return renewed;
}

lease_keep_alive_response embedded_store::impl::keep_alive_response(const lease::lease_record& rec) const {
  lease_keep_alive_response out;
  out.header = header(kv.current_revision());
  out.id = rec.id;
  out.granted = rec.ttl;
  out.ttl = whole_seconds(rec.ttl);
  return out;
}

// The lease of these streams is gone: each gets lease_not_found once and stops.
void embedded_store::impl::end_keep_alives(lease_id id) {
  if (keep_alives.empty()) return;
  const response_header at = header(kv.current_revision());
  keep_alives.remove_lease(id, [&](const std::shared_ptr<detail::keep_alive_state>& s) {
    lease_keep_alive_response gone;
    gone.header = at;
    gone.id = id;
    detail::keep_alive_state::deliver(s, errc::lease_not_found, std::move(gone));
  });
}

// Renews the earliest keep-alive stream at its scheduled time `at`.
void embedded_store::impl::renew_next(clock::time_point at) {
  std::shared_ptr<detail::keep_alive_state> s = keep_alives.take_next();
  if (s->cancelled.load(std::memory_order_acquire)) return;
  auto rec = renew(s->id, at);
  if (!rec) {
    // lease_not_found: end_keep_alives() told the stream already. Anything else (a failed write) ends it.
    if (rec.error() != errc::lease_not_found) {
      lease_keep_alive_response failed;
      failed.id = s->id;
      detail::keep_alive_state::deliver(s, rec.error(), std::move(failed));
    }
    return;
  }
  detail::keep_alive_state::deliver(s, {}, keep_alive_response(*rec.value()));
  const clock::time_point next = base::saturating_add(at, s->interval);
  keep_alives.add(std::move(s), next);
}

// Handles everything due by `target` in time order: lease expiries (at most expiry_batch leases and
// expiry_hold_work per hold of the lock), keep-alive renewals and progress notifications, each at its own
// scheduled time. At equal times the expiry comes first: a lease is expired once its deadline is reached.
// A read-only store expires nothing (the writer does, and the reader sees it on refresh()): it handles
// only its watchers' progress notifications, and next_event() does not report its leases' deadlines —
// an overdue lease it cannot revoke would otherwise re-arm the timer at the same instant for ever.
void embedded_store::impl::process_due(clock::time_point target) {
  const lock_queue::counted draining(waiting.draining);
  std::vector<lease_id> due;
  for (;;) {
    due.clear();
    std::uint64_t lsn = 0;
    {
      background_lock lock(mu, waiting);  // announced, like the batches: a writer in a loop must not starve it
      const std::optional<clock::time_point> timed = next_timed();
      const clock::time_point limit = timed && *timed < target ? *timed : target;
      if (opts.read_only || !lessor.pop_due(limit, due)) {
        if (!timed || *timed > target) return;
        run_next_timed();
        maybe_snapshot();
        lsn = last_lsn;
      }
    }
    const std::size_t batch = std::max<std::size_t>(1, opts.tuning.expiry_batch);
    for (std::size_t i = 0; i < due.size();) {
      {
        background_lock lock(mu, waiting);
        // At most `batch` leases and expiry_hold_work per hold of the lock: handing the lock over costs
        // tens of microseconds here, so the batch is as large as writers can wait for.
        const std::size_t stop = std::min(due.size(), i + batch);
        std::size_t work = 0;
        do {
          // A keep-alive may have revoked it meanwhile (its deadline had passed). A failed write leaves
          // the lease to be retried by the lessor.
          if (const lease::lease_record* rec = lessor.find(due[i])) {
            work += 1 + (rec->keys ? rec->keys->size() : 0);
            (void)lessor.revoke(due[i]);
          }
          ++i;
        } while (i < stop && work < expiry_hold_work);
        maybe_snapshot();
        lsn = last_lsn;
      }
      (void)durable(lsn);
      let_writers_through();
    }
    if (due.empty()) (void)durable(lsn);
  }
}

// The earliest keep-alive renewal or progress notification.
std::optional<clock::time_point> embedded_store::impl::next_timed() const {
  std::optional<clock::time_point> at = hub->next_progress();
  if (!keep_alives.empty() && (!at || keep_alives.next_time() < *at)) at = keep_alives.next_time();
  return at;
}

void embedded_store::impl::run_next_timed() {
  const std::optional<clock::time_point> progress = hub->next_progress();
  if (progress && (keep_alives.empty() || *progress < keep_alives.next_time())) {
    hub->run_next_progress(kv, opts.watch_progress_interval);
    return;
  }
  renew_next(keep_alives.next_time());
}

// Between batches of background work: see lock_queue::let_writers_through.
void embedded_store::impl::let_writers_through() const { waiting.let_writers_through(); }

std::optional<clock::time_point> embedded_store::impl::next_event() const {
  read_lock lock(mu, waiting);
  auto at = opts.read_only ? std::nullopt : lessor.next_event();
  const auto timed = next_timed();
  if (timed && (!at || *timed < *at)) at = timed;
  return at;
}

// Starts the watch hub and the processing of what comes due: through the manual clock, or a timer.
void embedded_store::impl::start() {
  kv.end_restore();  // the change log in revision order, for watchers replaying history
  hub = std::make_shared<detail::watch_hub>(
      [this](const detail::watch_hub::locked_fn& fn) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
        write_lock lock(mu, waiting);
        fn(kv);
      },
      [this](const detail::watch_hub::locked_fn& fn) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
        let_writers_through();  // a catch-up batch is background work: waiting writers go first
        read_lock lock(mu, waiting);
        fn(kv);
      },
      [this](std::int64_t rev) { return header(rev); }, opts.tuning.watch_max_pending_events);
  if (clk->is_manual()) {
    subscription = static_cast<manual_clock&>(*clk).subscribe([this](clock::time_point now) { process_due(now); });
  } else {
    driver = std::make_unique<detail::expiry_driver>(
        opts.executor, [this](clock::time_point now) { process_due(now); }, [this] { return next_event(); }, *clk);
  }
}

// ---- the public lease calls ----

result<lease_grant_response> embedded_store::grant(std::chrono::milliseconds ttl, lease_id id) {
  BOOST_OUTCOME_TRYV(impl_->check_writable());
  lease_grant_response out;
  clock::time_point deadline;
  std::uint64_t lsn = 0;
  {
    write_lock lock(impl_->mu, impl_->waiting);
    BOOST_OUTCOME_TRYV(impl_->check_open());  // under the lock: see store::close()
    BOOST_OUTCOME_TRYV(impl_->check_quota(mvcc::kv_store::version_overhead));
    auto& lessor = impl_->lessor;
    if (id == no_lease) {
      // Unique, positive, non-zero, and not a counter (etcd's ids look random too).
      id = lessor.new_id(detail::random_id());
    }
    BOOST_OUTCOME_TRY(rec, lessor.grant(id, ttl, impl_->clk->now()));
    if (impl_->dir) {  // memory only: no record to build
      auto op = lease_op(storage::lease_op_kind::grant, id);
      op.ttl_ms = rec->ttl.count();
      op.deadline_wall_ms = impl_->to_wall_ms(rec->expires_at);
      storage::entry_record r;
      r.lease_ops.push_back(op);
      if (auto c = impl_->commit(std::move(r), false); !c) {
        lessor.forget(id);
        return c.error();
      }
    }
    out.header = impl_->header(impl_->kv.current_revision());
    out.id = rec->id;
    out.granted = rec->ttl;
    out.ttl = whole_seconds(rec->ttl);
    deadline = rec->expires_at;
    impl_->maybe_snapshot();
    lsn = impl_->last_lsn;
  }
  BOOST_OUTCOME_TRYV(impl_->durable(lsn));
  impl_->poke(deadline);
  return out;
}

result<lease_revoke_response> embedded_store::revoke(lease_id id) {
  BOOST_OUTCOME_TRYV(impl_->check_writable());
  lease_revoke_response out;
  std::uint64_t lsn = 0;
  {
    write_lock lock(impl_->mu, impl_->waiting);
    BOOST_OUTCOME_TRYV(impl_->check_open());
    BOOST_OUTCOME_TRYV(impl_->lessor.revoke(id));
    out.header = impl_->header(impl_->kv.current_revision());
    impl_->maybe_snapshot();
    lsn = impl_->last_lsn;
  }
  BOOST_OUTCOME_TRYV(impl_->durable(lsn));
  return out;
}

result<lease_keep_alive_response> embedded_store::keep_alive_once(lease_id id) {
  // First of all: the lease's cache miss overlaps everything up to its lookup, and the tail of the call
  // before (in a loop of renewals, two misses are in flight rather than one).
  impl_->prefetch_lease(id);
  BOOST_OUTCOME_TRYV(impl_->check_writable());
  lease_keep_alive_response out;
  std::uint64_t lsn = 0;
  {
    write_lock lock(impl_->mu, impl_->waiting);
    BOOST_OUTCOME_TRYV(impl_->check_open());
    BOOST_OUTCOME_TRY(rec, impl_->renew(id, impl_->clk->now()));
    out = impl_->keep_alive_response(*rec);
    impl_->maybe_snapshot();
    lsn = impl_->last_lsn;
  }
  BOOST_OUTCOME_TRYV(impl_->durable(lsn));
  return out;
}

result<std::unique_ptr<keep_alive>> embedded_store::start_keep_alive(lease_id id, boost::asio::any_io_executor ex,
                                                                     keep_alive_handler handler) {
  auto& st = *impl_;
  BOOST_OUTCOME_TRYV(st.check_writable());
  auto s = std::make_shared<detail::keep_alive_state>();
  s->id = id;
  s->executor = ex ? std::move(ex) : boost::asio::any_io_executor(boost::asio::system_executor());
  s->context = base::context_liveness::of(s->executor);
  s->handler = std::move(handler);
  clock::time_point next;
  std::uint64_t lsn = 0;
  {
    write_lock lock(st.mu, st.waiting);
    BOOST_OUTCOME_TRYV(st.check_open());
    const clock::time_point now = st.clk->now();
    BOOST_OUTCOME_TRY(rec, st.renew(id, now));
    // etcd's client renews every TTL/3.
    s->interval = std::max(std::chrono::milliseconds(1), rec->ttl / 3);
    detail::keep_alive_state::deliver(s, {}, st.keep_alive_response(*rec));
    next = base::saturating_add(now, s->interval);
    st.keep_alives.add(s, next);
    lsn = st.last_lsn;
  }
  BOOST_OUTCOME_TRYV(st.durable(lsn));
  st.poke(next);
  return std::unique_ptr<keep_alive>(std::make_unique<detail::keep_alive_stream>(std::move(s)));
}

result<lease_time_to_live_response> embedded_store::time_to_live(lease_id id, time_to_live_options o) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  read_lock lock(impl_->mu, impl_->waiting);
  lease_time_to_live_response out;
  out.header = impl_->header(impl_->kv.current_revision());
  out.id = id;
  const lease::lease_record* rec = impl_->lessor.find(id);
  if (rec == nullptr) return out;  // ttl -1, granted 0: etcd's answer for an unknown lease
  out.remaining = std::chrono::duration_cast<std::chrono::milliseconds>(base::saturating_sub(rec->expires_at, impl_->clk->now()));
  out.ttl = whole_seconds(out.remaining);
  out.granted = rec->ttl;
  out.granted_ttl = whole_seconds(rec->ttl);
  if (o.keys) {
    if (rec->keys) {
      out.keys.reserve(rec->keys->size());
      for (lease::key_ref e : *rec->keys) out.keys.emplace_back(e->key());
    }
    std::sort(out.keys.begin(), out.keys.end());
  }
  return out;
}

result<lease_leases_response> embedded_store::leases() {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  read_lock lock(impl_->mu, impl_->waiting);
  lease_leases_response out;
  out.header = impl_->header(impl_->kv.current_revision());
  for (const auto* rec : impl_->lessor.by_deadline()) out.leases.push_back({rec->id});
  return out;
}

}  // namespace leasekv
