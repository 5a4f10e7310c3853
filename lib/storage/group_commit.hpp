// Group commit: many writers' log records made durable by few syncs, one at a time, fairly.
//
// A writer that appended a record (its log sequence number: the log's length once it was appended) calls
// wait(lsn). If a sync already made it durable, wait returns at once. If no sync is in flight, the writer
// leads: it runs one sync, which makes durable everything appended before the sync began (its own record
// and every record appended meanwhile by writers now waiting), publishes how far that reached, and wakes
// the waiters. Otherwise it sleeps until a sync ends and looks again: either that sync covered its record,
// or the next one will, which a writer not covered starts at once. So while a sync is in flight the
// records appended meanwhile gather for the next one, appends never wait for a sync, and a writer returns
// within two syncs of its append (plus the time to be woken): no writer can be
// overtaken for ever, as one queued on a mutex can.
//
// A leader syncs at once, without waiting for writers that may be about to append: with a batch of writers
// woken together, the first to come back syncs its record with those of the writers that were not
// covered, and the rest gather behind it (with 16 writers ~8 records a sync, as RocksDB's write group).
// Waiting for them (up to half a sync, for as many writers as the last batch had) gave full batches but
// fewer puts a second on the 2-core VM: the wait for 63 woken threads to be scheduled cost more than the
// sync it saved (docs/performance.md, issue 23).
//
// Errors: a failed sync fails every writer whose record it should have covered and every later one (a
// failed fdatasync may have dropped dirty pages: nothing after it can be trusted), as fail() does, which
// the owner also calls when it poisons the log for another reason. A writer whose record an earlier sync
// covered still succeeds: its record is on disk.
//
// Thread safety: all members may be called from any thread at once.
#pragma once

#include "leasekv/error.hpp"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace leasekv::storage {

class group_commit {
 public:
  // Makes durable everything appended so far; returns the log sequence number it made durable (at least
  // that of every record appended before it was called). Called by one leader at a time, with no lock of
  // the group commit's held.
  using sync_fn = std::function<result<std::uint64_t>()>;

  // Returns once the record ending at `lsn` is durable (leading a sync through `sync` if none is in
  // flight), or with the error of the sync that should have made it durable, or of an earlier one that
  // failed.
  result<void> wait(std::uint64_t lsn, const sync_fn& sync);
  // Records that everything up to `lsn` is durable (a sync made outside wait(), e.g. before a snapshot).
  void advance(std::uint64_t lsn);
  // Fails every writer whose record is not durable yet, now and from now on, with `e`.
  void fail(const error& e);
  // How far the records are durable.
  std::uint64_t durable() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable synced_cv_;  // a sync ended (or failed)
  // Guarded by mu_:
  std::uint64_t durable_ = 0;
  bool syncing_ = false;              // a leader is syncing
  std::optional<error> failed_;       // sticky
};

}  // namespace leasekv::storage
