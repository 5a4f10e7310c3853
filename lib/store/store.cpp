#include "leasekv/store.hpp"

#include "leasekv/session.hpp"

#include "base/mutex.hpp"
#include "lease/lessor.hpp"
#include "mvcc/kv_store.hpp"
#include "store/expiry_driver.hpp"
#include "store/validate.hpp"
#include "watch/watch_hub.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>

#include <map>
#include <mutex>
#include <thread>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <vector>

namespace leasekv {

namespace {

// Compaction frees at most this many keys' history per hold of the write lock.
constexpr std::size_t compaction_batch_keys = 1000;

// A random non-zero id. The entropy source is read once per process (constructing a random_device
// costs more than opening a store); each call then advances a splitmix64 sequence.
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

std::int64_t compare_numbers(std::int64_t a, std::int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

bool compare_outcome(compare_result r, int cmp) {
  switch (r) {
    case compare_result::equal: return cmp == 0;
    case compare_result::not_equal: return cmp != 0;
    case compare_result::greater: return cmp > 0;
    case compare_result::less: return cmp < 0;
  }
  return false;
}

// Compares one key's fields (all zero for a missing key) with the compare's operand.
bool compare_fields(const compare& c, std::int64_t version, std::int64_t create, std::int64_t mod,
                    std::int64_t lease, std::string_view value) {
  int cmp = 0;
  switch (c.target) {
    case compare_target::version: cmp = static_cast<int>(compare_numbers(version, c.number)); break;
    case compare_target::create: cmp = static_cast<int>(compare_numbers(create, c.number)); break;
    case compare_target::mod: cmp = static_cast<int>(compare_numbers(mod, c.number)); break;
    case compare_target::lease: cmp = static_cast<int>(compare_numbers(lease, c.number)); break;
    case compare_target::value: {
      const int raw = value.compare(c.value);
      cmp = raw < 0 ? -1 : (raw > 0 ? 1 : 0);
      break;
    }
  }
  return compare_outcome(c.result, cmp);
}

bool compare_holds(const mvcc::kv_store& kv, const compare& c) {
  bool found = false;
  bool all = true;
  kv.for_each_live(c.range, kv.current_revision(), [&](const mvcc::key_entry&, const mvcc::key_version& v) {
    found = true;
    all = compare_fields(c, v.version, v.create_revision, v.mod_main, v.lease, v.value());
    return all;
  });
  if (!found) return c.target != compare_target::value && compare_fields(c, 0, 0, 0, 0, {});
  return all;
}

const std::vector<request_op>& branch(const txn_request& t, bool succeeded) {
  return succeeded ? t.success : t.failure;
}

// etcd evaluates every compare, nested txns' included, against the state before the txn, and records the
// branch taken in pre-order.
void compute_path(const mvcc::kv_store& kv, const txn_request& t, std::vector<bool>& path) {
  bool ok = true;
  for (const auto& c : t.compares) {
    if (!compare_holds(kv, c)) {
      ok = false;
      break;
    }
  }
  path.push_back(ok);
  for (const auto& op : branch(t, ok)) {
    if (op.type == request_op::kind::txn) compute_path(kv, *op.txn, path);
  }
}

}  // namespace

struct keep_alive::state {
  lease_id id = no_lease;
  std::chrono::milliseconds interval{0};
  boost::asio::any_io_executor executor;
  keep_alive_handler handler;
  std::recursive_mutex mu;           // held while the handler runs; recursive so it may cancel itself
  std::atomic<bool> cancelled{false};

  // Posts one call of the handler. It does not run if the stream is cancelled before it starts.
  static void deliver(const std::shared_ptr<state>& s, boost::system::error_code ec, lease_keep_alive_response r) {
    boost::asio::post(s->executor, [s, ec, r = std::move(r)] {
      std::lock_guard lock(s->mu);
      if (s->cancelled.load(std::memory_order_acquire)) return;
      s->handler(ec, r);
    });
  }
};

lease_id keep_alive::id() const { return state_->id; }

void keep_alive::cancel() {
  std::lock_guard lock(state_->mu);  // waits for a handler in progress (unless called from it)
  state_->cancelled.store(true, std::memory_order_release);
}

// Holds the store's lock exclusively for a caller's write, counting the writers still waiting for it so
// that long background work (an expiry storm) can step aside between its batches.
class LEASEKV_SCOPED_CAPABILITY write_lock {
 public:
  write_lock(base::shared_mutex& mu, std::atomic<int>& waiting) LEASEKV_ACQUIRE(mu) : mu_(mu) {
    waiting.fetch_add(1, std::memory_order_relaxed);
    mu_.lock();
    waiting.fetch_sub(1, std::memory_order_relaxed);
  }
  ~write_lock() LEASEKV_RELEASE() { mu_.unlock(); }
  write_lock(const write_lock&) = delete;
  write_lock& operator=(const write_lock&) = delete;

