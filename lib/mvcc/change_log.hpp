// The change log: every retained version of a store since its compacted revision, in revision order.
//
// A watcher replaying history reads it from its next revision on, a bounded batch per hold of the store's
// lock, instead of walking every key of its range and sorting what it found. A record is the version and
// its key's entry: 16 bytes per version, appended with each change of a write group.
//
// Which records it holds. kv_store appends one per change (put or tombstone), in revision order; an
// aborted write group's records are popped again. Compaction at R first drops every record below R, and
// at R itself every record whose version compaction at R frees (a key's older versions at R, and a
// tombstone that is the key's newest version <= R): so every record the log holds points at a live
// version and entry, and compaction batches, which run later, free none of them. A snapshot's versions
// arrive key by key: they are appended unsorted, and sorted once the snapshot is in (see
// kv_store::end_restore).
//
// Records are numbered by a sequence number that only grows (positions stay valid while their records
// are held), and live in chunks of 2 MiB mapped on their own, so the memory compaction frees goes back to
// the system.
//
// Thread safety: none; kv_store's caller holds the store's lock (exclusive to change, shared to read).
#pragma once

#include "mvcc/key_index.hpp"
#include "mvcc/revision.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>

namespace leasekv::mvcc {

class change_log {
 public:
  struct record {
    const key_entry* entry;
    const key_version* version;
  };

  change_log() = default;
  ~change_log();
  change_log(const change_log&) = delete;
  change_log& operator=(const change_log&) = delete;

  void append(const key_entry* e, const key_version* v) {
    if (tail_ == limit_) grow();
    *tail_++ = {e, v};
    ++end_;
  }
  // Removes the newest n records. REQUIRES: n <= size().
  void pop_back(std::size_t n);

  // Positions [begin(), end()) of the records held.
  std::uint64_t begin() const { return begin_; }
  std::uint64_t end() const { return end_; }
  std::size_t size() const { return static_cast<std::size_t>(end_ - begin_); }
  // REQUIRES: begin() <= pos < end().
  const record& at(std::uint64_t pos) const { return chunks_[(pos >> chunk_shift) - first_chunk_][pos & chunk_mask]; }
  // The position of the first record at or after `r` (end() if none). REQUIRES: sorted.
  std::uint64_t lower_bound(revision r) const;

  // Drops every record below revision `rev`, and of those at `rev` the ones for which keep(record) is
  // false (the rest keep their order). REQUIRES: sorted.
  template <class Keep>
  void compact(std::int64_t rev, Keep keep);
  // Sorts the records by revision (after a snapshot's versions were appended key by key).
  void sort();

 private:
  static constexpr int chunk_shift = 17;  // 131,072 records of 16 bytes: 2 MiB
  static constexpr std::uint64_t chunk_records = std::uint64_t{1} << chunk_shift;
  static constexpr std::uint64_t chunk_mask = chunk_records - 1;
  record& slot(std::uint64_t pos) { return chunks_[(pos >> chunk_shift) - first_chunk_][pos & chunk_mask]; }
  // Makes room for the record at end_.
  void grow();
  // Frees the chunks that hold no record of [begin_, end_), and points tail_ at end_'s slot.
  void release();

  std::deque<record*> chunks_;     // chunk number first_chunk_ + i holds positions from its number << chunk_shift
  std::uint64_t first_chunk_ = 0;
  std::uint64_t begin_ = 0;
  std::uint64_t end_ = 0;
  record* tail_ = nullptr;   // end_'s slot, or equal to limit_ when it has none yet
  record* limit_ = nullptr;
};

template <class Keep>
void change_log::compact(std::int64_t rev, Keep keep) {
  const std::uint64_t first = lower_bound({rev, 0});
  const std::uint64_t stop = lower_bound({rev + 1, 0});
  // The survivors at `rev` move up against `stop`, in order; the log then starts at the first of them.
  std::uint64_t to = stop;
  for (std::uint64_t from = stop; from > first;) {
    --from;
    if (keep(at(from))) slot(--to) = at(from);
  }
  begin_ = to;
  release();
}

}  // namespace leasekv::mvcc
