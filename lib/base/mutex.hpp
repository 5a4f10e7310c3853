// Mutexes annotated for clang's -Wthread-safety analysis.
//
// clang 14 cannot see through std::mutex, so shared state is guarded by these thin wrappers (as
// LevelDB's port::Mutex does) and the analysis checks every access to a LEASEKV_GUARDED_BY field.
#pragma once

#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define LEASEKV_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define LEASEKV_THREAD_ANNOTATION(x)
#endif

#define LEASEKV_CAPABILITY(x) LEASEKV_THREAD_ANNOTATION(capability(x))
#define LEASEKV_SCOPED_CAPABILITY LEASEKV_THREAD_ANNOTATION(scoped_lockable)
#define LEASEKV_GUARDED_BY(x) LEASEKV_THREAD_ANNOTATION(guarded_by(x))
#define LEASEKV_PT_GUARDED_BY(x) LEASEKV_THREAD_ANNOTATION(pt_guarded_by(x))
#define LEASEKV_REQUIRES(...) LEASEKV_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define LEASEKV_REQUIRES_SHARED(...) LEASEKV_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define LEASEKV_ACQUIRE(...) LEASEKV_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define LEASEKV_ACQUIRE_SHARED(...) LEASEKV_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define LEASEKV_RELEASE(...) LEASEKV_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define LEASEKV_RELEASE_SHARED(...) LEASEKV_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define LEASEKV_RELEASE_GENERIC(...) LEASEKV_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define LEASEKV_EXCLUDES(...) LEASEKV_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define LEASEKV_TRY_ACQUIRE(...) LEASEKV_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define LEASEKV_TRY_ACQUIRE_SHARED(...) LEASEKV_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
#define LEASEKV_NO_THREAD_SAFETY_ANALYSIS LEASEKV_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace leasekv::base {

// An exclusive mutex.
class LEASEKV_CAPABILITY("mutex") mutex {
 public:
  void lock() LEASEKV_ACQUIRE() { m_.lock(); }
  void unlock() LEASEKV_RELEASE() { m_.unlock(); }
  std::mutex& native() { return m_; }

 private:
  std::mutex m_;
};

// A readers-writer mutex.
class LEASEKV_CAPABILITY("mutex") shared_mutex {
 public:
  void lock() LEASEKV_ACQUIRE() { m_.lock(); }
  bool try_lock() LEASEKV_TRY_ACQUIRE(true) { return m_.try_lock(); }
  void unlock() LEASEKV_RELEASE() { m_.unlock(); }
  void lock_shared() LEASEKV_ACQUIRE_SHARED() { m_.lock_shared(); }
  bool try_lock_shared() LEASEKV_TRY_ACQUIRE_SHARED(true) { return m_.try_lock_shared(); }
  void unlock_shared() LEASEKV_RELEASE_SHARED() { m_.unlock_shared(); }

 private:
  std::shared_mutex m_;
};

// Holds a mutex (or a shared_mutex exclusively) for its scope.
template <class Mutex>
class LEASEKV_SCOPED_CAPABILITY lock_guard {
 public:
  explicit lock_guard(Mutex& m) LEASEKV_ACQUIRE(m) : m_(m) { m_.lock(); }
  ~lock_guard() LEASEKV_RELEASE() { m_.unlock(); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  Mutex& m_;
};

}  // namespace leasekv::base