 private:
  base::shared_mutex& mu_;
};

struct store::impl final : lease::key_deleter {
  explicit impl(options o)
      : opts(std::move(o)),
        clk(opts.clock ? opts.clock : clock::system()),
        cluster_id(opts.cluster_id != 0 ? opts.cluster_id : random_id()),
        member_id(opts.member_id != 0 ? opts.member_id : random_id()),
        lim{opts.max_request_bytes, opts.max_txn_ops},
        lessor(*this, clk->now(), opts.lease_tick, opts.min_lease_ttl) {}

  response_header header(std::int64_t rev) const { return {cluster_id, member_id, rev, raft_term}; }

  bool lease_known(lease_id id) const LEASEKV_REQUIRES_SHARED(mu) { return lessor.find(id) != nullptr; }

  // Keeps the lessor's attachments in step with a write group's changes: a changed key leaves the lease
  // its previous version had, and a put joins the lease it names (etcd's rules, §1.8).
  // It then hands the changes to the watchers: one response per watcher per write group.
  void after_write() LEASEKV_REQUIRES(mu) {
    for (const mvcc::change& c : kv.changes()) {
      if (c.prev != nullptr && c.prev->lease != no_lease) lessor.detach(c.prev->lease, c.entry->key());
      if (!c.version->tombstone() && c.version->lease != no_lease) lessor.attach(c.version->lease, c.entry->key());
    }
    hub->on_write(kv, kv.changes());
  }

  // key_deleter: the lessor revoking a lease. It runs inside lessor calls made under `mu`.
  void delete_lease_keys(lease_id id, const std::vector<std::string>& sorted_keys) override
      LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    kv.begin_write();
    for (const auto& k : sorted_keys) kv.delete_range(key_range(k), nullptr);
    kv.end_write();
    after_write();
    end_keep_alives(id);
  }

  lease_keep_alive_response keep_alive_response(const lease::lease_record& rec) const LEASEKV_REQUIRES_SHARED(mu) {
    lease_keep_alive_response out;
    out.header = header(kv.current_revision());
    out.id = rec.id;
    out.granted = rec.ttl;
    out.ttl = std::chrono::duration_cast<std::chrono::seconds>(rec.ttl).count();
    return out;
  }

  // The lease of these streams is gone: each gets lease_not_found once and stops.
  void end_keep_alives(lease_id id) LEASEKV_REQUIRES(mu) {
    if (renewals.empty()) return;
    for (auto it = renewals.begin(); it != renewals.end();) {
      if (it->second->id != id) {
        ++it;
        continue;
      }
      lease_keep_alive_response gone;
      gone.header = header(kv.current_revision());
      gone.id = id;
      keep_alive::state::deliver(it->second, errc::lease_not_found, std::move(gone));
      it = renewals.erase(it);
    }
  }

  void schedule_renewal(std::shared_ptr<keep_alive::state> s, clock::time_point at) LEASEKV_REQUIRES(mu) {
    renewals.emplace(std::make_pair(at, renewal_seq++), std::move(s));
  }

  // Renews the earliest keep-alive stream at its scheduled time `at`.
  void renew_next(clock::time_point at) LEASEKV_REQUIRES(mu) {
    auto node = renewals.extract(renewals.begin());
    std::shared_ptr<keep_alive::state> s = std::move(node.mapped());
    if (s->cancelled.load(std::memory_order_acquire)) return;
    auto rec = lessor.renew(s->id, at);
    if (!rec) return;  // the lease was revoked here; end_keep_alives() told the stream
    keep_alive::state::deliver(s, {}, keep_alive_response(*rec.value()));
    const clock::time_point next = at + s->interval;
    schedule_renewal(std::move(s), next);
  }

