// leasekv — how a store is opened: what it does (options) and how fast it does it (tuning_options).
//
// Behaviour options change what a caller can observe: limits, durability, identity, time. Tuning options
// never do: a store answers every call the same whatever they are set to, only sooner or later, in more
// or less memory. Each field's comment states its default's meaning and its valid range; a value out of
// range makes store::open() fail with invalid_argument, naming the option.
//
// Thread safety: plain values.
#pragma once

#include "leasekv/clock.hpp"
#include "leasekv/env.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace leasekv {

// When a write counts as acknowledged (see options::sync).
enum class sync_policy {
  per_write,     // each write is on disk (fdatasync) before its call returns
  group_commit,  // the same guarantee, but concurrent writers share one fdatasync
  none,          // written to the OS; a machine crash may lose the latest writes, a process crash does not
};

// How fast, never what: no field here changes an answer.
struct tuning_options {
  // Ask for transparent huge pages for the store's large tables and its keys' memory: a random access then
  // costs a cache miss without a TLB miss. Turn off where a huge page's first touch is expensive (some
  // VMs), or to keep resident memory in 4 KiB steps.
  bool huge_pages = true;
  // Fault the store's fresh memory in ahead of its writes, on one thread of the store's own at idle
  // priority (SCHED_IDLE), started once its memory first grows into regions of 2 MiB or more, so a write
  // rarely waits for a page fault. Off: the store starts no such thread; nothing else changes.
  bool prefault_memory = true;
  // In memory only, with no watcher, puts in a row are held back (up to 32) and applied together, their
  // cache misses overlapping, once the store holds at least this many keys. Every other call applies them
  // first, so no caller can tell (docs/design.md, "Puts in a row"). 0: always; SIZE_MAX: never.
  std::size_t hold_back_puts_from_keys = 65536;
  // The lease timing wheel's resolution: a lease expires at most one tick after its deadline. Positive.
  std::chrono::milliseconds lease_tick{1};
  // During an expiry storm, at most this many leases are revoked per hold of the write lock (with their
  // keys, a bounded amount of work), so other writers keep going. 0 means 1.
  std::size_t expiry_batch = 1024;
  // A watcher with more undelivered events than this leaves the live path and catches up from history:
  // a slow consumer costs history reads, never unbounded memory.
  std::size_t watch_max_pending_events = 100000;
  // A data directory's log is snapshotted, and started afresh, when it grows past this many bytes.
  std::uint64_t snapshot_after_bytes = 64ull << 20;
};

struct options {
  // ---- limits (etcd's) ----
  // The largest request accepted, in bytes (keys + values + range ends). etcd's default: 1.5 MiB.
  std::size_t max_request_bytes = 1572864;
  // The most compares, or ops in one branch, of a txn. etcd's default: 128.
  std::size_t max_txn_ops = 128;
  // The most bytes of retained data (every version's key and value, plus 64 bytes each) before writes that
  // add data (puts, txns with puts, lease grants) are refused with errc::no_space. Reads, deletes, revokes
  // and compaction still work, and writes resume once compaction has freed space. 0: no quota.
  std::uint64_t quota_bytes = 0;

  // ---- identity ----
  // Reported in every response header; 0 picks a random one, fixed for the store's life (a data
  // directory keeps the ids it was created with).
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
  // The raft term every response header reports. leasekv has no raft; this mirrors a single etcd member,
  // whose term is 2 when it first starts and one more at each restart (leasekv-server keeps that count
  // beside its data directory). Positive.
  std::uint64_t raft_term = 2;
  // Where the store logs; null (the default) keeps it silent.
  std::shared_ptr<spdlog::logger> logger;

  // ---- leases ----
  // The clock deadlines are measured on; null means clock::system(). With a manual_clock, leases expire
  // inside manual_clock::advance(); with another clock, a timer fires at each deadline.
  std::shared_ptr<leasekv::clock> clock;
  // TTLs below this are raised to it (etcd raises to 2 s). The default 0 keeps TTLs as given; a TTL <= 0
  // is then refused with invalid_argument. Negative, or above max_lease_ttl: open() fails.
  std::chrono::milliseconds min_lease_ttl{0};
  // Where the expiry timer runs (real clock only); empty means a thread owned by the store. The executor's
  // context must outlive the store.
  boost::asio::any_io_executor executor;
  // On open, leases keep their wall-clock deadlines (those already past are revoked at once). With this
  // set, every lease restarts with its full TTL instead, as etcd does.
  bool lease_restart_full_ttl = false;

  // ---- watch ----
  // How long a watcher with progress_notify may see no event before it gets a progress notification.
  // Positive.
  std::chrono::milliseconds watch_progress_interval{10 * 60 * 1000};

  // ---- durability ----
  // A directory to keep the store in (created if missing); empty (the default) keeps it in memory only.
  // See docs/storage-format.md.
  std::string data_dir;
  // The file system it goes through; null means env::posix().
  std::shared_ptr<leasekv::env> env;
  sync_policy sync = sync_policy::per_write;
  // One writer per data directory: a second one waits this long for the lock, then fails with
  // errc::locked (the error's detail names the process holding it). Not negative.
  std::chrono::milliseconds lock_timeout{2000};
  // Open without the writer's lock, for reading beside a writer; writes fail with errc::read_only.
  bool read_only = false;

  // ---- tuning ----
  tuning_options tuning;
};

}  // namespace leasekv
