// The prefaulter: faults memory in ahead of its first write, on a thread of its own.
//
// The first write to a page costs a page fault (zeroing it, and on a VM whose host takes freed memory
// back, a host fault too: far dearer for a 2 MiB huge page than for a 4 KiB one). A prefaulter takes that
// cost off the thread that will write the memory: asked for a range, it faults it in with
// MADV_POPULATE_WRITE on its own thread, which runs at idle priority (SCHED_IDLE), so only on CPU time
// nothing else wants. Writing a page while it is being faulted in is safe: the kernel faults each page in
// once, and leaves a page already in alone. Prefaulting only saves time: where no thread can be started,
// a request does nothing.
//
// A store owns one (unless options::prefault_memory is off) and lends it to its node arenas and its hash
// index, so a store starts at most one prefaulter thread, with its first request. Requests are served in
// the order they come, whoever asks.
//
// Thread safety: every member function may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace leasekv::base {

class prefaulter {
 public:
  // The thread's name (as /proc/<pid>/task/<tid>/comm shows it), set before the first request returns,
  // where the platform lets it be set.
  static constexpr const char* thread_name = "lkv-prefaulter";

  prefaulter() = default;
  ~prefaulter();  // drops what is not started, and waits for what is
  prefaulter(const prefaulter&) = delete;
  prefaulter& operator=(const prefaulter&) = delete;

  // Asks for [p, p + bytes) to be faulted in; the first request starts the thread. Never blocks for the
  // work itself. REQUIRES: the range is mapped, and stays mapped until forget() of it returns. Throws
  // bad_alloc (nothing is asked then).
  void request(void* p, std::size_t bytes);
  // Drops the requests inside [p, p + bytes) not started yet and waits for one in progress there, so
  // that the range can be unmapped. Requests elsewhere are left alone.
  void forget(const void* p, std::size_t bytes);
  // Waits until every request, whoever made it, is done.
  void wait_idle();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::pair<void*, std::size_t>> pending_;
  std::pair<void*, std::size_t> busy_{nullptr, 0};  // the request in progress
  bool stop_ = false;
  bool failed_ = false;  // the thread could not be started: requests are dropped
  std::thread thread_;
};

}  // namespace leasekv::base
