// The data directory's files, below the data_dir class: names, listing, whole snapshot files, and errors
// that name the file they are about.
#pragma once

#include "storage/data_dir.hpp"

#include <optional>
#include <string>
#include <vector>

namespace leasekv::storage {

// What a data directory holds, each list sorted.
struct listing {
  std::vector<std::uint64_t> snaps;
  std::vector<std::uint64_t> wals;
  std::vector<std::string> temps;  // names ending in .tmp
};
result<listing> list_dir(env& e, const std::string& path);

// `r`, its error (if it failed) with the detail "<path>: <message>".
template <class T>
result<T> named(const std::string& path, result<T> r) {
  if (!r) return error(r.error().code(), path + ": " + r.error().message());
  return r;
}
// errc::corrupt, with the detail "<file>: <what>".
error damaged(const std::string& file, const std::string& what);
bool is_not_found(const boost::system::error_code& ec);

// Checks a snapshot file's contents (named `name` in errors; its header must say `seq`) and hands its
// records to `sink`. Any problem is damage: a snapshot is written whole, then renamed.
result<void> load_snapshot(std::string_view data, const std::string& name, std::uint64_t seq, const recovery_sink& sink);

// Writes a snapshot of sequence number `seq` to `tmp` and syncs it (removing it on failure).
result<void> write_snapshot_temp(env& e, const std::string& tmp, std::uint64_t seq,
                                 const std::function<void(const std::function<void(std::string_view)>&)>& produce);

// The directory part of `path` ("." if none).
std::string parent_of(const std::string& path);

}  // namespace leasekv::storage
