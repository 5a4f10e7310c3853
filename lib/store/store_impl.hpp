// The store's implementation: the MVCC store, the lessor, the watch hub and the data directory under one
// readers-writer lock, and the write path that keeps them in step.
//
// Every write follows one path, under the write lock:
//   1. apply to memory (a kv write group, a lessor change);
//   2. commit(): append the effects to the log; if that fails, undo step 1 and fail the call;
//   3. after_write(): lease attachments and watchers see the committed changes;
//   4. maybe_snapshot(), once the whole operation is done;
// then, after the lock is released, durable() waits for the group commit's fsync (per-write policy syncs
// inside commit()).
#pragma once

#include "leasekv/session.hpp"
#include "leasekv/store.hpp"

#include "base/executor_liveness.hpp"
#include "base/mutex.hpp"
#include "lease/lessor.hpp"
#include "mvcc/kv_store.hpp"
#include "storage/data_dir.hpp"
#include "store/expiry_driver.hpp"
#include "store/held_back_puts.hpp"
#include "store/validate.hpp"
#include "watch/watch_hub.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace leasekv {

namespace detail {
// A random non-zero id (cluster, member and lease ids).
std::uint64_t random_id();
}  // namespace detail

struct keep_alive::state {
  lease_id id = no_lease;
  std::chrono::milliseconds interval{0};
  boost::asio::any_io_executor executor;
  std::shared_ptr<base::context_liveness> context;  // the executor's context: posts stop once it is gone
  keep_alive_handler handler;
  std::recursive_mutex mu;  // held while the handler runs; recursive so it may cancel itself
  std::atomic<bool> cancelled{false};

  // Posts one call of the handler. It does not run if the stream is cancelled before it starts. If the
  // executor's context was destroyed, nothing can run there any more: the stream ends (cancelled), and
  // the store drops it at its next renewal.
  static void deliver(const std::shared_ptr<state>& s, boost::system::error_code ec, lease_keep_alive_response r) {
    const bool posted = s->context->run_if_alive([&] {
      boost::asio::post(s->executor, [s, ec, r = std::move(r)] {
        std::lock_guard lock(s->mu);
        if (s->cancelled.load(std::memory_order_acquire)) return;
        s->handler(ec, r);
      });
    });
    if (!posted) s->cancelled.store(true, std::memory_order_release);
  }
};

// Writes a store holds back until its lock is next taken for anything else (store::impl::apply_deferred).
class deferred_writes {
 public:
  // Called with the store's lock held exclusively.
  virtual void apply_deferred() = 0;

 protected:
  ~deferred_writes() = default;
};

// Who is waiting for the store's lock: callers' writes, readers, and batches of background work (an expiry
// storm, compaction). They take turns: between its batches, background work lets the waiting writers
// through (store::impl::let_writers_through); while a batch or a reader waits, writers do not barge in
// ahead of it. A readers-writer lock promises neither: a writer putting in a loop took the lock again the
// moment it freed it, so a storm that needs 11 ms of work took 140-380 ms to finish beside one, and a
// reader (time_to_live) waited as long.
struct lock_queue {
  std::atomic<int> writers{0};
  std::atomic<int> readers{0};
  std::atomic<int> background{0};
  // Set while writes are held back: whoever takes the lock next, except a put that may join them,
  // applies them first (see store::impl::apply_deferred). Changed only under the exclusive lock.
  std::atomic<bool> deferred{false};
  deferred_writes* owner = nullptr;
  // Background work in progress (an expiry storm, a compaction), between its batches too: puts are not
  // held back meanwhile. Held back, a writer's puts made every reader take the lock exclusively to apply
  // them, and in about one storm in five on 2 cores the expiry thread then ran ~26 µs in every 200 and
  // finished 50-230 ms after the deadline instead of ~25 (none in 12 runs without held-back puts).
  std::atomic<int> draining{0};
  void apply_deferred() const {
    if (deferred.load(std::memory_order_relaxed)) owner->apply_deferred();
  }
  bool others_waiting() const {
    return background.load(std::memory_order_relaxed) > 0 || readers.load(std::memory_order_relaxed) > 0;
  }
  // Background work (an expiry storm, compaction, a watcher's catch-up) calls this between its batches,
  // holding no lock of the store's: a readers-writer lock is not fair, and released and taken again at
  // once it would starve the writers waiting for it. They go first; the wait is bounded.
  void let_writers_through() const {
    yield_while([this] { return writers.load(std::memory_order_relaxed) > 0; });
  }
  // Yields while `waiting()` holds, at most 10,000 times: whoever takes turns this way never waits on
  // another for ever.
  template <class Pred>
  static void yield_while(Pred waiting) {
    for (int spin = 0; spin < 10000 && waiting(); ++spin) std::this_thread::yield();
  }
  // Counts one in `waiters` for its scope: around a wait for the lock.
  class counted {
   public:
    explicit counted(std::atomic<int>& waiters) : waiters_(waiters) { waiters_.fetch_add(1, std::memory_order_relaxed); }
    ~counted() { waiters_.fetch_sub(1, std::memory_order_relaxed); }
    counted(const counted&) = delete;
    counted& operator=(const counted&) = delete;

