#include "base/prefaulter.hpp"

#include <cstdint>
#include <system_error>

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

namespace leasekv::base {

prefaulter::~prefaulter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void prefaulter::request(void* p, std::size_t bytes) {
  {
    std::lock_guard lock(mu_);
    if (failed_) return;
    if (!thread_.joinable()) {
      try {
        thread_ = std::thread([this] { run(); });
      } catch (const std::system_error&) {
        failed_ = true;
        return;
      }
#if defined(__linux__)
      (void)::pthread_setname_np(thread_.native_handle(), thread_name);  // a name only: ps and top show it
#endif
    }
    pending_.emplace_back(p, bytes);
  }
  changed_.notify_all();
}

void prefaulter::forget(const void* p, std::size_t bytes) {
  const auto lo = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t hi = lo + bytes;
  auto inside = [&](const std::pair<void*, std::size_t>& r) {
    const auto at = reinterpret_cast<std::uintptr_t>(r.first);
    return r.first != nullptr && at < hi && at + r.second > lo;
  };
  std::unique_lock lock(mu_);
  std::erase_if(pending_, inside);
  changed_.wait(lock, [&] { return !inside(busy_); });
}

void prefaulter::wait_idle() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return pending_.empty() && busy_.first == nullptr; });
}

void prefaulter::run() {
#ifdef SCHED_IDLE
  // Only on otherwise idle CPU time: where every core is busy, faulting ahead would take time from the
  // store's own threads (an expiry storm, say) rather than from nobody's, and the writer is better off
  // faulting its pages in itself.
  const sched_param idle{};
  (void)::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &idle);
#endif
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (stop_) return;
    busy_ = pending_.front();
    pending_.pop_front();
    lock.unlock();
#ifdef MADV_POPULATE_WRITE
    (void)::madvise(busy_.first, busy_.second, MADV_POPULATE_WRITE);  // advice only: on an older kernel, EINVAL
#endif
    lock.lock();
    busy_ = {nullptr, 0};
    changed_.notify_all();
  }
}

}  // namespace leasekv::base
