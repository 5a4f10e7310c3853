// An in-memory env that can fail like a disk: crash (drop every unsynced byte, or tear it at a random
// length, and keep only some of the directory changes not yet synced), run out of space, fail one chosen
// file operation, or crash at the Nth. Files are inodes: an open file follows its data through a rename
// and notices when its last name is removed, as on a real file system; each keeps what was synced
// separately from what was appended, as a page cache does.
#pragma once

#include <leasekv/env.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

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
  // prefix of the rest. Directory changes (creations, renames, removals) not followed by sync_dir are
  // undone — all of them, or with `tear` all but a random prefix of them in order, as a journaling file
  // system keeps. The env then works again.
  void crash(bool tear);
  // The same, keeping exactly the first `dir_ops_kept` unsynced directory changes (and no torn bytes).
  void crash_keeping(std::size_t dir_ops_kept);
  // How many directory changes a crash now could lose.
  std::size_t pending_dir_ops();

  // From the `n`th file operation on (opens, appends, syncs, renames, removals, directory syncs), the
  // "machine" is down: the operation and all after it fail with EIO until crash() is called.
  void crash_after(std::uint64_t n) { crash_at_ = ops_ + n; }
  bool crashed() const { return down_; }
  // The `n`th file operation from now (1: the next) fails with `e`, once; the rest work.
  void fail_once(std::uint64_t n, boost::system::errc::errc_t e) {
    std::lock_guard lock(mu_);
    fail_at_ = ops_ + n;
    fail_with_ = e;
  }
  // File operations counted so far (see crash_after): a dry run counts those of a sequence.
  std::uint64_t ops() {
    std::lock_guard lock(mu_);
    return ops_;
  }
  // Appends to a file whose path (when it was opened) contains `part` fail with `e`, writing nothing —
  // all but the first `spared` of them — until called again with an empty `part`.
  void fail_appends_to(std::string part, boost::system::errc::errc_t e, int spared = 0) {
    std::lock_guard lock(mu_);
    fail_append_to_ = std::move(part);
    fail_append_with_ = e;
    fail_append_spared_ = spared;
  }
  // Called (outside the env's lock) before each read_file of a path containing `part`: lets a test act as
  // a writer between a reader's listing and its reads.
  void on_read(std::string part, std::function<void(const std::string&)> hook) {
    std::lock_guard lock(mu_);
    read_hook_part_ = std::move(part);
    read_hook_ = std::move(hook);
  }
  // Appends fail with ENOSPC once the total bytes of all files would exceed `bytes`.
  void set_space(std::uint64_t bytes) { space_ = bytes; }
  // A read-only file system: everything that would change it fails with EROFS.
  void set_read_only(bool ro) { read_only_ = ro; }

  // A new env with the same files (and nothing else: no locks, no fault settings).
  std::shared_ptr<fault_env> clone();

  // Direct access, for damage tests (creates the file if missing, without a directory change to lose).
  std::string& contents(const std::string& path);
  std::uint64_t total_bytes();

 private:
  friend class fault_file;
  struct inode {
    std::string data;
    std::size_t synced = 0;
    int links = 0;
  };
  using node = std::shared_ptr<inode>;
  // A directory change not yet made durable: `from` removed, `to` (if not empty) names `n`. A directory's
  // rename moves all its files at once.
  struct move {
    std::string from;
    std::string to;
    node n;
  };
  struct dir_op {
    std::vector<move> moves;
  };
  result<void> tick();  // counts an operation; fails if the machine is down or this one is to fail
  result<void> writable() const;
  std::uint64_t total_locked() const;
  void crash_locked(bool tear, std::size_t dir_ops_kept);
  void link(const std::string& path, node n);
  void unlink(const std::string& path);

  std::mutex mu_;
  std::map<std::string, node> files_;    // the live names
  std::map<std::string, node> durable_;  // the names as of the last sync_dir of each directory
  std::vector<dir_op> pending_;          // directory changes since, in order
  std::set<std::string> dirs_;
  std::set<std::string> locks_;
  std::mt19937 rng_;
  std::uint64_t ops_ = 0;
  std::uint64_t crash_at_ = UINT64_MAX;
  std::uint64_t fail_at_ = UINT64_MAX;
  boost::system::errc::errc_t fail_with_ = boost::system::errc::io_error;
  bool down_ = false;
  bool read_only_ = false;
  std::uint64_t space_ = UINT64_MAX;
  std::string fail_append_to_;
  boost::system::errc::errc_t fail_append_with_ = boost::system::errc::no_space_on_device;
  int fail_append_spared_ = 0;
  std::string read_hook_part_;
  std::function<void(const std::string&)> read_hook_;
};

}  // namespace leasekv::testing