   private:
    std::atomic<int>& waiters_;
  };
};

// Holds the store's lock exclusively for a caller's write, after applying any deferred writes.
class LEASEKV_SCOPED_CAPABILITY write_lock {
 public:
  write_lock(base::shared_mutex& mu, lock_queue& q) LEASEKV_ACQUIRE(mu) LEASEKV_NO_THREAD_SAFETY_ANALYSIS : mu_(mu) {
    acquire(q);
    q.apply_deferred();
  }
  // For a put that may itself be deferred: the deferred writes stay as they are.
  struct keep_deferred_t {};
  static constexpr keep_deferred_t keep_deferred{};
  write_lock(base::shared_mutex& mu, lock_queue& q, keep_deferred_t) LEASEKV_ACQUIRE(mu) LEASEKV_NO_THREAD_SAFETY_ANALYSIS
      : mu_(mu) {
    acquire(q);
  }
  ~write_lock() LEASEKV_RELEASE() { mu_.unlock(); }
  write_lock(const write_lock&) = delete;
  write_lock& operator=(const write_lock&) = delete;

 private:
  // Only a writer that has to wait says so: uncontended, it costs two relaxed loads more than a plain
  // lock.
  void acquire(lock_queue& q) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    if (!q.others_waiting() && mu_.try_lock()) return;
    const lock_queue::counted waiting(q.writers);
    lock_queue::yield_while([&] { return q.others_waiting(); });  // a waiting batch or reader goes first
    mu_.lock();
  }

  base::shared_mutex& mu_;
};

// Holds the store's lock shared, for a read.
class LEASEKV_SCOPED_CAPABILITY read_lock {
 public:
  // As for writers, only a reader that has to wait says so. A reader that finds deferred writes applies
  // them under the exclusive lock first, so it sees every write that returned before it began.
  read_lock(base::shared_mutex& mu, lock_queue& q) LEASEKV_ACQUIRE_SHARED(mu) LEASEKV_NO_THREAD_SAFETY_ANALYSIS : mu_(mu) {
    for (;;) {
      if (!mu_.try_lock_shared()) {
        const lock_queue::counted waiting(q.readers);
        mu_.lock_shared();
      }
      if (!q.deferred.load(std::memory_order_relaxed)) return;
      mu_.unlock_shared();
      const write_lock apply(mu_, q);
    }
  }
  ~read_lock() LEASEKV_RELEASE() { mu_.unlock_shared(); }
  read_lock(const read_lock&) = delete;
  read_lock& operator=(const read_lock&) = delete;

 private:
  base::shared_mutex& mu_;
};

// Holds the store's lock exclusively for one batch of background work.
class LEASEKV_SCOPED_CAPABILITY background_lock {
 public:
  background_lock(base::shared_mutex& mu, lock_queue& q) LEASEKV_ACQUIRE(mu) LEASEKV_NO_THREAD_SAFETY_ANALYSIS : mu_(mu) {
    {
      const lock_queue::counted waiting(q.background);
      mu_.lock();
    }
    q.apply_deferred();
  }
  ~background_lock() LEASEKV_RELEASE() { mu_.unlock(); }
  background_lock(const background_lock&) = delete;
  background_lock& operator=(const background_lock&) = delete;

 private:
  base::shared_mutex& mu_;
};

