// Reading the data directory's files back: a snapshot's records and a log segment's entries, each
// checked, handed over in order. Recovery, a reader following the writer and the offline tools all read
// through here, so they agree on what is sound, what is a torn tail and what is damage.
#pragma once

#include "leasekv/error.hpp"
#include "storage/records.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace leasekv::storage {

// What recovery hands back, record by record, in order: the snapshot's meta, keys and leases, then the
// log's entries. A callback's false stops the reading (as errc::corrupt, with the record's place).
struct recovery_sink {
  std::function<bool(const snap_meta_record&)> meta;
  std::function<bool(const snap_key_record&)> key;
  std::function<bool(std::int64_t id, std::int64_t ttl_ms, std::int64_t deadline_wall_ms)> lease;
  std::function<bool(const entry_record&)> entry;
};

// Checks a snapshot file's contents (named `name` in errors; its header must say `seq`, if given) and
// hands its records to `sink` (meta, key and lease; not entry). Any problem is damage (errc::corrupt):
// a snapshot is written whole, then renamed.
result<void> load_snapshot(std::string_view data, const std::string& name, std::optional<std::uint64_t> seq,
                           const recovery_sink& sink);

// What replaying a log segment found.
struct replay_result {
  std::uint64_t valid_end = 0;  // file offset just past the last good record (or the header; 0: not even that)
  bool torn = false;            // it ends in an incomplete record, cut at valid_end (only if the tail may tear)
  std::string error;            // damage, "<what> at offset N"; empty if none
};

// Replays log segment `seq`: `data` holds the file from offset `from` on. From offset 0 the header comes
// first: magic, format version, and `seq` as its sequence number. Each entry is decoded and handed to
// `entry` in order (if empty, entries are only decoded). An incomplete or checksum-failing record that
// ends the file is a torn tail when `tail_may_tear` (a short header too); anything else wrong is damage,
// and so is an entry `entry` refuses ("record does not follow from the state before it at offset N").
// Stops at the first of these.
replay_result replay_log(std::string_view data, std::uint64_t from, std::uint64_t seq, bool tail_may_tear,
                         const std::function<bool(const entry_record&)>& entry);

}  // namespace leasekv::storage