  // Handles everything due by `target` in time order: lease expiries (at most expiry_batch leases per
  // hold of the lock) and keep-alive renewals, each renewal at its own scheduled time. At equal times the
  // expiry comes first: a lease is expired once its deadline is reached.
  void process_due(clock::time_point target) LEASEKV_EXCLUDES(mu) {
    std::vector<lease_id> due;
    for (;;) {
      due.clear();
      {
        base::lock_guard lock(mu);
        const std::optional<clock::time_point> renewal = next_timed();
        const clock::time_point limit = renewal && *renewal < target ? *renewal : target;
        if (!lessor.pop_due(limit, due)) {
          if (!renewal || *renewal > target) return;
          run_next_timed();
          continue;
        }
      }
      const std::size_t batch = std::max<std::size_t>(1, opts.expiry_batch);
      for (std::size_t i = 0; i < due.size(); i += batch) {
        {
          base::lock_guard lock(mu);
          for (std::size_t j = i; j < std::min(due.size(), i + batch); ++j) {
            // A keep-alive may have revoked it meanwhile (its deadline had passed); nothing else can.
            if (lessor.find(due[j]) != nullptr) (void)lessor.revoke(due[j]);
          }
        }
        let_writers_through();
      }
    }
  }

  // The earliest keep-alive renewal or progress notification.
  std::optional<clock::time_point> next_timed() const LEASEKV_REQUIRES_SHARED(mu) {
    std::optional<clock::time_point> at;
    if (!renewals.empty()) at = renewals.begin()->first.first;
    if (!progress_timers.empty() && (!at || progress_timers.begin()->first.first < *at)) {
      at = progress_timers.begin()->first.first;
    }
    return at;
  }

  void run_next_timed() LEASEKV_REQUIRES(mu) {
    if (!progress_timers.empty() &&
        (renewals.empty() || progress_timers.begin()->first.first < renewals.begin()->first.first)) {
      auto node = progress_timers.extract(progress_timers.begin());
      const clock::time_point at = node.key().first;
      if (auto w = node.mapped().lock()) {
        hub->notify_progress(kv, w);
        progress_timers.emplace(std::make_pair(at + opts.watch_progress_interval, renewal_seq++), w);
      }
      return;
    }
    renew_next(renewals.begin()->first.first);
  }

  // Background work (an expiry storm, compaction) calls this between its batches: a readers-writer lock
  // is not fair, and released and taken again at once it would starve the writers waiting for it. They go
  // first; the wait is bounded.
  void let_writers_through() const LEASEKV_EXCLUDES(mu) {
    for (int spin = 0; spin < 10000 && waiting_writers.load(std::memory_order_relaxed) > 0; ++spin) {
      std::this_thread::yield();
    }
  }

  std::optional<clock::time_point> next_event() const LEASEKV_EXCLUDES(mu) {
    base::shared_lock_guard lock(mu);
    auto at = lessor.next_event();
    const auto timed = next_timed();
    if (timed && (!at || *timed < *at)) at = timed;
    return at;
  }

