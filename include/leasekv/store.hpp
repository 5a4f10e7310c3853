// leasekv — the store: an embedded key-value store with etcd v3's MVCC semantics.
//
//   auto store = leasekv::store::open({}).value();              // in-memory
//   auto put   = store->put("/tmp/pid", "2187").value();        // put.header.revision == 2
//   auto got   = store->get("/tmp/pid").value();                // got.kvs[0].value == "2187"
//   auto page  = store->range(leasekv::prefix("/tmp/"), {.limit = 10}).value();
//
// Revisions: an empty store is at revision 1. Every call that changes something takes the next
// revision; calls that change nothing (deleting nothing, a txn whose branch writes nothing) do not.
//
// Thread safety: a store is safe to use from any number of threads at once. Every read sees one
// consistent revision; readers do not block each other; a write excludes readers only while it applies.
#pragma once

#include "leasekv/clock.hpp"
#include "leasekv/env.hpp"
#include "leasekv/error.hpp"
#include "leasekv/lease.hpp"
#include "leasekv/txn.hpp"
#include "leasekv/types.hpp"
#include "leasekv/watch.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <cstdint>
#include <memory>
#include <string_view>

namespace spdlog {
class logger;
}

namespace leasekv {

namespace detail {
class store_anchor;
}

class keep_alive;
// Receives each renewal of a keep-alive stream, then lease_not_found once when the lease ends.
using keep_alive_handler = std::function<void(boost::system::error_code, const lease_keep_alive_response&)>;

// When a write counts as acknowledged (see options::sync).
enum class sync_policy {
  per_write,     // each write is on disk (fdatasync) before its call returns
  group_commit,  // the same guarantee, but concurrent writers share one fdatasync
  none,          // written to the OS; a machine crash may lose the latest writes, a process crash does not
};

struct options {
  // The largest request accepted, in bytes (keys + values + range ends). etcd's default: 1.5 MiB.
  std::size_t max_request_bytes = 1572864;
  // The most compares, or ops in one branch, of a txn. etcd's default: 128.
  std::size_t max_txn_ops = 128;
  // The most bytes of retained data (every version's key and value, plus 64 bytes each) before writes that
  // add data (puts, txns with puts, lease grants) are refused with errc::no_space ("etcdserver: mvcc:
  // database space exceeded"). Reads, deletes, revokes and compaction still work, and writes resume once
  // compaction has freed space. 0: no quota.
  std::uint64_t quota_bytes = 0;
  // Identity reported in every response header; 0 picks a random one, fixed for the store's life.
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
  // Where the store logs; null (the default) keeps it silent.
  std::shared_ptr<spdlog::logger> logger;
  // Ask for transparent huge pages for the store's large tables and its keys' memory, so a random access
  // costs a cache miss and no TLB miss on top (gets ~25% faster at a million keys). Turn it off where a
  // huge page's first touch is dear: on some VMs it takes ~4 ms against ~0.8 ms for the same memory in
  // 4 KiB pages, which slows writes into fresh memory (README, Performance).
  bool huge_pages = true;
  // Fault the store's fresh memory in ahead of its first writes, on one thread of the store's own at idle
  // priority (SCHED_IDLE), started once its memory first grows into regions of 2 MiB or more. Off: the
  // store starts no such thread and writes fault their pages in themselves; nothing else changes.
  bool prefault_memory = true;
  // In memory only, with no watcher, puts in a row are held back (up to 32) and applied together, their
  // cache misses overlapping, once the store holds at least this many keys; every other call applies them
  // first, so nobody can tell (docs/design.md, "Puts in a row"). Smaller stores fit the caches, where
  // holding back only costs. 0: always; SIZE_MAX: never.
  std::size_t hold_back_puts_from_keys = 65536;

