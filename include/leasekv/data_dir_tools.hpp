// leasekv — offline tools for data directories and snapshot files: reading a snapshot's status,
// restoring a snapshot into a new data directory, checking a data directory for damage. None opens a
// store. A snapshot file is what store::save_snapshot writes (etcd's `snapshot save`); a data directory's
// own snap-N.snap files are snapshot files too.
//
// Errors: the env's error for a file that cannot be read or written, errc::corrupt for damage;
// the error's detail() then names the file (and for damage the offset: "<file>: <what> at offset N").
//
// Thread safety: the functions keep no state and may run on any thread. They read (and restore_snapshot
// writes) only the paths they are given; checking a data directory that a store has open reports what
// the store has written so far.
#pragma once

#include "leasekv/env.hpp"
#include "leasekv/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace leasekv {

// What a snapshot file holds (etcd's snapshot.Status).
struct snapshot_status {
  std::uint32_t hash = 0;        // CRC-32C (Castagnoli) of the whole file
  std::int64_t revision = 0;     // the store's revision when the snapshot was taken
  std::uint64_t total_keys = 0;  // keys with any retained version (a deleted key not yet compacted counts)
  std::uint64_t total_size = 0;  // the file's size in bytes
};

// Reads the snapshot file `path`, checking every record. Fails with errc::corrupt if any is damaged or
// missing (the detail names the file by its last path component), or with the env's error if it cannot
// be read.
result<snapshot_status> inspect_snapshot(env& e, const std::string& path);

// Makes the new data directory `dir` from the snapshot file `path`, checked as inspect_snapshot checks
// it: a store opened on `dir` has the snapshot's state. Fails with boost::system::errc::file_exists if
// `dir` exists, changing nothing. The directory is built as `dir`.restore.tmp beside it and renamed into
// place, so an interrupted restore leaves no `dir`; a temporary directory an earlier one left is removed
// first.
result<void> restore_snapshot(env& e, const std::string& path, const std::string& dir);

// Checks every file of the data directory `dir` without opening a store or changing anything. Returns
// one line per problem found ("wal-0000000000000002.log: checksum mismatch at offset 160"), none if the
// directory is sound. A torn tail, which the next open cuts off, is reported too. Fails only if the
// directory cannot be listed (with the env's error; the detail names the directory).
result<std::vector<std::string>> check_data_dir(env& e, const std::string& dir);

}  // namespace leasekv
