// The MVCC key-value engine: versions of keys by revision, ranges, writes and compaction.
//
// kv_store applies requests that were already validated (see txn_check.hpp); it reports the only errors
// that depend on its state: compacted and future revisions. Writes are grouped: begin_write(), any number
// of put()/delete_range(), end_write(). All changes of one group share one main revision, each with its
// own sub-revision; a group that changed nothing takes no revision. Reads inside a group see its writes.
// Puts in a row can be applied together (apply_puts), each in a group of its own, with their cache
// misses overlapping.
//
// Thread safety: none. The store holds its lock exclusively around writes and compaction batches and
// shared around reads; versions are immutable once linked, so concurrent readers are safe.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/types.hpp"
#include "mvcc/change_log.hpp"
#include "mvcc/hash_index.hpp"
#include "mvcc/key_index.hpp"
#include "mvcc/ordered_index.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv::mvcc {

// One change of a write group. Pointers stay valid until the next write group or compaction.
struct change {
  const key_entry* entry;
  const key_version* version;  // the new version (a tombstone for a delete)
  const key_version* prev;     // the key's live version before the change, or null
};

struct range_result {
  std::vector<key_value> kvs;
  bool more = false;
  std::int64_t count = 0;
  std::int64_t revision = 0;  // the view's revision
};

// A put for kv_store::apply_puts. The key's and value's bytes stay the caller's.
struct pending_put {
  std::string_view key;
  std::string_view value;
  lease_id lease;
};

// One key of a range read: its entry and the version read. Valid until the next write or compaction.
struct range_hit {
  const key_entry* entry;
  const key_version* version;
};

// What a range read selected, filtered, sorted and limited, before anything is copied.
struct range_selection {
  std::vector<range_hit> hits;
  bool more = false;
  std::int64_t count = 0;
  std::int64_t revision = 0;  // the view's revision
};

// The version as etcd's KeyValue; with key_only, without its value.
key_value to_key_value(const key_entry& e, const key_version& v, bool key_only = false);

// The hits as etcd's KeyValues (with key_only, without values).
std::vector<key_value> to_key_values(const std::vector<range_hit>& hits, bool key_only);

// Calls f(entry, version) for each hit in order, loading the entries and versions of later hits ahead.
template <class F>
void for_each_hit(const std::vector<range_hit>& hits, F&& f) {
  constexpr std::size_t ahead = 8;
  for (std::size_t i = 0; i < hits.size(); ++i) {
    if (i + ahead < hits.size()) {
      __builtin_prefetch(hits[i + ahead].entry);
      __builtin_prefetch(hits[i + ahead].version);
    }
    f(*hits[i].entry, *hits[i].version);
  }
}

class kv_store {
 public:
  // huge_pages: see options::huge_pages. `prefault`, if not null, faults the store's arenas and hash
  // table in ahead of their first writes (base/prefaulter.hpp). REQUIRES: it outlives the kv_store.
  explicit kv_store(bool huge_pages = true, base::prefaulter* prefault = nullptr)
      : arena_(huge_pages, prefault), hash_(huge_pages, prefault), ordered_(huge_pages, prefault) {}
  ~kv_store();
  kv_store(const kv_store&) = delete;
  kv_store& operator=(const kv_store&) = delete;

  // The revision reads see now (inside a write group: including its writes).
  std::int64_t current_revision() const { return current_; }
  std::int64_t compacted_revision() const { return compacted_; }

  // The revision a read of `rev` sees: the current one for rev <= 0. Fails with future_revision or
  // compacted.
  result<std::int64_t> read_revision(std::int64_t rev) const;

  // etcd's Range with all its options.
  result<range_result> range(const key_range& r, const range_options& o) const;
  // The same read without copying: which versions it returns, in order. For a caller that copies them
  // its own way (store::range_view) before the store changes.
  result<range_selection> select(const key_range& r, const range_options& o) const;

  // The live version of `key` now, or null.
  const key_version* live(std::string_view key) const;

  // Calls f(entry, version) for each key of `r` alive at `rev`, in key order, until f returns false.
  template <class F>
  void for_each_live(const key_range& r, std::int64_t rev, F&& f) const;

  // Calls f(entry) for every key of `r` with retained history (alive or not), in key order, until f
  // returns false.
  template <class F>
  void for_each_entry(const key_range& r, F&& f) const;

