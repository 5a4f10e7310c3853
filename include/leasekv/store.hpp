// leasekv — the store: etcd v3's key-value, lease and watch API, with its MVCC semantics.
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
// consistent revision. In the embedded store, readers do not block each other and a write excludes
// readers only while it applies.
#pragma once

#include "leasekv/clock.hpp"
#include "leasekv/env.hpp"
#include "leasekv/error.hpp"
#include "leasekv/lease.hpp"
#include "leasekv/options.hpp"
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

namespace leasekv {

namespace detail {
class store_anchor;
}

// A keep-alive stream: renews one lease until cancelled or the lease ends (store::start_keep_alive).
// Thread safety: id() and cancel() may be called from any thread, cancel() from inside its handler too.
class keep_alive {
 public:
  virtual ~keep_alive() = default;
  keep_alive(const keep_alive&) = delete;
  keep_alive& operator=(const keep_alive&) = delete;

  virtual lease_id id() const = 0;
  // Stops renewing. No handler of this stream runs after cancel() returns. The destructor cancels.
  virtual void cancel() = 0;

 protected:
  keep_alive() = default;
};

// Receives each renewal of a keep-alive stream, then lease_not_found once when the lease ends.
using keep_alive_handler = std::function<void(boost::system::error_code, const lease_keep_alive_response&)>;

// The store: etcd v3's KV, Lease and Watch services as C++ calls. An abstract interface, as LevelDB's DB:
// store::open() returns the embedded store (in this process, in memory or in a data directory); another
// backend may implement the same calls. txn_builder, session, watchers and keep-alive streams work
// through this interface only.
class store {
 public:
  // Opens the embedded store. With default options: an empty in-memory store at revision 1. Options out
  // of their documented range fail with invalid_argument (the error's detail names the option).
  static result<std::unique_ptr<store>> open(options opts = {});

  virtual ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Puts `value` at `key`. Fails with key_not_provided (empty key), request_too_large,
  // value_provided / lease_provided (ignore_* together with a value / lease), key_not_found (ignore_* on
  // a missing key), lease_not_found. On failure nothing changes.
  virtual result<put_response> put(std::string_view key, std::string_view value, put_options o = {}) = 0;

  // Reads one key: range(key_range(key), o).
  result<range_response> get(std::string_view key, range_options o = {}) { return range(key_range(key), o); }

  // Reads the keys of `r` as of o.revision (<= 0: now). Fails with key_not_provided, compacted (below
  // the compacted revision) or future_revision. The header carries the current revision.
  virtual result<range_response> range(const key_range& r, range_options o = {}) = 0;

  // range(), with the keys and values in one buffer the response owns instead of a string each: for
  // reads of many keys, where two allocations per key would cost more than the read itself.
  virtual result<range_view_response> range_view(const key_range& r, range_options o = {}) = 0;

  // Deletes the keys of `r` at one revision. Deleting nothing takes no revision.
  virtual result<delete_response> delete_range(const key_range& r, delete_options o = {}) = 0;

  // Runs a transaction; see txn.hpp. Validation errors (too_many_ops, duplicate_key, key_not_provided,
  // key_not_found, compacted, future_revision, request_too_large) leave the store unchanged.
  virtual result<txn_response> txn(const txn_request& t) = 0;
  // A builder committing to this store; it may outlive the store (commit() then fails with closed).
  txn_builder txn() { return txn_builder(anchor_); }

  // Forgets the versions superseded at or before `revision`: reads below it then fail with compacted.
  // Fails with compacted if revision <= the compacted revision, future_revision if above the current.
  virtual result<compact_response> compact(std::int64_t revision, compact_options o = {}) = 0;

  // The current revision, and the compacted revision (-1 if never compacted, as in etcd).
  virtual std::int64_t revision() const = 0;
  virtual std::int64_t compacted_revision() const = 0;

  // ---- leases (etcd's Lease service) ----

