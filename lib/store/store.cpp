#include "store/store_impl.hpp"

#include "store/anchor.hpp"

#include <spdlog/logger.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace leasekv {

namespace detail {

// The entropy source is read once per process (constructing a random_device costs more than opening a
// store); each call then advances a splitmix64 sequence.
std::uint64_t random_id() {
  static std::atomic<std::uint64_t> state{[] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }()};
  for (;;) {
    std::uint64_t z = state.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    if (z != 0) return z;
  }
}

}  // namespace detail

namespace {

// Compaction frees at most this many keys' history per hold of the write lock.
constexpr std::size_t compaction_batch_keys = 1000;

}  // namespace

embedded_store::impl::impl(options o)
    : opts(std::move(o)),
      clk(opts.clock ? opts.clock : clock::system()),
      cluster_id(opts.cluster_id != 0 ? opts.cluster_id : detail::random_id()),
      member_id(opts.member_id != 0 ? opts.member_id : detail::random_id()),
      raft_term(opts.raft_term),
      lim{opts.max_request_bytes, opts.max_txn_ops},
      prefaulter(opts.tuning.prefault_memory ? std::make_unique<base::prefaulter>() : nullptr),
      kv(opts.tuning.huge_pages, prefaulter.get()),
      lessor(*this, clk->now(), opts.tuning.lease_tick, opts.min_lease_ttl, opts.tuning.huge_pages) {
  waiting.owner = this;
}

// Keeps the lessor's attachments in step with a committed write group: a changed key leaves the lease its
// previous version had, and a put joins the lease it names (etcd's rules, §1.8). Then the watchers get
// the changes: one response per watcher per write group.
void embedded_store::impl::after_write() {
  for (const mvcc::change& c : kv.changes()) {
    if (c.prev != nullptr && c.prev->lease != no_lease) lessor.detach(c.prev->lease, c.entry);
    if (!c.version->tombstone() && c.version->lease != no_lease) lessor.attach(c.version->lease, c.entry);
  }
  hub->on_write(kv, kv.changes());
}

// The end of a committed kv write group: the revision is current, attachments and watchers follow, and a
// snapshot is taken if the log asks for one. Returns the revision.
std::int64_t embedded_store::impl::finish_write() {
  const std::int64_t rev = kv.end_write();
  after_write();
  maybe_snapshot();
  return rev;
}

bool embedded_store::impl::can_defer(std::string_view key, std::string_view value, const put_options& o) const {
  return !dir && hub->empty() && detail::held_back_puts::may_hold(key, value, o) &&
         kv.entries() >= opts.tuning.hold_back_puts_from_keys && waiting.draining.load(std::memory_order_relaxed) == 0;
}

std::int64_t embedded_store::impl::defer_put(std::string_view key, std::string_view value, lease_id lease) {
  held.add(key, value, lease);
  waiting.deferred.store(true, std::memory_order_relaxed);
  const std::int64_t rev = kv.current_revision() + static_cast<std::int64_t>(held.size());
  if (held.full()) apply_deferred();
  return rev;
}

void embedded_store::impl::apply_deferred() {
  waiting.deferred.store(false, std::memory_order_relaxed);
  if (held.empty()) return;
  try {
    // In memory only there is nothing to commit(): after each put, what finish_write() does after
    // end_write(). The lock is held by the caller; the analysis cannot follow a lambda, so it is told.
    held.apply(kv, [this]() LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
      after_write();
      maybe_snapshot();
    });
  } catch (...) {
    waiting.deferred.store(true, std::memory_order_relaxed);  // out of memory: the puts left wait for the next try
    throw;
  }
}

