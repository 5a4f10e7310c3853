// leasekv — the environment: every file leasekv touches goes through an env, as in LevelDB, so tests
// can run a store on an in-memory or fault-injecting env (dropping unsynced bytes on a simulated crash,
// failing writes with ENOSPC, tearing records).
//
// Thread safety: env::posix() may be used from any thread; a writable_file by one thread at a time.
#pragma once

#include "leasekv/error.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv {

// A file opened for appending.
class writable_file {
 public:
  virtual ~writable_file() = default;
  // Appends all of `data`. On failure the file may hold a prefix of it: truncate() back.
  virtual result<void> append(std::string_view data) = 0;
  // Makes everything appended so far durable. Fails with no_such_file_or_directory if the file no longer
  // has a name (it was removed while open): what was written to it cannot be found again.
  virtual result<void> sync() = 0;
  // Cuts the file to `size` bytes.
  virtual result<void> truncate(std::uint64_t size) = 0;
  virtual std::uint64_t size() const = 0;
};

// An exclusive lock on a file, held until destroyed.
class file_lock {
 public:
  virtual ~file_lock() = default;
};

class env {
 public:
  virtual ~env() = default;

  // The whole file's contents. Fails with no_such_file_or_directory if it does not exist.
  virtual result<std::string> read_file(const std::string& path) = 0;
  // The file's contents from byte `offset` on (empty past its end).
  virtual result<std::string> read_file_from(const std::string& path, std::uint64_t offset) {
    BOOST_OUTCOME_TRY(all, read_file(path));
    return offset < all.size() ? all.substr(static_cast<std::size_t>(offset)) : std::string();
  }
  // Opens `path` for appending at its end, creating it if needed.
  virtual result<std::unique_ptr<writable_file>> open_append(const std::string& path) = 0;
  virtual result<void> rename(const std::string& from, const std::string& to) = 0;
  // Removes a file, or an empty directory; succeeds if it does not exist.
  virtual result<void> remove(const std::string& path) = 0;
  // Creates the directory and any missing parents; succeeds if it exists.
  virtual result<void> create_dir(const std::string& path) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual result<void> sync_dir(const std::string& path) = 0;
  // The names (not paths) of the directory's entries.
  virtual result<std::vector<std::string>> list(const std::string& dir) = 0;
  virtual bool exists(const std::string& path) = 0;

  // Takes an exclusive lock on `path` (created if needed), waiting up to `timeout`. Writes this process's
  // pid into the file. Fails with errc::locked; `holder` then names the process that holds it.
  virtual result<std::unique_ptr<file_lock>> lock(const std::string& path, std::chrono::milliseconds timeout,
                                                   std::string* holder) = 0;

  // The real file system.
  static std::shared_ptr<env> posix();
};

}  // namespace leasekv
