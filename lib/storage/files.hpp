// The data directory's files, below the data_dir class: their names, listing a directory, and writing a
// snapshot file whole.
#pragma once

#include "leasekv/env.hpp"
#include "leasekv/error.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv::storage {

// wal-<seq>.log and snap-<seq>.snap, <seq> as 16 hex digits.
std::string wal_name(std::uint64_t seq);
std::string snap_name(std::uint64_t seq);

// What a data directory holds, each list sorted.
struct listing {
  std::vector<std::uint64_t> snaps;
  std::vector<std::uint64_t> wals;
  std::vector<std::string> temps;  // names ending in .tmp
};
result<listing> list_dir(env& e, const std::string& path);

bool is_not_found(const boost::system::error_code& ec);

// The directory part of `path` ("." if none).
std::string parent_of(const std::string& path);

// Emits record bodies, one call each, through the function it is given.
using record_producer = std::function<void(const std::function<void(std::string_view)>&)>;

// Writes a snapshot of sequence number `seq` to `tmp` from the records `produce` emits (and the end
// record), and syncs it; removes it on failure.
result<void> write_snapshot_temp(env& e, const std::string& tmp, std::uint64_t seq, const record_producer& produce);

// Writes a snapshot file at `path` with sequence number `seq` from the records `produce` emits (and the
// end record); written to `path`.tmp, synced, and renamed into place so that a crash never leaves half a
// file under that name (a temporary file a killed save left is started over by the next save).
result<void> write_snapshot_file(env& e, const std::string& path, std::uint64_t seq, const record_producer& produce);

}  // namespace leasekv::storage