  // Grants a lease of `ttl` (millisecond resolution). id 0 lets the store choose a unique positive id;
  // any other id is used as given. Fails with lease_exists, lease_ttl_too_large (above max_lease_ttl), or
  // invalid_argument (ttl <= 0 and no min_lease_ttl). Takes no revision.
  virtual result<lease_grant_response> grant(std::chrono::milliseconds ttl, lease_id id = no_lease) = 0;

  // Deletes every key attached to the lease at one revision (in key order; none if it has no keys) and
  // the lease with them. Fails with lease_not_found.
  virtual result<lease_revoke_response> revoke(lease_id id) = 0;

  // Renews the lease to its full TTL from now. Fails with lease_not_found for an unknown lease, or one
  // whose deadline has passed (it is revoked then, never resurrected).
  virtual result<lease_keep_alive_response> keep_alive_once(lease_id id) = 0;

  // A keep-alive stream (clientv3's Lease.KeepAlive): renews lease `id` now (failing with
  // lease_not_found if it is unknown or expired), then every third of its TTL, calling `handler` with each
  // renewal on `ex` (empty: Asio's system executor), and once more with lease_not_found when the lease
  // ends. Handlers never run inside this call, and never after cancel() returns.
  virtual result<std::unique_ptr<keep_alive>> start_keep_alive(lease_id id, boost::asio::any_io_executor ex,
                                                               keep_alive_handler handler) = 0;

  // The lease's remaining and granted TTL and, if asked, its keys. An unknown lease is not an error: the
  // answer has ttl -1 and granted_ttl 0, as etcd's.
  virtual result<lease_time_to_live_response> time_to_live(lease_id id, time_to_live_options o = {}) = 0;

  // Every lease, soonest expiry first.
  virtual result<lease_leases_response> leases() = 0;

  // ---- watch (etcd's Watch service; see watch.hpp) ----

  // Watches `r` (an empty key means "\0", as in etcd), calling `handler` with each response on `ex`
  // (empty: Asio's system executor); a null handler leaves the responses for watcher::async_next. Fails
  // with watch_range_empty (a range_end <= key) or invalid_argument (a negative start_revision). A
  // start_revision below the compacted revision gives a watcher whose only response is cancelled with
  // compact_revision set.
  virtual result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                                 watch_handler handler) = 0;
  // The same, for pulling responses with watcher::async_next.
  result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex) {
    return watch(std::move(r), o, std::move(ex), nullptr);
  }

  // ---- maintenance ----

  // Writes a consistent copy of the whole store (every retained version, the compaction point, the leases
  // with their deadlines) to `path`, in the snapshot format of docs/storage-format.md, then syncs it.
  // leasekv/data_dir_tools.hpp restores a data directory from it (leasekvctl snapshot restore).
  virtual result<void> save_snapshot(const std::string& path) = 0;

  // Brings a store that follows another's writes up to date and returns its revision: an embedded store
  // opened read-only beside a writer applies what the writer has appended since it was opened or last
  // refreshed (watchers see it as live events), and fails with errc::stale if the writer's log moved on
  // too far (reopen then). A store that is always current (writable, in memory) returns its revision.
  virtual result<std::int64_t> refresh() = 0;

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
  virtual void close() = 0;

  // What the store holds, for tests and tools. The embedded store counts all of it exactly; a backend
  // that cannot count a field reports 0 for it.
  struct stats {
    std::size_t keys = 0;          // live keys at the current revision
    std::size_t index_entries = 0; // keys with any retained history (live or tombstoned)
    std::size_t versions = 0;      // retained versions, tombstones included
    std::size_t leases = 0;        // granted leases
    std::uint64_t bytes = 0;       // what the quota measures
  };
  virtual stats statistics() const = 0;

 protected:
  store();
  // Implementations call this first in their destructor: a txn_builder or session calling in afterwards
  // gets errc::closed instead of a half-destroyed store. Waits for such calls in progress. Idempotent.
  void detach_anchor() noexcept;

 private:
  friend class session;
  // Shared with the txn_builders and sessions made from this store (see lib/store/anchor.hpp).
  std::shared_ptr<detail::store_anchor> anchor_;
};

}  // namespace leasekv