  // Every version from the compacted revision on, in revision order (see change_log.hpp). Records stay
  // valid until the next write group or compaction.
  const change_log& log() const { return log_; }

  // ---- writes ----
  void begin_write();
  // REQUIRES: inside a write group; key non-empty; for ignore_value / ignore_lease the key is alive.
  void put(std::string_view key, std::string_view value, lease_id lease, bool ignore_value,
           bool ignore_lease, std::optional<key_value>* prev) {
    put(key, hash_key(key), {}, value, lease, ignore_value, ignore_lease, prev);
  }
  // Applies `puts` in order, each in a write group of its own, exactly as begin_write(),
  // put(key, value, lease, false, false, nullptr) and end_write() would, and calls committed() after each
  // group ends (the caller hands that group's changes() on there). A batch of put_batch puts at a time
  // waits on memory about as long as one put: their cache misses overlap. If a put, or the committed()
  // after it, throws, nothing after it is applied: the puts before it stay applied (it too, if
  // committed() threw). REQUIRES: no write group open; keys non-empty.
  template <class Committed>
  void apply_puts(std::span<const pending_put> puts, Committed&& committed);
  // The puts apply_puts() loads together: a caller that holds puts back gains nothing from holding more.
  static constexpr std::size_t put_batch = 32;
  // Deletes the key of `e` (an entry of this store, found earlier: entries outlive their keys' lives) if
  // it is alive; returns whether it was.
  bool delete_entry(const key_entry* e);
  // Deletes every live key of `r`; returns how many.
  std::int64_t delete_range(const key_range& r, std::vector<key_value>* prev);
  const std::vector<change>& changes() const { return changes_; }
  // Ends the group; returns the current revision.
  std::int64_t end_write();
  // Undoes the open group instead (its record could not be written): every change is unlinked and freed,
  // keys it created leave the indexes, and the revision is what it was before begin_write().
  void abort_write();

  // ---- restoring a snapshot ----
  // Appends a version to `key`'s chain (oldest first). REQUIRES: versions come in revision order per key.
  void restore_version(std::string_view key, revision rev, std::int64_t create_revision, std::int64_t version,
                       std::int64_t lease, std::string_view value);
  // Puts the restored versions' records in the change log in revision order. Call it after the last
  // restore_version(), before the store is shared; begin_write() and set_compacted() call it too.
  void end_restore();
  void restore_revisions(std::int64_t current, std::int64_t compacted) {
    current_ = current;
    compacted_ = compacted;
  }
  // Calls f(entry) for every key with retained history, in key order.
  template <class F>
  void for_each_entry(F&& f) const {
    for (auto p = ordered_.begin(); p != ordered_.end(); ordered_.next(p)) f(*ordered_.at(p));
  }

  // ---- compaction ----
  // Records `rev` as the compacted revision. Fails with compacted (rev <= compacted revision) or
  // future_revision (rev > current). Reads below rev fail from now on.
  result<void> set_compacted(std::int64_t rev);
  // Frees the versions that compaction at `rev` superseded, for at most `batch` keys from `resume` on.
  // Returns the key to resume from, or nullopt when every key was visited.
  std::optional<std::string> compact_batch(std::int64_t rev, std::string_view resume, std::size_t batch);

  std::size_t entries() const { return ordered_.size(); }
  // The bytes of every retained version (key, value and a fixed overhead each): what a quota measures.
  // Compaction lowers it.
  std::uint64_t bytes() const { return bytes_; }
  static constexpr std::uint64_t version_overhead = 64;
  std::size_t live_keys() const;
  std::size_t versions() const;

