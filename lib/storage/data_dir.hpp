// A data directory: the write-ahead log, snapshots and the writer's lock.
//
//   snap-N.snap   the whole state after every record of the segments before N
//   wal-N.log     records appended after snap-N, until snap-(N+1) is taken
//   LOCK          flock()ed by the one writer; holds its pid
//
// Opening loads the newest snapshot snap-S and replays the segments from wal-S on. A torn last record of
// the last segment is cut off (and logged); any other damage fails the open with errc::corrupt and
// the error's detail naming the file and offset — a missing wal-S included: the log is never taken for
// an empty one. Nothing is returned from a record whose checksum fails. Every I/O error names its file
// in its detail.
//
// Appends: a failed append is cut back off the file, so the log never holds half a record; if that cut
// fails too, or a sync fails (the segment deleted under the writer included), the directory is poisoned:
// every later append fails with errc::io_error.
//
// A snapshot counts only once the segment after it exists: wal-(N+1) is made under a temporary name,
// renamed into place (from then on appends go to it), and only then is snap-(N+1) renamed into place.
// So wal-(N+1) exists exactly when appends go to it, and a reader following wal-N knows it is complete
// once wal-(N+1) exists.
//
// The offline tools (a snapshot's status, restore, check) are in data_dir_tools.cpp, behind the public
// include/leasekv/data_dir_tools.hpp; they read files through replay.hpp, as recovery does.
//
// Syncs: sync_to() goes through a group_commit (group_commit.hpp): one fdatasync at a time, covering
// every record appended before it began, while the records appended meanwhile gather for the next.
//
// Thread safety: append(), snapshot(), wants_snapshot(), follow() and close() under the store's write
// lock; sync_to() from any thread (group commit: concurrent callers share one fsync), also concurrently
// with append(), snapshot() and close().
#pragma once

#include "leasekv/env.hpp"
#include "leasekv/error.hpp"
#include "storage/files.hpp"
#include "storage/group_commit.hpp"
#include "storage/records.hpp"
#include "storage/replay.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace leasekv::storage {

struct data_dir_options {
  bool read_only = false;
  std::chrono::milliseconds lock_timeout{0};
  std::uint64_t snapshot_after_bytes = 64ull << 20;
  std::shared_ptr<spdlog::logger> logger;
};

class data_dir {
 public:
  // Opens `path` (creating it, with an empty snapshot carrying `fresh`, if it holds none). Read-only, a
  // directory that does not exist (or holds nothing yet) is the empty store `fresh` and nothing is created;
  // follow() picks the writer up once it creates it. A read-only open retries its listing a few times
  // when a file it listed vanished (the writer took a snapshot meanwhile).
  static result<std::unique_ptr<data_dir>> open(std::shared_ptr<env> e, std::string path, const data_dir_options& o,
                                                const snap_meta_record& fresh, const recovery_sink& sink);
  ~data_dir();

  // Appends one record; returns its log sequence number for sync_to(). Fails with errc::closed after
  // close(), errc::io_error once poisoned.
  result<std::uint64_t> append(std::string_view body);
  // Makes every record up to `lsn` durable: returns once a sync covered it, leading one if none is in
  // flight (group_commit::wait). Fails with the error of the sync that should have covered it, or
  // errc::io_error once poisoned. After close(): succeeds for what close() made durable, errc::io_error
  // if its sync failed.
  result<void> sync_to(std::uint64_t lsn);
  // Makes everything appended durable, then releases the segment and the LOCK file. Later appends and
  // snapshots fail with errc::closed. Fails (and poisons) if the sync fails. Idempotent.
  result<void> close();
  bool poisoned() const { return poisoned_.load(std::memory_order_acquire); }

  // True when the current segment has grown past snapshot_after_bytes, and, after a failed snapshot, by
  // another snapshot_after_bytes/8 since it failed: a disk that stays full costs one attempt per that
  // much log, not a whole snapshot written in vain on every write.
  bool wants_snapshot() const;
  // Writes a snapshot of the current state (`produce` emits record bodies through its argument), starts
  // a new segment and removes the files the snapshot supersedes. On a failure before the new segment is
  // in place nothing changes (appends go on to the current segment); after it, the snapshot does not
  // count (recovery replays from the one before). A failed sync of the current segment or of the
  // directory once the new segment is in place poisons.
  result<void> snapshot(const record_producer& produce);

  // Read-only: applies the records the writer appended since the last call (following it into new
  // segments) through `sink.entry`. Returns whether anything was applied. An incomplete last record is
  // not written yet: it is read next time. Fails with errc::stale if the writer removed a segment this
  // reader had not finished (it fell more than a snapshot behind).
  result<bool> follow(const recovery_sink& sink);

  const std::string& path() const { return path_; }
  std::uint64_t segment() const { return seq_; }

 private:
  struct contents;
  data_dir(std::shared_ptr<env> e, std::string path, const data_dir_options& o);
  result<contents> read_contents();
  result<void> recover(contents& c, const recovery_sink& sink);
  result<void> create(const snap_meta_record& fresh);
  result<bool> writer_started();
  result<void> sync_failed(const std::string& file, const boost::system::error_code& ec);
  void remove_superseded(std::uint64_t snap);
  result<void> try_snapshot(const record_producer& produce);
  // One sync of the current segment for group_commit: everything appended to it so far.
  result<std::uint64_t> sync_appended();

  const std::shared_ptr<env> env_;
  const std::string path_;
  const data_dir_options opts_;
  std::unique_ptr<file_lock> lock_;

  std::uint64_t seq_ = 0;                 // the current segment (written under file_mu_)
  std::uint64_t read_offset_ = 0;         // read-only: how much of it was applied (0: not even its header)
  std::uint64_t snapshot_retry_size_ = 0; // after a failed snapshot: the segment size due for the next try
  std::optional<snap_meta_record> empty_; // read-only, opened before the writer created the directory
  std::shared_ptr<writable_file> file_;   // guarded by file_mu_ for sync_to's readers
  std::mutex file_mu_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> appended_{0};
  std::atomic<bool> poisoned_{false};
  group_commit commit_;                   // who syncs, who waits, how far is durable
};

}  // namespace leasekv::storage
