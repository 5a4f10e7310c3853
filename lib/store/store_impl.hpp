// The embedded store's state: the MVCC store, the lessor, the watch hub and the data directory under one
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

#include "leasekv/store.hpp"

#include "base/mutex.hpp"
#include "base/prefaulter.hpp"
#include "lease/lessor.hpp"
#include "mvcc/kv_store.hpp"
#include "storage/data_dir.hpp"
#include "store/embedded_store.hpp"
#include "store/expiry_driver.hpp"
#include "store/keep_alive_stream.hpp"
#include "store/lock_queue.hpp"
#include "store/held_back_puts.hpp"
#include "store/validate.hpp"
#include "watch/watch_hub.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace leasekv {

namespace detail {
// A random non-zero id (cluster, member and lease ids).
std::uint64_t random_id();
}  // namespace detail

using detail::background_lock;
using detail::deferred_writes;
using detail::lock_queue;
using detail::read_lock;
using detail::write_lock;

// The most work an expiry storm does per hold of the lock (process_due), counted as one per lease plus one
// per key it deletes: it bounds how long a writer waits behind a storm (docs/performance.md has the
// figure). Counted rather than timed, so it reads no clock.
inline constexpr std::size_t expiry_hold_work = 2048;

struct embedded_store::impl final : lease::key_deleter, deferred_writes {
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

  // ---- transactions (txn.cpp) ----
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
  const std::uint64_t raft_term;  // options::raft_term
  const detail::limits lim;

  mutable base::shared_mutex mu;
  mutable lock_queue waiting;  // see write_lock, read_lock and background_lock
  // The store's one prefaulter, lent to kv's arenas and hash index (before kv: it outlives them); null
  // with options::prefault_memory off.
  const std::unique_ptr<base::prefaulter> prefaulter;
  mvcc::kv_store kv LEASEKV_GUARDED_BY(mu);
  lease::lessor lessor LEASEKV_GUARDED_BY(mu);
  detail::keep_alive_schedule keep_alives LEASEKV_GUARDED_BY(mu);
  detail::held_back_puts held LEASEKV_GUARDED_BY(mu);  // see can_defer and apply_deferred
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