  // ---- leases ----
  // The clock deadlines are measured on; null means clock::system(). With a manual_clock, leases expire
  // inside manual_clock::advance(); with another clock, a steady_timer fires at each deadline.
  std::shared_ptr<leasekv::clock> clock;
  // TTLs below this are raised to it (etcd raises to 2 s). The default 0 keeps TTLs as given; a TTL <= 0
  // is then refused with invalid_argument. Negative, or above max_lease_ttl: open() fails.
  std::chrono::milliseconds min_lease_ttl{0};
  // The lease timing wheel's resolution: a lease expires at most one tick after its deadline. Must be
  // positive (open() fails with invalid_argument otherwise).
  std::chrono::milliseconds lease_tick{1};
  // During an expiry storm, at most this many leases are revoked per hold of the write lock (and at most
  // ~2,000 keys deleted, ~250 µs of work), so other writers keep going.
  std::size_t expiry_batch = 1024;
  // Where the expiry timer runs (real clock only); empty means a thread owned by the store. The executor's
  // context must outlive the store.
  boost::asio::any_io_executor executor;

  // ---- watch ----
  // A watcher with more undelivered events than this leaves the live path and catches up from history.
  std::size_t watch_max_pending_events = 100000;
  // How long a watcher with progress_notify may see no event before it gets a progress notification.
  // Must be positive.
  std::chrono::milliseconds watch_progress_interval{10 * 60 * 1000};

  // ---- durability ----
  // A directory to keep the store in (created if missing); empty (the default) keeps it in memory only.
  // See docs/storage-format.md.
  std::string data_dir;
  // The file system it goes through; null means env::posix().
  std::shared_ptr<leasekv::env> env;
  sync_policy sync = sync_policy::per_write;
  // A snapshot is taken, and the log started afresh, when the log grows past this.
  std::uint64_t snapshot_after_bytes = 64ull << 20;
  // One writer per data directory: a second one waits this long for the lock, then fails with
  // errc::locked (last_error_detail() names the process holding it). Must not be negative.
  std::chrono::milliseconds lock_timeout{2000};
  // Open without the writer's lock, for reading beside a writer; writes fail with errc::read_only.
  bool read_only = false;
  // On open, leases keep their wall-clock deadlines (those already past are revoked at once). With this
  // set, every lease restarts with its full TTL instead, as etcd does.
  bool lease_restart_full_ttl = false;
};

class store {
 public:
  // Opens a store. With default options: an empty in-memory store at revision 1. Options out of their
  // documented range fail with invalid_argument (last_error_detail() names the option).
  static result<std::unique_ptr<store>> open(options opts = {});

  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Puts `value` at `key`. Fails with key_not_provided (empty key), request_too_large,
  // value_provided / lease_provided (ignore_* together with a value / lease), key_not_found (ignore_* on
  // a missing key). On failure nothing changes.
  result<put_response> put(std::string_view key, std::string_view value, put_options o = {});

  // Reads one key. Same as range(key, o).
  result<range_response> get(std::string_view key, range_options o = {});

  // Reads the keys of `r` as of o.revision (<= 0: now). Fails with key_not_provided, compacted (below
  // the compacted revision) or future_revision. The header carries the current revision.
  result<range_response> range(const key_range& r, range_options o = {});

  // range(), with the keys and values in one buffer the response owns instead of a string each: for
  // reads of many keys, where two allocations per key would cost more than the read itself.
  result<range_view_response> range_view(const key_range& r, range_options o = {});

  // Deletes the keys of `r` at one revision. Deleting nothing takes no revision.
  result<delete_response> delete_range(const key_range& r, delete_options o = {});

  // Runs a transaction; see txn.hpp. Validation errors (too_many_ops, duplicate_key, key_not_provided,
  // key_not_found, compacted, future_revision, request_too_large) leave the store unchanged.
  result<txn_response> txn(const txn_request& t);
  txn_builder txn() { return txn_builder(anchor_); }

  // Forgets the versions superseded at or before `revision`: reads below it then fail with compacted.
  // Fails with compacted if revision <= the compacted revision, future_revision if above the current.
  // Memory is freed before the call returns, in batches so that concurrent writers keep going.
  result<compact_response> compact(std::int64_t revision, compact_options o = {});

