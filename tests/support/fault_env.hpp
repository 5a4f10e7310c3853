// An in-memory env that can fail like a disk: crash (drop every unsynced byte, or tear it at a random
// length), run out of space, or crash at the Nth file operation. Files keep what was synced separately
// from what was appended, as a page cache does.
#pragma once

#include <leasekv/env.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

namespace leasekv::testing {

class fault_env final : public env, public std::enable_shared_from_this<fault_env> {
 public:
  explicit fault_env(std::uint32_t seed = 1) : rng_(seed) {}

  result<std::string> read_file(const std::string& path) override;
  result<std::unique_ptr<writable_file>> open_append(const std::string& path) override;
  result<void> rename(const std::string& from, const std::string& to) override;
  result<void> remove(const std::string& path) override;
  result<void> create_dir(const std::string& path) override;
  result<void> sync_dir(const std::string& path) override;
  result<std::vector<std::string>> list(const std::string& dir) override;
  bool exists(const std::string& path) override;
  result<std::unique_ptr<file_lock>> lock(const std::string& path, std::chrono::milliseconds timeout,
                                          std::string* holder) override;

  // Loses what was not synced: each file goes back to its synced bytes, plus (with `tear`) a random
  // prefix of the rest. Renames and removals not followed by sync_dir are undone. The env then works again.
  void crash(bool tear);
  // From the `n`th file operation on (appends, syncs, renames...), the "machine" is down: the operation
  // and all after it fail with EIO until crash() is called.
  void crash_after(std::uint64_t n) { crash_at_ = ops_ + n; }
  bool crashed() const { return down_; }
  // Appends fail with ENOSPC once the total bytes of all files would exceed `bytes`.
  void set_space(std::uint64_t bytes) { space_ = bytes; }

  // A new env with the same files (and nothing else: no locks, no fault settings).
  std::shared_ptr<fault_env> clone();

  // Direct access, for damage tests.
  std::string& contents(const std::string& path) { return files_[path].data; }
  std::uint64_t total_bytes() const;

 private:
  friend class fault_file;
  struct file {
    std::string data;
    std::size_t synced = 0;
  };
  result<void> tick();  // counts an operation; fails if the machine is down
  std::mutex mu_;
  std::map<std::string, file> files_;
  std::map<std::string, file> durable_names_;  // the directory as of the last sync_dir: name -> file state
  std::set<std::string> locks_;
  std::mt19937 rng_;
  std::uint64_t ops_ = 0;
  std::uint64_t crash_at_ = UINT64_MAX;
  bool down_ = false;
  std::uint64_t space_ = UINT64_MAX;
};

}  // namespace leasekv::testing
