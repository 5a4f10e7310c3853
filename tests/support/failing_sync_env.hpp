// An env over a fault_env whose file syncs can be made to fail with EIO, syncing nothing (as a disk that
// lost the pages would), while everything else goes through: the fault_env's own faults take the whole
// "machine" down instead.
//
// Thread safety: as fault_env; the counters are atomics, set by the test, read and changed by syncs.
#pragma once

#include "support/fault_env.hpp"

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>

namespace leasekv::testing {

class failing_sync_env final : public env {
 public:
  explicit failing_sync_env(std::shared_ptr<fault_env> inner) : inner_(std::move(inner)) {}

  // The next `fail_syncs` syncs of any file fail.
  std::atomic<int> fail_syncs{0};
  // The sync of a log segment (wal-*) that makes log_syncs equal fail_log_sync_at fails (0: none).
  std::atomic<int> fail_log_sync_at{0};
  std::atomic<int> log_syncs{0};  // syncs of log segments so far, failed ones included
  std::atomic<int> failed{0};     // syncs failed so far

  result<std::string> read_file(const std::string& p) override { return inner_->read_file(p); }
  result<std::unique_ptr<writable_file>> open_append(const std::string& p) override;
  result<void> rename(const std::string& from, const std::string& to) override { return inner_->rename(from, to); }
  result<void> remove(const std::string& p) override { return inner_->remove(p); }
  result<void> create_dir(const std::string& p) override { return inner_->create_dir(p); }
  result<void> sync_dir(const std::string& p) override { return inner_->sync_dir(p); }
  result<std::vector<std::string>> list(const std::string& d) override { return inner_->list(d); }
  bool exists(const std::string& p) override { return inner_->exists(p); }
  result<std::unique_ptr<file_lock>> lock(const std::string& p, std::chrono::milliseconds timeout,
                                          std::string* holder) override {
    return inner_->lock(p, timeout, holder);
  }

 private:
  class file;
  std::shared_ptr<fault_env> inner_;
};

class failing_sync_env::file final : public writable_file {
 public:
  file(std::unique_ptr<writable_file> f, failing_sync_env& e, bool log) : f_(std::move(f)), env_(e), log_(log) {}
  result<void> append(std::string_view data) override { return f_->append(data); }
  result<void> sync() override {
    const bool fail_log = log_ && ++env_.log_syncs == env_.fail_log_sync_at.load();
    if (fail_log || (env_.fail_syncs.load() > 0 && env_.fail_syncs.fetch_sub(1) > 0)) {
      ++env_.failed;
      return boost::system::error_code(EIO, boost::system::generic_category());
    }
    return f_->sync();
  }
  result<void> truncate(std::uint64_t size) override { return f_->truncate(size); }
  std::uint64_t size() const override { return f_->size(); }

 private:
  std::unique_ptr<writable_file> f_;
  failing_sync_env& env_;
  const bool log_;
};

inline result<std::unique_ptr<writable_file>> failing_sync_env::open_append(const std::string& p) {
  BOOST_OUTCOME_TRY(f, inner_->open_append(p));
  return std::unique_ptr<writable_file>(new file(std::move(f), *this, p.find("/wal-") != std::string::npos));
}

}  // namespace leasekv::testing