 private:
  key_entry* find(std::string_view key) const { return hash_.find(key, hash_key(key)); }
  // put() for a caller that has the key's hash_key() and, for a key prefetch_puts() found new, where in
  // the ordered index it goes (else an empty hint).
  void put(std::string_view key, std::uint32_t hash, ordered_index::hint where, std::string_view value, lease_id lease,
           bool ignore_value, bool ignore_lease, std::optional<key_value>* prev);
  // For each put of a batch: its key's hash_key(), and for a new key where in the ordered index it goes.
  struct put_plan {
    std::array<std::uint32_t, put_batch> hashes;
    std::array<ordered_index::hint, put_batch> where;
  };
  // Fills `plan` for `puts` (at most put_batch) and starts loading what put() of each reads, for all the
  // keys a step at a time so that their cache misses overlap instead of queuing: the hash slot; then the
  // entry it names and that entry's newest version; for a new key, the ordered index's nodes down to its
  // leaf (a hint for other keys is empty). Changes nothing, and needs no write group. The hints stay good
  // while only puts follow (see ordered_index::hint).
  void prefetch_puts(std::span<const pending_put> puts, put_plan& plan) const;
  // The index positions [first, stop) of a range with a range_end: found once, so a walk compares no
  // key against the range's end.
  std::pair<ordered_index::position, ordered_index::position> span(const key_range& r) const;
  // Calls f(entry) for the entries in [first, stop) until it returns false.
  template <class F>
  void walk(ordered_index::position first, ordered_index::position stop, F&& f) const;
  revision next_revision();
  // Ends the live generation of `e` with a tombstone. REQUIRES: e is alive.
  void bury(key_entry* e);

  base::node_arena arena_;  // first, so destroyed last: entries and versions live in it
  hash_index hash_;
  ordered_index ordered_;
  std::int64_t current_ = 1;
  std::int64_t compacted_ = -1;
  std::int64_t write_main_ = 0;
  std::int64_t write_sub_ = 0;
  std::vector<change> changes_;
  std::uint64_t bytes_ = 0;
  change_log log_;
  bool restoring_ = false;  // restored versions' records are not in revision order yet
};

template <class Committed>
void kv_store::apply_puts(std::span<const pending_put> puts, Committed&& committed) {
  // A descent loads only a leaf's header and heads; this many puts ahead of its insert, a new key's leaf
  // is loaded again, whole: a put takes about twice as long as a leaf's lines take to arrive.
  constexpr std::size_t leaf_lead = 2;
  put_plan plan;
  while (!puts.empty()) {
    const auto batch = puts.first(std::min(puts.size(), put_batch));
    prefetch_puts(batch, plan);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (i + leaf_lead < batch.size()) ordered_index::prefetch(plan.where[i + leaf_lead]);
      begin_write();
      put(batch[i].key, plan.hashes[i], plan.where[i], batch[i].value, batch[i].lease, false, false, nullptr);
      end_write();
      committed();
    }
    puts = puts.subspan(batch.size());
  }
}

template <class F>
void kv_store::for_each_live(const key_range& r, std::int64_t rev, F&& f) const {
  for_each_entry(r, [&](const key_entry& e) {
    const key_version* v = e.live_at(rev);
    return v == nullptr || f(e, *v);
  });
}

template <class F>
void kv_store::for_each_entry(const key_range& r, F&& f) const {
  if (r.range_end.empty()) {
    if (const key_entry* e = find(r.key)) f(*e);
    return;
  }
  const auto [first, stop] = span(r);
  walk(first, stop, f);
}

template <class F>
void kv_store::walk(ordered_index::position first, ordered_index::position stop, F&& f) const {
  // Keys adjacent in order lie anywhere in memory: start loading entries 8 keys ahead, and their newest
  // versions 4 ahead (by then the entry has arrived), so a range waits on several misses at once.
  auto entry_ahead = first;
  // Entries and versions are 8-byte aligned, so a block may straddle one more cache line than its size
  // needs. Their sizes are not known before they arrive: load an entry's first two lines (its header and
  // a short key) and a version's first three (its header and ~80 bytes of value).
  auto fetch_entry = [](const key_entry* e) {
    __builtin_prefetch(e);
    __builtin_prefetch(reinterpret_cast<const char*>(e) + 63);
  };
  for (int i = 0; i < 8 && entry_ahead != stop; ++i, ordered_.next(entry_ahead)) fetch_entry(ordered_.at(entry_ahead));
  auto version_ahead = first;
  for (int i = 0; i < 4 && version_ahead != stop; ++i) ordered_.next(version_ahead);
  for (auto p = first; p != stop; ordered_.next(p)) {
    if (entry_ahead != stop) {
      fetch_entry(ordered_.at(entry_ahead));
      ordered_.next(entry_ahead);
    }
    if (version_ahead != stop) {
      const auto* v = reinterpret_cast<const char*>(ordered_.at(version_ahead)->head);
      __builtin_prefetch(v);
      __builtin_prefetch(v + 64);
      __builtin_prefetch(v + 127);
      ordered_.next(version_ahead);
    }
    if (!f(*ordered_.at(p))) return;
  }
}

}  // namespace leasekv::mvcc