// The most work an expiry storm does per hold of the lock (store::impl::process_due), counted as one per
// lease plus one per key it deletes: ~250 µs on the development VM (~110 ns a key), so a writer waits
// about that long behind it at most. Counted rather than timed, so it reads no clock.
inline constexpr std::size_t expiry_hold_work = 2048;

struct store::impl final : lease::key_deleter, deferred_writes {
  explicit impl(options o);

  response_header header(std::int64_t rev) const { return {cluster_id, member_id, rev, raft_term}; }
  bool lease_known(lease_id id) const LEASEKV_REQUIRES_SHARED(mu) { return lessor.find(id) != nullptr; }
  // Needs no lock: lease_table::prefetch reads only what never changes once set.
  void prefetch_lease(lease_id id) const LEASEKV_NO_THREAD_SAFETY_ANALYSIS { lessor.prefetch(id); }
  result<void> check_open() const {
    if (closed.load(std::memory_order_acquire)) return errc::closed;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> check_writable() const {
    BOOST_OUTCOME_TRYV(check_open());
    if (opts.read_only) return errc::read_only;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  // A write that adds `adding` bytes fits the quota. As etcd's NOSPACE alarm, the first refusal refuses
  // every data-adding write until compaction brings the store back under the quota.
  result<void> check_quota(std::uint64_t adding) const LEASEKV_REQUIRES_SHARED(mu) {
    if (opts.quota_bytes == 0) return BOOST_OUTCOME_V2_NAMESPACE::success();
    if (no_space_alarm.load(std::memory_order_relaxed) || kv.bytes() + held.bytes() + adding > opts.quota_bytes) {
      no_space_alarm.store(true, std::memory_order_relaxed);
      return errc::no_space;
    }
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  // A range read under the read lock: check, select, then fill(hits, response) copies the selected
  // versions into the response while they cannot change.
  template <class Response, class Fill>
  result<Response> read_range(const key_range& r, const range_options& o, Fill fill) const LEASEKV_EXCLUDES(mu);

  // ---- the write path (store.cpp, persistence.cpp) ----
  // Whether a put may be held back (store::put): in memory only, with no watcher to tell, in a store of
  // at least options::hold_back_puts_from_keys keys, no background work in progress, and the put itself
  // one that may be (held_back_puts::may_hold).
  bool can_defer(std::string_view key, std::string_view value, const put_options& o) const LEASEKV_REQUIRES_SHARED(mu);
  // Holds a checked put back; returns its revision. Applies the held puts once the buffer is full.
  std::int64_t defer_put(std::string_view key, std::string_view value, lease_id lease) LEASEKV_REQUIRES(mu);
  // Applies the held puts, in order, each in a write group of its own: exactly what applying each at once
  // would have done, with their cache misses overlapping (held_back_puts::apply).
  void apply_deferred() override LEASEKV_REQUIRES(mu);
  void after_write() LEASEKV_REQUIRES(mu);
  // kv.end_write(), after_write() and maybe_snapshot(), for a write group commit() accepted.
  std::int64_t finish_write() LEASEKV_REQUIRES(mu);
  // Appends `rec` (plus the open write group's changes, if `group`) to the log. On failure the group is
  // undone and the error returned. In memory-only mode it only records nothing. Sets last_lsn.
  result<void> commit(storage::entry_record rec, bool group) LEASEKV_REQUIRES(mu);
  void maybe_snapshot() LEASEKV_REQUIRES(mu) {
    if (dir) snapshot_if_due();  // inline: in memory only, every write's whole cost is this test
  }
  void snapshot_if_due() LEASEKV_REQUIRES(mu);
  // The whole state as snapshot records (meta, keys, leases), for automatic snapshots and save_snapshot.
  void emit_snapshot(const std::function<void(std::string_view)>& emit) const LEASEKV_REQUIRES_SHARED(mu);
  result<void> durable(std::uint64_t lsn) LEASEKV_EXCLUDES(mu) {
    if (!dir || opts.sync != sync_policy::group_commit || lsn == 0) return BOOST_OUTCOME_V2_NAMESPACE::success();
    return dir->sync_to(lsn);
  }
  result<void> recover() LEASEKV_NO_THREAD_SAFETY_ANALYSIS;  // before start(): no other thread yet
  // Replays one log entry; `live` (a reader following a writer) also feeds attachments and watchers.
  bool apply_entry(const storage::entry_record& rec, bool live) LEASEKV_REQUIRES(mu);
  std::int64_t to_wall_ms(clock::time_point t) const;
  clock::time_point from_wall_ms(std::int64_t ms) const;

  // ---- leases (store_leases.cpp) ----
  result<void> delete_lease_keys(lease_id id, std::vector<lease::key_ref>& keys) override
      LEASEKV_NO_THREAD_SAFETY_ANALYSIS;
  // Renews `id` at `now` and records it; an expired lease is revoked instead (lease_not_found).
  result<const lease::lease_record*> renew(lease_id id, clock::time_point now) LEASEKV_REQUIRES(mu);
  lease_keep_alive_response keep_alive_response(const lease::lease_record& rec) const LEASEKV_REQUIRES_SHARED(mu);
  void end_keep_alives(lease_id id) LEASEKV_REQUIRES(mu);
  void schedule_renewal(std::shared_ptr<keep_alive::state> s, clock::time_point at) LEASEKV_REQUIRES(mu);
  void renew_next(clock::time_point at) LEASEKV_REQUIRES(mu);
  void process_due(clock::time_point target) LEASEKV_EXCLUDES(mu);
  std::optional<clock::time_point> next_timed() const LEASEKV_REQUIRES_SHARED(mu);
  void run_next_timed() LEASEKV_REQUIRES(mu);
  void let_writers_through() const LEASEKV_EXCLUDES(mu);
  std::optional<clock::time_point> next_event() const LEASEKV_EXCLUDES(mu);
  void start() LEASEKV_NO_THREAD_SAFETY_ANALYSIS;
  void poke(clock::time_point deadline) {
    if (driver) driver->poke(deadline);
  }

  // ---- transactions (store.cpp) ----
  result<void> check_puts(const txn_request& t, const std::vector<bool>& path, std::size_t& i) const
      LEASEKV_REQUIRES_SHARED(mu);
  result<void> check_ranges(const txn_request& t, const std::vector<bool>& path, std::size_t& i) const
      LEASEKV_REQUIRES_SHARED(mu);
  void apply(const txn_request& t, const std::vector<bool>& path, std::size_t& i, txn_response& out)
      LEASEKV_REQUIRES(mu);

  // Constant after open.
  const options opts;
  const std::shared_ptr<clock> clk;
  std::uint64_t cluster_id;  // from the data directory when there is one
  std::uint64_t member_id;
  const std::uint64_t raft_term = 2;
  const detail::limits lim;

  mutable base::shared_mutex mu;
  mutable lock_queue waiting;  // see write_lock, read_lock and background_lock
  mvcc::kv_store kv LEASEKV_GUARDED_BY(mu);
  lease::lessor lessor LEASEKV_GUARDED_BY(mu);
  // Keep-alive streams by next renewal time (ties in creation order).
  std::map<std::pair<clock::time_point, std::uint64_t>, std::shared_ptr<keep_alive::state>> renewals
      LEASEKV_GUARDED_BY(mu);
  std::uint64_t renewal_seq LEASEKV_GUARDED_BY(mu) = 0;
  detail::held_back_puts held LEASEKV_GUARDED_BY(mu);  // see can_defer and apply_deferred
  // Watchers with progress_notify, by next notification time.
  std::map<std::pair<clock::time_point, std::uint64_t>, std::weak_ptr<watcher::state>> progress_timers
      LEASEKV_GUARDED_BY(mu);
  std::shared_ptr<detail::watch_hub> hub;  // set by start(); then constant

  std::unique_ptr<storage::data_dir> dir;  // null in memory-only mode
  std::uint64_t last_lsn LEASEKV_GUARDED_BY(mu) = 0;

  base::mutex compaction_mu;  // one compaction at a time; taken before mu

  std::mutex close_mu;  // serializes close()
  std::atomic<bool> closed{false};  // set by close() before it takes `mu`: see store::close()
  mutable std::atomic<bool> no_space_alarm{false};  // see check_quota
  std::unique_ptr<manual_clock::subscription> subscription;
  std::unique_ptr<detail::expiry_driver> driver;
};

}  // namespace leasekv