namespace {

// Options that cannot mean anything are refused at open, naming the option: a zero progress interval
// would re-arm its timer at the same instant for ever, a zero tick would divide by zero.
result<void> check_options(const options& o) {
  auto refuse = [](const std::string& what) {
    return error(errc::invalid_argument, "options::" + what);
  };
  if (o.watch_progress_interval.count() <= 0) {
    return refuse("watch_progress_interval must be positive, got " + std::to_string(o.watch_progress_interval.count()) + " ms");
  }
  if (o.tuning.lease_tick.count() <= 0) return refuse("tuning.lease_tick must be positive, got " + std::to_string(o.tuning.lease_tick.count()) + " ms");
  if (o.min_lease_ttl.count() < 0) {
    return refuse("min_lease_ttl must not be negative, got " + std::to_string(o.min_lease_ttl.count()) + " ms");
  }
  if (o.min_lease_ttl > max_lease_ttl) return refuse("min_lease_ttl is above max_lease_ttl");
  if (o.raft_term == 0) return refuse("raft_term must be positive");
  if (o.lock_timeout.count() < 0) {
    return refuse("lock_timeout must not be negative, got " + std::to_string(o.lock_timeout.count()) + " ms");
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

}  // namespace

result<std::unique_ptr<store>> store::open(options opts) {
  BOOST_OUTCOME_TRYV(check_options(opts));
  auto p = std::make_unique<embedded_store::impl>(std::move(opts));
  if (!p->opts.data_dir.empty()) {
    BOOST_OUTCOME_TRYV(p->recover());
  }
  p->start();
  // Leases whose deadlines passed while the store was closed are revoked now, like any expiry.
  if (!p->opts.read_only) p->process_due(p->clk->now());
  return std::unique_ptr<store>(new embedded_store(std::move(p)));
}

store::store() : anchor_(std::make_shared<detail::store_anchor>(*this)) {}

store::~store() { detach_anchor(); }

void store::detach_anchor() noexcept { anchor_->detach(); }

embedded_store::embedded_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

embedded_store::~embedded_store() {
  detach_anchor();  // first: a session or txn_builder calling in now gets closed, not freed memory
  close();
}

// Every call that changes the store checks `closed` again once it holds the lock: close() sets it before
// taking the lock, so a call either ran entirely before close() took the lock, or fails. The data
// directory stays (closed, not destroyed) until the store is destroyed, for the group-commit waiters of
// writes that got in before: close() syncs their records, so they find them durable.
void embedded_store::close() {
  const std::lock_guard serial(impl_->close_mu);  // a second close() returns once the first is done
  if (impl_->closed.exchange(true)) return;
  impl_->subscription.reset();  // waits for an advance() in progress
  if (impl_->driver) impl_->driver->stop();
  impl_->hub->close();  // waits for watch jobs; pending async_next calls end with operation_aborted
  write_lock lock(impl_->mu, impl_->waiting);
  if (impl_->dir) {
    auto r = impl_->dir->close();  // syncs what was appended and releases the data directory's lock
    if (!r && impl_->opts.logger) impl_->opts.logger->error("{}: close failed: {}", impl_->opts.data_dir, r.error().message());
  }
}

result<put_response> embedded_store::put(std::string_view key, std::string_view value, put_options o) {
  BOOST_OUTCOME_TRYV(impl_->check_writable());
  BOOST_OUTCOME_TRYV(detail::check_put(key, value, o, impl_->lim));
  std::optional<put_response> out;  // made only where needed: a held-back put returns without one
  std::uint64_t lsn = 0;
  {
    write_lock lock(impl_->mu, impl_->waiting, write_lock::keep_deferred);
    BOOST_OUTCOME_TRYV(impl_->check_open());
    auto& kv = impl_->kv;
    // etcd's order for a put outside a txn: the lease first, then the key ignore_* needs (inside a txn it
    // is the other way round: check_puts).
    if (o.lease != no_lease && !impl_->lease_known(o.lease)) return errc::lease_not_found;
    if (o.ignore_value || o.ignore_lease) {
      impl_->apply_deferred();  // they may have put the key
      if (kv.live(key) == nullptr) return errc::key_not_found;
    }
    BOOST_OUTCOME_TRYV(impl_->check_quota(key.size() + value.size() + mvcc::kv_store::version_overhead));
    // Held back, the put is applied before anything else takes the lock, so no caller can tell (see
    // apply_deferred).
    if (impl_->can_defer(key, value, o)) {
      return put_response{impl_->header(impl_->defer_put(key, value, o.lease)), std::nullopt};
    }
    impl_->apply_deferred();  // this put comes after them
    out.emplace();
    kv.begin_write();
    kv.put(key, value, o.lease, o.ignore_value, o.ignore_lease, o.prev_kv ? &out->prev_kv : nullptr);
    BOOST_OUTCOME_TRYV(impl_->commit({}, true));
    out->header = impl_->header(impl_->finish_write());
    lsn = impl_->last_lsn;
  }
  BOOST_OUTCOME_TRYV(impl_->durable(lsn));
  return std::move(*out);
}

template <class Response, class Fill>
result<Response> embedded_store::impl::read_range(const key_range& r, const range_options& o, Fill fill) const {
  BOOST_OUTCOME_TRYV(check_open());
  BOOST_OUTCOME_TRYV(detail::check_range(r, lim));
  read_lock lock(mu, waiting);
  BOOST_OUTCOME_TRY(sel, kv.select(r, o));
  Response out;
  out.header = header(sel.revision);
  out.more = sel.more;
  out.count = sel.count;
  fill(sel.hits, out);
  return out;
}

result<range_response> embedded_store::range(const key_range& r, range_options o) {
  return impl_->read_range<range_response>(r, o, [&](const std::vector<mvcc::range_hit>& hits, range_response& out) {
    out.kvs = mvcc::to_key_values(hits, o.keys_only);
  });
}

result<range_view_response> embedded_store::range_view(const key_range& r, range_options o) {
  return impl_->read_range<range_view_response>(r, o, [&](const std::vector<mvcc::range_hit>& hits, range_view_response& out) {
    std::size_t bytes = 0;
    for (const auto& h : hits) bytes += h.entry->key_size + (o.keys_only ? 0 : h.version->value_size);
    out.bytes = std::make_unique_for_overwrite<char[]>(bytes);
    out.kvs.reserve(hits.size());
    char* at = out.bytes.get();
    auto copy = [&at](std::string_view s) {
      std::memcpy(at, s.data(), s.size());
      at += s.size();
      return std::string_view(at - s.size(), s.size());
    };
    mvcc::for_each_hit(hits, [&](const mvcc::key_entry& e, const mvcc::key_version& v) {
      const std::string_view key = copy(e.key());
      const std::string_view value = o.keys_only ? std::string_view() : copy(v.value());
      out.kvs.push_back({key, v.create_revision(), v.mod_main, v.version(), value, v.lease});
    });
  });
}

result<delete_response> embedded_store::delete_range(const key_range& r, delete_options o) {
  BOOST_OUTCOME_TRYV(impl_->check_writable());
  BOOST_OUTCOME_TRYV(detail::check_range(r, impl_->lim));
  delete_response out;
  std::uint64_t lsn = 0;
  {
    write_lock lock(impl_->mu, impl_->waiting);
    BOOST_OUTCOME_TRYV(impl_->check_open());
    auto& kv = impl_->kv;
    kv.begin_write();
    out.deleted = kv.delete_range(r, o.prev_kv ? &out.prev_kvs : nullptr);
    if (out.deleted > 0) {
      BOOST_OUTCOME_TRYV(impl_->commit({}, true));
    }
    out.header = impl_->header(impl_->finish_write());
    lsn = impl_->last_lsn;
  }
  BOOST_OUTCOME_TRYV(impl_->durable(lsn));
  return out;
}

result<compact_response> embedded_store::compact(std::int64_t rev, compact_options) {
  BOOST_OUTCOME_TRYV(impl_->check_writable());
  base::lock_guard serial(impl_->compaction_mu);
  std::uint64_t lsn = 0;
  {
    write_lock lock(impl_->mu, impl_->waiting);
    BOOST_OUTCOME_TRYV(impl_->check_open());
    auto& kv = impl_->kv;
    if (rev <= kv.compacted_revision()) return errc::compacted;
    if (rev > kv.current_revision()) return errc::future_revision;
    storage::entry_record rec;
    rec.compact_revision = rev;
    BOOST_OUTCOME_TRYV(impl_->commit(std::move(rec), false));
    BOOST_OUTCOME_TRYV(kv.set_compacted(rev));
    lsn = impl_->last_lsn;
  }
  std::optional<std::string> resume(std::in_place);
  const lock_queue::counted draining(impl_->waiting.draining);
  while (resume) {
    {
      background_lock lock(impl_->mu, impl_->waiting);
      resume = impl_->kv.compact_batch(rev, *resume, compaction_batch_keys);
    }
    impl_->let_writers_through();
  }
  BOOST_OUTCOME_TRYV(impl_->durable(lsn));
  {
    read_lock lock(impl_->mu, impl_->waiting);
    if (impl_->opts.quota_bytes != 0 && impl_->kv.bytes() < impl_->opts.quota_bytes) {
      impl_->no_space_alarm.store(false, std::memory_order_relaxed);  // space was freed: writes resume
    }
  }
  return compact_response{impl_->header(revision())};
}

std::int64_t embedded_store::revision() const {
  read_lock lock(impl_->mu, impl_->waiting);
  return impl_->kv.current_revision();
}

std::int64_t embedded_store::compacted_revision() const {
  read_lock lock(impl_->mu, impl_->waiting);
  return impl_->kv.compacted_revision();
}

store::stats embedded_store::statistics() const {
  read_lock lock(impl_->mu, impl_->waiting);
  return {impl_->kv.live_keys(), impl_->kv.entries(), impl_->kv.versions(), impl_->lessor.size(), impl_->kv.bytes()};
}

}  // namespace leasekv