  // Starts expiry processing: through the manual clock, or a timer.
  void start() LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    hub = std::make_shared<detail::watch_hub>(
        [this](const detail::watch_hub::locked_fn& fn) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
          write_lock lock(mu, waiting_writers);
          fn(kv);
        },
        [this](std::int64_t rev) { return header(rev); }, opts.watch_max_pending_events);
    if (clk->is_manual()) {
      subscription = static_cast<manual_clock&>(*clk).subscribe([this](clock::time_point now) { process_due(now); });
    } else {
      driver = std::make_unique<detail::expiry_driver>(
          opts.executor, [this](clock::time_point now) { process_due(now); }, [this] { return next_event(); }, *clk);
    }
  }

  void poke(clock::time_point deadline) {
    if (driver) driver->poke(deadline);
  }

  result<void> check_open() const {
    if (closed.load(std::memory_order_acquire)) return errc::closed;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  // Store-state checks along the branches the txn will take: first the puts, then the ranges (etcd's
  // order). `i` walks `path` in the same pre-order compute_path wrote it.
  result<void> check_puts(const txn_request& t, const std::vector<bool>& path, std::size_t& i) const
      LEASEKV_REQUIRES_SHARED(mu) {
    for (const auto& op : branch(t, path[i++])) {
      if (op.type == request_op::kind::txn) {
        BOOST_OUTCOME_TRYV(check_puts(*op.txn, path, i));
      } else if (op.type == request_op::kind::put) {
        const auto& o = op.put_opts;
        if ((o.ignore_value || o.ignore_lease) && kv.live(op.range.key) == nullptr) return errc::key_not_found;
        if (o.lease != no_lease && !lease_known(o.lease)) return errc::lease_not_found;
      }
    }
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  result<void> check_ranges(const txn_request& t, const std::vector<bool>& path, std::size_t& i) const
      LEASEKV_REQUIRES_SHARED(mu) {
    for (const auto& op : branch(t, path[i++])) {
      if (op.type == request_op::kind::txn) {
        BOOST_OUTCOME_TRYV(check_ranges(*op.txn, path, i));
      } else if (op.type == request_op::kind::range) {
        BOOST_OUTCOME_TRYV(kv.read_revision(op.range_opts.revision));
      }
    }
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  // Applies the branch the path chose. Everything that could fail was checked before.
  void apply(const txn_request& t, const std::vector<bool>& path, std::size_t& i, txn_response& out)
      LEASEKV_REQUIRES(mu) {
    out.succeeded = path[i++];
    for (const auto& op : branch(t, out.succeeded)) {
      response_op& r = out.responses.emplace_back();
      r.type = op.type;
      switch (op.type) {
        case request_op::kind::range: {
          auto rr = kv.range(op.range, op.range_opts).value();
          r.range.header.revision = rr.revision;
          r.range.kvs = std::move(rr.kvs);
          r.range.more = rr.more;
          r.range.count = rr.count;
          break;
        }
        case request_op::kind::put: {
          const auto& o = op.put_opts;
          kv.put(op.range.key, op.value, o.lease, o.ignore_value, o.ignore_lease, o.prev_kv ? &r.put.prev_kv : nullptr);
          r.put.header.revision = kv.current_revision();
          break;
        }
        case request_op::kind::delete_range:
          r.delete_range.deleted =
              kv.delete_range(op.range, op.delete_opts.prev_kv ? &r.delete_range.prev_kvs : nullptr);
          r.delete_range.header.revision = kv.current_revision();
          break;
        case request_op::kind::txn:
          r.txn = std::make_shared<txn_response>();
          apply(*op.txn, path, i, *r.txn);
          break;
      }
    }
  }

  const options opts;
  const std::shared_ptr<clock> clk;
  const std::uint64_t cluster_id;
  const std::uint64_t member_id;
  const std::uint64_t raft_term = 2;
  const detail::limits lim;

  mutable base::shared_mutex mu;
  std::atomic<int> waiting_writers{0};  // callers blocked in write_lock
  mvcc::kv_store kv LEASEKV_GUARDED_BY(mu);
  lease::lessor lessor LEASEKV_GUARDED_BY(mu);
  // Keep-alive streams by next renewal time (ties in creation order).
  std::map<std::pair<clock::time_point, std::uint64_t>, std::shared_ptr<keep_alive::state>> renewals
      LEASEKV_GUARDED_BY(mu);
  std::uint64_t renewal_seq LEASEKV_GUARDED_BY(mu) = 0;
  // Watchers with progress_notify, by next notification time.
  std::map<std::pair<clock::time_point, std::uint64_t>, std::weak_ptr<watcher::state>> progress_timers
      LEASEKV_GUARDED_BY(mu);
  std::shared_ptr<detail::watch_hub> hub;  // set by start(); then constant

  base::mutex compaction_mu;  // one compaction at a time; taken before mu

  std::atomic<bool> closed{false};
  std::unique_ptr<manual_clock::subscription> subscription;
  std::unique_ptr<detail::expiry_driver> driver;
};

result<std::unique_ptr<store>> store::open(options opts) {
  auto p = std::make_unique<impl>(std::move(opts));
  p->start();
  return std::unique_ptr<store>(new store(std::move(p)));
}

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::~store() { close(); }

void store::close() {
  if (impl_->closed.exchange(true)) return;
  impl_->subscription.reset();  // waits for an advance() in progress
  if (impl_->driver) impl_->driver->stop();
  impl_->hub->close();  // waits for watch jobs; pending async_next calls end with operation_aborted
}

result<std::unique_ptr<watcher>> store::watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                              watch_handler handler) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  if (r.key.empty()) r.key.assign(1, '\0');
  if (!r.range_end.empty() && r.range_end != std::string_view("\0", 1) && r.range_end <= r.key) {
    return errc::watch_range_empty;
  }
  if (o.start_revision < 0) return errc::invalid_argument;
  if (!ex) ex = boost::asio::system_executor();
  std::shared_ptr<watcher::state> st;
  clock::time_point progress_at;
  {
    write_lock lock(impl_->mu, impl_->waiting_writers);
    st = impl_->hub->add(impl_->kv, r, o, ex, std::move(handler));
    if (o.progress_notify) {
      progress_at = impl_->clk->now() + impl_->opts.watch_progress_interval;
      impl_->progress_timers.emplace(std::make_pair(progress_at, impl_->renewal_seq++), st);
    }
  }
  if (o.progress_notify) impl_->poke(progress_at);
  return std::make_unique<watcher>(std::move(st), std::move(ex));
}

