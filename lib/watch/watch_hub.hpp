// The watch hub: every watcher of a store, fed from each write group's changes.
//
// A watcher is synced (it receives each matching write group live, as one response) or unsynced (it
// replays from `next_rev` out of the MVCC history: after a start_revision in the past, or after its
// queue of undelivered events overflowed). Catch-up reads the store's change log (mvcc/change_log.hpp)
// from where it stopped, in batches: each holds the store's lock shared (readers go on, a writer waits
// for one batch at most), reads at most catch_up_hold_records records and makes at most
// catch_up_hold_events events, and queues whole revisions within the watcher's budget. The batch that
// reaches the end of the log marks the watcher synced while it still holds the lock: no write can run
// between the history it read and the live stream it rejoins, so there is no gap and no duplicate.
// Compaction runs between batches; a watcher whose next revision it compacted is cancelled.
//
// Executors: a watcher posts to its executor (drains, catch-ups) and a pending async_next to its
// handler's; each post is made only while the executor's context lives (base::context_liveness). A
// watcher whose context was destroyed is gone: treated as cancelled, it posts nothing more; a pending
// async_next on a destroyed context is dropped (handler destroyed uncalled) by that context's shutdown.
//
// Delivery: each watcher owns a queue. Callback mode drains it with jobs posted to the watcher's
// executor; pull mode hands responses to async_next completions. Nothing user-facing runs under a lock.
//
// Locks (outermost first): the hub's alive_mu (shared by jobs, exclusive by close) -> the store's mu ->
// a watcher's mu -> a context_liveness's mutex. A watcher's handler_mu is held only around its callback.
//
// Thread safety: on_write/add/remove are called under the store's exclusive lock; the rest as documented.
#pragma once

#include "base/executor_liveness.hpp"
#include "leasekv/clock.hpp"
#include "leasekv/watch.hpp"
#include "mvcc/kv_store.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace leasekv::detail {

class watch_hub;

// One watcher's state, shared by its handle (hub_watcher), the hub's indexes and its delivery jobs.
struct watcher_state : std::enable_shared_from_this<watcher_state> {
  // Constant after creation.
  std::int64_t id = 0;
  key_range range;
  bool single_key = false;
  watch_options opts;
  boost::asio::any_io_executor executor;
  watch_handler callback;  // empty: pull mode
  std::weak_ptr<detail::watch_hub> hub;
  std::shared_ptr<base::context_liveness> liveness;  // of executor's context
  const boost::asio::execution_context* context = nullptr;

  std::recursive_mutex handler_mu;  // held while the callback runs; recursive so it may cancel itself

  std::mutex mu;  // guards everything below
  std::deque<watch_response> queue;
  std::size_t queued_events = 0;
  bool synced = false;
  std::int64_t next_rev = 0;  // unsynced: the first revision not yet queued
  mvcc::revision read_from;   // unsynced: the next change log record to read
  std::vector<watch_event> carry;  // unsynced: events of revision next_rev read, not queued yet
  std::int64_t min_rev = 0;   // synced: revisions below this are not for this watcher (a future start)
  bool drain_scheduled = false;
  bool catch_up_scheduled = false;
  bool cancelled = false;     // by the user
  bool gone = false;          // the executor's context was destroyed: as cancelled, but still indexed
  bool finished = false;      // a canceled response was queued: nothing follows it
  bool ended = false;         // that response was delivered
  bool progress_requested = false;
  bool active_since_progress = false;  // for periodic progress notifications
  std::unique_ptr<detail::watch_completion> pending;  // pull mode
  std::shared_ptr<base::context_liveness> pending_liveness;  // of pending's context
  base::context_liveness::registration pending_drop;  // drops pending at that context's shutdown
  std::uint64_t pending_seq = 0;                      // which pending pending_drop is for

  // Scratch for building one write group's response; guarded by the store's lock.
  std::vector<watch_event> scratch;
};

// Per hold of the store's lock, a catch-up reads at most this many change log records and makes at most
// this many events (and, a revision at a time, queues them).
inline constexpr std::size_t catch_up_hold_records = 4096;
inline constexpr std::size_t catch_up_hold_events = 1024;

class watch_hub : public std::enable_shared_from_this<watch_hub> {
 public:
  using locked_fn = std::function<void(const mvcc::kv_store&)>;
  using runner = std::function<void(const locked_fn&)>;
  // `run_locked(fn)` runs fn under the store's exclusive lock, `run_shared(fn)` under it shared (for
  // catch-up: it must exclude writers, not readers); `header(rev)` makes a response header.
  watch_hub(runner run_locked, runner run_shared, std::function<response_header(std::int64_t)> header,
            std::size_t max_pending_events);

