// The store's lock and who waits for it: the lock_queue, and the three ways to hold the lock (a caller's
// write, a read, a batch of background work). Each class's comment states its contract.
//
// Thread safety: all of it is for use from any thread; the counters are atomics.
#pragma once

#include "base/mutex.hpp"

#include <atomic>
#include <thread>

namespace leasekv::detail {

// Writes a store holds back until its lock is next taken for anything else (the store's held-back puts).
class deferred_writes {
 public:
  // Called with the store's lock held exclusively.
  virtual void apply_deferred() = 0;

 protected:
  ~deferred_writes() = default;
};

// Who is waiting for the store's lock: callers' writes, readers, and batches of background work (an expiry
// storm, compaction, a watcher's catch-up). They take turns: between its batches, background work lets
// the waiting writers through (let_writers_through); while a batch or a reader waits, writers do not
// barge in ahead of it. A readers-writer lock promises neither: a writer putting in a loop takes the lock
// again the moment it frees it, and background work beside it would take many times its own length.
struct lock_queue {
  std::atomic<int> writers{0};
  std::atomic<int> readers{0};
  std::atomic<int> background{0};
  // Set while writes are held back: whoever takes the lock next, except a put that may join them,
  // applies them first (owner->apply_deferred()). Changed only under the exclusive lock.
  std::atomic<bool> deferred{false};
  deferred_writes* owner = nullptr;
  // Background work in progress (an expiry storm, a compaction), between its batches too: puts are not
  // held back meanwhile, because held-back puts make every reader, the background work's batches
  // included, take the lock exclusively to apply them, and the background work would crawl.
  std::atomic<int> draining{0};
  void apply_deferred() const {
    if (deferred.load(std::memory_order_relaxed)) owner->apply_deferred();
  }
  bool others_waiting() const {
    return background.load(std::memory_order_relaxed) > 0 || readers.load(std::memory_order_relaxed) > 0;
  }
  // Background work (an expiry storm, compaction, a watcher's catch-up) calls this between its batches,
  // holding no lock of the store's: a readers-writer lock is not fair, and released and taken again at
  // once it would starve the writers waiting for it. They go first; the wait is bounded.
  void let_writers_through() const {
    yield_while([this] { return writers.load(std::memory_order_relaxed) > 0; });
  }
  // Yields while `waiting()` holds, at most 10,000 times: whoever takes turns this way never waits on
  // another for ever.
  template <class Pred>
  static void yield_while(Pred waiting) {
    for (int spin = 0; spin < 10000 && waiting(); ++spin) std::this_thread::yield();
  }
  // Counts one in `waiters` for its scope: around a wait for the lock.
  class counted {
   public:
    explicit counted(std::atomic<int>& waiters) : waiters_(waiters) { waiters_.fetch_add(1, std::memory_order_relaxed); }
    ~counted() { waiters_.fetch_sub(1, std::memory_order_relaxed); }
    counted(const counted&) = delete;
    counted& operator=(const counted&) = delete;

   private:
    std::atomic<int>& waiters_;
  };
};

// Holds the store's lock exclusively for a caller's write, after applying any deferred writes.
class LEASEKV_SCOPED_CAPABILITY write_lock {
 public:
  write_lock(base::shared_mutex& mu, lock_queue& q) LEASEKV_ACQUIRE(mu) LEASEKV_NO_THREAD_SAFETY_ANALYSIS : mu_(mu) {
    acquire(q);
    q.apply_deferred();
  }
  // For a put that may itself be deferred: the deferred writes stay as they are.
  struct keep_deferred_t {};
  static constexpr keep_deferred_t keep_deferred{};
  write_lock(base::shared_mutex& mu, lock_queue& q, keep_deferred_t) LEASEKV_ACQUIRE(mu) LEASEKV_NO_THREAD_SAFETY_ANALYSIS
      : mu_(mu) {
    acquire(q);
  }
  ~write_lock() LEASEKV_RELEASE() { mu_.unlock(); }
  write_lock(const write_lock&) = delete;
  write_lock& operator=(const write_lock&) = delete;

 private:
  // Only a writer that has to wait says so: uncontended, it costs two relaxed loads more than a plain
  // lock.
  void acquire(lock_queue& q) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    if (!q.others_waiting() && mu_.try_lock()) return;
    const lock_queue::counted waiting(q.writers);
    lock_queue::yield_while([&] { return q.others_waiting(); });  // a waiting batch or reader goes first
    mu_.lock();
  }

  base::shared_mutex& mu_;
};

// Holds the store's lock shared, for a read.
class LEASEKV_SCOPED_CAPABILITY read_lock {
 public:
  // As for writers, only a reader that has to wait says so. A reader that finds deferred writes applies
  // them under the exclusive lock first, so it sees every write that returned before it began.
  read_lock(base::shared_mutex& mu, lock_queue& q) LEASEKV_ACQUIRE_SHARED(mu) LEASEKV_NO_THREAD_SAFETY_ANALYSIS : mu_(mu) {
    for (;;) {
      if (!mu_.try_lock_shared()) {
        const lock_queue::counted waiting(q.readers);
        mu_.lock_shared();
      }
      if (!q.deferred.load(std::memory_order_relaxed)) return;
      mu_.unlock_shared();
      const write_lock apply(mu_, q);
    }
  }
  ~read_lock() LEASEKV_RELEASE() { mu_.unlock_shared(); }
  read_lock(const read_lock&) = delete;
  read_lock& operator=(const read_lock&) = delete;

 private:
  base::shared_mutex& mu_;
};

// Holds the store's lock exclusively for one batch of background work.
class LEASEKV_SCOPED_CAPABILITY background_lock {
 public:
  background_lock(base::shared_mutex& mu, lock_queue& q) LEASEKV_ACQUIRE(mu) LEASEKV_NO_THREAD_SAFETY_ANALYSIS : mu_(mu) {
    {
      const lock_queue::counted waiting(q.background);
      mu_.lock();
    }
    q.apply_deferred();
  }
  ~background_lock() LEASEKV_RELEASE() { mu_.unlock(); }
  background_lock(const background_lock&) = delete;
  background_lock& operator=(const background_lock&) = delete;

 private:
  base::shared_mutex& mu_;
};

}  // namespace leasekv::detail