result<std::unique_ptr<watcher>> store::watch(key_range r, watch_options o, boost::asio::any_io_executor ex) {
  return watch(std::move(r), o, std::move(ex), nullptr);
}

result<put_response> store::put(std::string_view key, std::string_view value, put_options o) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  BOOST_OUTCOME_TRYV(detail::check_put(key, value, o, impl_->lim));
  write_lock lock(impl_->mu, impl_->waiting_writers);
  auto& kv = impl_->kv;
  if ((o.ignore_value || o.ignore_lease) && kv.live(key) == nullptr) return errc::key_not_found;
  if (o.lease != no_lease && !impl_->lease_known(o.lease)) return errc::lease_not_found;
  put_response out;
  kv.begin_write();
  kv.put(key, value, o.lease, o.ignore_value, o.ignore_lease, o.prev_kv ? &out.prev_kv : nullptr);
  out.header = impl_->header(kv.end_write());
  impl_->after_write();
  return out;
}

result<range_response> store::get(std::string_view key, range_options o) { return range(key_range(key), o); }

result<range_response> store::range(const key_range& r, range_options o) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  BOOST_OUTCOME_TRYV(detail::check_range(r, impl_->lim));
  base::shared_lock_guard lock(impl_->mu);
  BOOST_OUTCOME_TRY(rr, impl_->kv.range(r, o));
  range_response out;
  out.header = impl_->header(rr.revision);
  out.kvs = std::move(rr.kvs);
  out.more = rr.more;
  out.count = rr.count;
  return out;
}

result<delete_response> store::delete_range(const key_range& r, delete_options o) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  BOOST_OUTCOME_TRYV(detail::check_range(r, impl_->lim));
  write_lock lock(impl_->mu, impl_->waiting_writers);
  auto& kv = impl_->kv;
  delete_response out;
  kv.begin_write();
  out.deleted = kv.delete_range(r, o.prev_kv ? &out.prev_kvs : nullptr);
  out.header = impl_->header(kv.end_write());
  impl_->after_write();
  return out;
}

result<txn_response> store::txn(const txn_request& t) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  BOOST_OUTCOME_TRYV(detail::check_txn(t, impl_->lim));
  const bool write = !detail::is_read_only(t);
  // The lock is held by the caller below, shared for a read-only txn (which only reads the kv store)
  // and exclusive otherwise; the analysis cannot follow a lambda, so it is told.
  auto run = [&]() LEASEKV_NO_THREAD_SAFETY_ANALYSIS -> result<txn_response> {
    auto& kv = impl_->kv;
    std::vector<bool> path;
    compute_path(kv, t, path);
    std::size_t i = 0;
    BOOST_OUTCOME_TRYV(impl_->check_puts(t, path, i));
    i = 0;
    BOOST_OUTCOME_TRYV(impl_->check_ranges(t, path, i));
    txn_response out;
    i = 0;
    if (write) kv.begin_write();
    impl_->apply(t, path, i, out);
    out.header = impl_->header(write ? kv.end_write() : kv.current_revision());
    if (write) impl_->after_write();
    return out;
  };
  if (!write) {
    base::shared_lock_guard lock(impl_->mu);
    return run();
  }
  write_lock lock(impl_->mu, impl_->waiting_writers);
  return run();
}

result<compact_response> store::compact(std::int64_t rev, compact_options) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  base::lock_guard serial(impl_->compaction_mu);
  {
    write_lock lock(impl_->mu, impl_->waiting_writers);
    BOOST_OUTCOME_TRYV(impl_->kv.set_compacted(rev));
  }
  std::optional<std::string> resume(std::in_place);
  while (resume) {
    {
      base::lock_guard lock(impl_->mu);
      resume = impl_->kv.compact_batch(rev, *resume, compaction_batch_keys);
    }
    impl_->let_writers_through();
  }
  return compact_response{impl_->header(revision())};
}