  // What catch-ups did so far, for tests: the most records read and events made in one hold of the
  // lock, and the most events a watcher had queued (never above max_pending_events, unless one revision
  // alone is larger).
  struct catch_up_stats {
    std::uint64_t holds = 0;
    std::size_t max_hold_records = 0;
    std::size_t max_hold_events = 0;
    std::size_t max_queued_events = 0;
  };
  catch_up_stats stats() const;

  // ---- under the store's exclusive lock ----
  // Creates a watcher. REQUIRES: the range is valid.
  std::shared_ptr<watcher_state> add(const mvcc::kv_store& kv, const key_range& r, const watch_options& o,
                                      boost::asio::any_io_executor ex, watch_handler cb);
  void remove(const watcher_state* s);
  // Feeds one write group's changes to the watchers.
  void on_write(const mvcc::kv_store& kv, const std::vector<mvcc::change>& changes);
  // Sends a progress notification to the watchers that saw no event since the last one.
  void notify_progress(const mvcc::kv_store& kv, const std::shared_ptr<watcher_state>& s);
  bool empty() const { return by_key_.empty() && by_prefix_.empty() && ranged_.empty(); }
  // Periodic progress notifications (watch_options::progress_notify): the next one of `s` is due at `at`.
  void schedule_progress(const std::shared_ptr<watcher_state>& s, clock::time_point at);
  // When the earliest scheduled notification is due.
  std::optional<clock::time_point> next_progress() const;
  // Sends the earliest scheduled notification, if its watcher lives, and schedules that watcher's next
  // one `interval` later.
  void run_next_progress(const mvcc::kv_store& kv, std::chrono::milliseconds interval);

  // ---- from any thread ----
  // Stops every job; none runs after close() returns. Pending pull completions get operation_aborted.
  void close();
  void cancel(const std::shared_ptr<watcher_state>& s);
  void request_progress(const std::shared_ptr<watcher_state>& s);
  void start_next(const std::shared_ptr<watcher_state>& s, std::unique_ptr<watch_completion> c);

  // REQUIRES: s.mu held, s.pending set. Completes the pending pull, or drops it if its context is
  // shutting down.
  static void complete_pending(watcher_state& s, boost::system::error_code ec, watch_response r);
  // REQUIRES: s->mu held. Makes c the pending pull, dropped by its context's shutdown if that comes first.
  static void set_pending(const std::shared_ptr<watcher_state>& s, std::unique_ptr<watch_completion> c);

 private:
  // REQUIRES: s->mu held. Hands queued responses to the consumer, or schedules a catch-up.
  void kick(const std::shared_ptr<watcher_state>& s);
  void schedule_catch_up(const std::shared_ptr<watcher_state>& s);
  void catch_up(const mvcc::kv_store& kv, const std::shared_ptr<watcher_state>& s);
  void drain(const std::shared_ptr<watcher_state>& s);
  void push(watcher_state& s, watch_response r);
  watch_response progress_response(const watcher_state& s, std::int64_t rev) const;
  // REQUIRES: s->mu held. Posts job to s's executor if its context lives; else marks s gone (and ends a
  // pending pull) and returns false.
  template <class Job>
  bool post_job(const std::shared_ptr<watcher_state>& s, Job&& job);

  const runner run_locked_;
  const runner run_shared_;
  const std::function<response_header(std::int64_t)> header_;
  const std::size_t max_pending_events_;

  std::shared_mutex alive_mu_;  // jobs hold it shared; close() exclusively
  bool alive_ = true;

  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using watcher_list = std::vector<std::shared_ptr<watcher_state>>;
  using index = std::unordered_map<std::string, watcher_list, string_hash, std::equal_to<>>;
  enum class shape { key, prefix, range };
  static shape shape_of(const key_range& r);
  watcher_list* list_for(const watcher_state& s);

  // Guarded by the store's lock. Watchers are found by their key (one key), by their prefix (the key is
  // looked up under each prefix length in use), or by a scan (any other range).
  std::int64_t next_id_ = 0;
  index by_key_;
  index by_prefix_;
  std::map<std::size_t, std::size_t> prefix_lengths_;  // prefix length -> watchers with it
  watcher_list ranged_;
  std::atomic<std::int64_t> current_rev_{1};
  // Progress notifications by due time (ties in scheduling order).
  std::map<std::pair<clock::time_point, std::uint64_t>, std::weak_ptr<watcher_state>> progress_timers_;
  std::uint64_t progress_seq_ = 0;

  std::atomic<std::uint64_t> holds_{0};
  std::atomic<std::size_t> max_hold_records_{0};
  std::atomic<std::size_t> max_hold_events_{0};
  std::atomic<std::size_t> max_queued_events_{0};
};

// True iff `key` is in `r` (etcd's conventions; range_end "\0" means no upper bound).
bool in_range(const key_range& r, std::string_view key);

}  // namespace leasekv::detail