  // The current revision, and the compacted revision (-1 if never compacted, as in etcd).
  std::int64_t revision() const;
  std::int64_t compacted_revision() const;

  // ---- leases (etcd's Lease service) ----

  // Grants a lease of `ttl` (millisecond resolution). id 0 lets the store choose a unique positive id;
  // any other id is used as given. Fails with lease_exists, lease_ttl_too_large (above max_lease_ttl), or
  // invalid_argument (ttl <= 0 and no min_lease_ttl). Takes no revision.
  result<lease_grant_response> grant(std::chrono::milliseconds ttl, lease_id id = no_lease);

  // Deletes every key attached to the lease at one revision (in key order; none if it has no keys) and
  // the lease with them. Fails with lease_not_found.
  result<lease_revoke_response> revoke(lease_id id);

  // Renews the lease to its full TTL from now. Fails with lease_not_found for an unknown lease, or one
  // whose deadline has passed (it is revoked then, never resurrected).
  result<lease_keep_alive_response> keep_alive_once(lease_id id);

  // The lease's remaining and granted TTL and, if asked, its keys. An unknown lease is not an error: the
  // answer has ttl -1 and granted_ttl 0, as etcd's.
  result<lease_time_to_live_response> time_to_live(lease_id id, time_to_live_options o = {});

  // Every lease, soonest expiry first.
  result<lease_leases_response> leases();

  // ---- watch (etcd's Watch service; see watch.hpp) ----

  // Watches `r` (an empty key means "\0", as in etcd), calling `handler` with each response on `ex`
  // (empty: Asio's system executor). Fails with watch_range_empty (a range_end <= key) or
  // invalid_argument (a negative start_revision). A start_revision below the compacted revision gives a
  // watcher whose only response is cancelled with compact_revision set.
  result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                         watch_handler handler);
  // The same, for pulling responses with watcher::async_next.
  result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex);

  // Keep-alive streams and sessions: see session.hpp.
  friend result<std::unique_ptr<keep_alive>> start_keep_alive(store& s, lease_id id, boost::asio::any_io_executor ex,
                                                              keep_alive_handler handler);

  // Writes a consistent copy of the whole store (every retained version, the compaction point, the leases
  // with their deadlines) to `path`, in the snapshot format of docs/storage-format.md, then syncs it. See
  // storage's restore for making a data directory of it (leasekvctl snapshot restore).
  result<void> save_snapshot(const std::string& path);

  // For a read-only store beside a writer: applies what the writer has appended since it was opened or
  // last refreshed (watchers see it as live events). Returns the revision. A writable or in-memory store
  // has nothing to refresh. Fails with errc::stale if the writer's log moved on too far: reopen then.
  result<std::int64_t> refresh();

  // Stops expiry processing and releases the data directory. It may race calls on other threads: each
  // of those either fails with errc::closed or completes (a write then is on disk as its sync policy
  // promises). Calls begun after close() returned fail with errc::closed. Once close() returns, no
  // expiry, renewal or watch delivery of this store runs any more; pending async_next calls complete with
  // operation_aborted. Idempotent; concurrent calls all return once the store is closed. The destructor
  // closes too.
  //
  // Lifetimes: the store must not be destroyed while another thread is inside one of its calls (close()
  // first, then join those threads). Objects made from it may outlive it: a txn_builder or session then
  // fails with errc::closed, a watcher or keep_alive stops; see docs/design.md, "Lifetimes".
  void close();

  // Statistics for tests and tools.
  struct stats {
    std::size_t keys = 0;          // live keys at the current revision
    std::size_t index_entries = 0; // keys with any retained history (live or tombstoned)
    std::size_t versions = 0;      // retained versions, tombstones included
    std::size_t leases = 0;        // granted leases
    std::uint64_t bytes = 0;       // what the quota measures
  };
  stats statistics() const;

 private:
  friend class session;
  struct impl;
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  // Shared with the txn_builders and sessions made from this store (see lib/store/anchor.hpp).
  std::shared_ptr<detail::store_anchor> anchor_;
};

}  // namespace leasekv
