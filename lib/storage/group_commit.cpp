#include "storage/group_commit.hpp"

#include <algorithm>

namespace leasekv::storage {

result<void> group_commit::wait(std::uint64_t lsn, const sync_fn& sync) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (durable_ >= lsn) return BOOST_OUTCOME_V2_NAMESPACE::success();
    if (failed_) return *failed_;
    if (!syncing_) break;
    synced_cv_.wait(lock);
  }
  syncing_ = true;  // this writer leads the next sync
  lock.unlock();
  result<std::uint64_t> r = error(errc::io_error);
  try {
    r = sync();
  } catch (...) {
    lock.lock();
    syncing_ = false;
    synced_cv_.notify_all();  // another writer leads
    throw;
  }
  lock.lock();
  syncing_ = false;
  if (r) {
    durable_ = std::max(durable_, r.value());
  } else if (!failed_) {
    failed_ = r.error();
  }
  synced_cv_.notify_all();
  if (durable_ >= lsn) return BOOST_OUTCOME_V2_NAMESPACE::success();
  if (failed_) return *failed_;
  return error(errc::io_error, "group commit: a sync did not reach the record it was led for");
}

void group_commit::advance(std::uint64_t lsn) {
  std::lock_guard lock(mu_);
  durable_ = std::max(durable_, lsn);
  synced_cv_.notify_all();
}

void group_commit::fail(const error& e) {
  std::lock_guard lock(mu_);
  if (!failed_) failed_ = e;
  synced_cv_.notify_all();
}

std::uint64_t group_commit::durable() const {
  std::lock_guard lock(mu_);
  return durable_;
}

}  // namespace leasekv::storage