std::int64_t store::revision() const {
  base::shared_lock_guard lock(impl_->mu);
  return impl_->kv.current_revision();
}

std::int64_t store::compacted_revision() const {
  base::shared_lock_guard lock(impl_->mu);
  return impl_->kv.compacted_revision();
}

store::stats store::statistics() const {
  base::shared_lock_guard lock(impl_->mu);
  return {impl_->kv.live_keys(), impl_->kv.entries(), impl_->kv.versions(), impl_->lessor.size()};
}

// ---- leases ----

namespace {

std::int64_t whole_seconds(std::chrono::milliseconds d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

}  // namespace

result<lease_grant_response> store::grant(std::chrono::milliseconds ttl, lease_id id) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  lease_grant_response out;
  clock::time_point deadline;
  {
    write_lock lock(impl_->mu, impl_->waiting_writers);
    auto& lessor = impl_->lessor;
    if (id == no_lease) {
      // Unique, positive, non-zero, and not a counter (etcd's ids look random too).
      do {
        id = static_cast<lease_id>(random_id() & 0x7fffffffffffffffULL);
      } while (id == no_lease || lessor.find(id) != nullptr);
    }
    BOOST_OUTCOME_TRY(rec, lessor.grant(id, ttl, impl_->clk->now()));
    out.header = impl_->header(impl_->kv.current_revision());
    out.id = rec->id;
    out.granted = rec->ttl;
    out.ttl = whole_seconds(rec->ttl);
    deadline = rec->expires_at;
  }
  impl_->poke(deadline);
  return out;
}

result<lease_revoke_response> store::revoke(lease_id id) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  write_lock lock(impl_->mu, impl_->waiting_writers);
  BOOST_OUTCOME_TRYV(impl_->lessor.revoke(id));
  return lease_revoke_response{impl_->header(impl_->kv.current_revision())};
}

result<lease_keep_alive_response> store::keep_alive_once(lease_id id) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  write_lock lock(impl_->mu, impl_->waiting_writers);
  BOOST_OUTCOME_TRY(rec, impl_->lessor.renew(id, impl_->clk->now()));
  return impl_->keep_alive_response(*rec);
}

result<std::unique_ptr<keep_alive>> start_keep_alive(store& st, lease_id id, boost::asio::any_io_executor ex,
                                                     keep_alive_handler handler) {
  auto& impl = *st.impl_;
  BOOST_OUTCOME_TRYV(impl.check_open());
  auto s = std::make_shared<keep_alive::state>();
  s->id = id;
  s->executor = ex ? std::move(ex) : boost::asio::any_io_executor(boost::asio::system_executor());
  s->handler = std::move(handler);
  clock::time_point next;
  {
    write_lock lock(impl.mu, impl.waiting_writers);
    const clock::time_point now = impl.clk->now();
    BOOST_OUTCOME_TRY(rec, impl.lessor.renew(id, now));
    // etcd's client renews every TTL/3.
    s->interval = std::max(std::chrono::milliseconds(1), rec->ttl / 3);
    keep_alive::state::deliver(s, {}, impl.keep_alive_response(*rec));
    next = now + s->interval;
    impl.schedule_renewal(s, next);
  }
  impl.poke(next);
  return std::make_unique<keep_alive>(std::move(s));
}

result<lease_time_to_live_response> store::time_to_live(lease_id id, time_to_live_options o) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  base::shared_lock_guard lock(impl_->mu);
  lease_time_to_live_response out;
  out.header = impl_->header(impl_->kv.current_revision());
  out.id = id;
  const lease::lease_record* rec = impl_->lessor.find(id);
  if (rec == nullptr) return out;  // ttl -1, granted 0: etcd's answer for an unknown lease
  out.remaining = std::chrono::duration_cast<std::chrono::milliseconds>(rec->expires_at - impl_->clk->now());
  out.ttl = whole_seconds(out.remaining);
  out.granted = rec->ttl;
  out.granted_ttl = whole_seconds(rec->ttl);
  if (o.keys) {
    out.keys.assign(rec->keys.begin(), rec->keys.end());
    std::sort(out.keys.begin(), out.keys.end());
  }
  return out;
}

result<lease_leases_response> store::leases() {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  base::shared_lock_guard lock(impl_->mu);
  lease_leases_response out;
  out.header = impl_->header(impl_->kv.current_revision());
  for (const auto* rec : impl_->lessor.by_deadline()) out.leases.push_back({rec->id});
  return out;
}

}  // namespace leasekv
