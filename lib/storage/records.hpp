// The records of the write-ahead log and of snapshots, and their encoding.
//
// A WAL entry holds the effects of one store call, never the request: the keys it changed (with the
// values and leases they got), the lease operations with absolute wall-clock deadlines, a compaction.
// Replaying entries in order through the same MVCC write path rebuilds the same revisions, versions and
// create revisions.
#pragma once

#include "storage/format.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv::storage {

struct change_record {
  change_kind kind = change_kind::put;
  std::string key;
  std::string value;
  std::int64_t lease = 0;
};

struct lease_op_record {
  lease_op_kind kind = lease_op_kind::grant;
  std::int64_t id = 0;
  std::int64_t ttl_ms = 0;            // grant
  std::int64_t deadline_wall_ms = 0;  // grant, renew: milliseconds since the Unix epoch
};

struct entry_record {
  std::int64_t revision = 0;  // the store's revision after the entry
  std::vector<change_record> changes;
  std::vector<lease_op_record> lease_ops;
  std::optional<std::int64_t> compact_revision;
};

struct snap_meta_record {
  std::int64_t revision = 0;
  std::int64_t compacted_revision = -1;
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
};

struct snap_version {
  std::int64_t mod_main = 0;
  std::int64_t mod_sub = 0;
  std::int64_t create_revision = 0;
  std::int64_t version = 0;  // 0: a tombstone
  std::int64_t lease = 0;
  std::string value;
};

struct snap_key_record {
  std::string key;
  std::vector<snap_version> versions;  // oldest first
};

// Bodies (type byte included) of each record.
std::string encode(const entry_record& r);
std::string encode(const snap_meta_record& r);
std::string encode(const snap_key_record& r);
std::string encode_snap_lease(std::int64_t id, std::int64_t ttl_ms, std::int64_t deadline_wall_ms);
std::string encode_snap_end(std::uint64_t records);

// Decoders return false on malformed bodies (wrong type, short, trailing bytes).
bool decode(std::string_view body, entry_record& r);
bool decode(std::string_view body, snap_meta_record& r);
bool decode(std::string_view body, snap_key_record& r);
bool decode_snap_lease(std::string_view body, std::int64_t& id, std::int64_t& ttl_ms, std::int64_t& deadline_wall_ms);
bool decode_snap_end(std::string_view body, std::uint64_t& records);
std::optional<record_type> type_of(std::string_view body);

// Frames a body: length, CRC-32C, body.
std::string frame(std::string_view body);
// A file header.
std::string file_header(std::string_view magic, std::uint64_t seq);

// The result of scanning a file's records.
struct scan_result {
  std::size_t valid_end = 0;  // offset just past the last good record
  bool torn = false;          // the file ends in an incomplete record (cut at valid_end)
  std::string error;          // damage: "<what> at offset N"; empty if none
};

// Checks the header (magic, version; `seq` gets the sequence number) and calls on_record(body, offset)
// for each good record. An incomplete or checksum-failing record that ends the file is a torn tail when
// `tail_may_tear`; anything else wrong is damage. Stops at damage or when on_record returns false.
template <class F>
scan_result scan(std::string_view data, std::string_view magic, bool tail_may_tear, std::uint64_t& seq, F&& on_record);

// The records of `data`, which starts at file offset `base` (past the header). Offsets in the result are
// relative to `data`.
template <class F>
scan_result scan_records(std::string_view data, std::size_t base, bool tail_may_tear, F&& on_record);

}  // namespace leasekv::storage

#include "storage/records_scan.ipp"
