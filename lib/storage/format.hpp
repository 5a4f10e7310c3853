// The on-disk format, version 1. Frozen: change it only with a new version number and a reader for the
// old one. docs/storage-format.md describes it in prose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace leasekv::storage {

inline constexpr std::uint32_t format_version = 1;

// File names: wal-<seq as 16 hex digits>.log, snap-<seq as 16 hex digits>.snap, LOCK.
inline constexpr std::string_view wal_prefix = "wal-";
inline constexpr std::string_view wal_suffix = ".log";
inline constexpr std::string_view snap_prefix = "snap-";
inline constexpr std::string_view snap_suffix = ".snap";
inline constexpr std::string_view lock_name = "LOCK";

// Every file starts with: magic (8 bytes), u32 format version, u64 sequence number.
inline constexpr std::string_view wal_magic = "LKVWAL01";
inline constexpr std::string_view snap_magic = "LKVSNAP1";
inline constexpr std::size_t file_header_size = 8 + 4 + 8;

// Then records: u32 body length, u32 its complement (~length: a damaged length is detected, not taken
// for a torn tail), u32 CRC-32C of the body, body. The body starts with a u8 type.
inline constexpr std::size_t record_header_size = 12;
inline constexpr std::uint32_t max_record_size = 1u << 30;

enum class record_type : std::uint8_t {
  entry = 1,         // WAL: the effects of one store call
  snap_meta = 2,     // snapshot: revision, compacted revision, cluster id, member id
  snap_key = 3,      // snapshot: one key's retained versions, oldest first
  snap_lease = 4,    // snapshot: one lease
  snap_end = 5,      // snapshot: the last record, with the count of the records before it
};

enum class change_kind : std::uint8_t { put = 0, del = 1 };
enum class lease_op_kind : std::uint8_t { grant = 1, renew = 2, revoke = 3 };

}  // namespace leasekv::storage
