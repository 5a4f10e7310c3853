// The watch hub: every watcher of a store, fed from each write group's changes.
//
// A watcher is synced (it receives each matching write group live, as one response) or unsynced (it
// replays from `next_rev` out of the MVCC history: after a start_revision in the past, or after its
// queue of undelivered events overflowed). Catch-up runs under the store's write lock, so no write can
// slip between the history it reads and the live stream it rejoins: no gap, no duplicate.
//
// Delivery: each watcher owns a queue. Callback mode drains it with jobs posted to the watcher's
// executor; pull mode hands responses to async_next completions. Nothing user-facing runs under a lock.
//
// Locks (outermost first): the hub's alive_mu (shared by jobs, exclusive by close) -> the store's mu ->
// a watcher's mu. A watcher's handler_mu is held only around its callback.
//
// Thread safety: on_write/add/remove are called under the store's exclusive lock; the rest as documented.
#pragma once

#include "leasekv/watch.hpp"
#include "mvcc/kv_store.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace leasekv::detail {

class watch_hub;

}  // namespace leasekv::detail

namespace leasekv {

struct watcher::state : std::enable_shared_from_this<watcher::state> {
  // Constant after creation.
  std::int64_t id = 0;
  key_range range;
  bool single_key = false;
  watch_options opts;
  boost::asio::any_io_executor executor;
  watch_handler callback;  // empty: pull mode
  std::weak_ptr<detail::watch_hub> hub;

  std::recursive_mutex handler_mu;  // held while the callback runs; recursive so it may cancel itself

  std::mutex mu;  // guards everything below
  std::deque<watch_response> queue;
  std::size_t queued_events = 0;
  bool synced = false;
  std::int64_t next_rev = 0;  // unsynced: the first revision not yet queued
  std::int64_t min_rev = 0;   // synced: revisions below this are not for this watcher (a future start)
  bool drain_scheduled = false;
  bool catch_up_scheduled = false;
  bool cancelled = false;     // by the user
  bool finished = false;      // a canceled response was queued: nothing follows it
  bool ended = false;         // that response was delivered
  bool progress_requested = false;
  bool active_since_progress = false;  // for periodic progress notifications
  std::unique_ptr<detail::watch_completion> pending;  // pull mode

  // Scratch for building one write group's response; guarded by the store's lock.
  std::vector<watch_event> scratch;
};

}  // namespace leasekv

namespace leasekv::detail {

class watch_hub : public std::enable_shared_from_this<watch_hub> {
 public:
  using locked_fn = std::function<void(const mvcc::kv_store&)>;
  // `run_locked(fn)` runs fn under the store's exclusive lock; `header(rev)` makes a response header.
  watch_hub(std::function<void(const locked_fn&)> run_locked, std::function<response_header(std::int64_t)> header,
            std::size_t max_pending_events);

  // ---- under the store's exclusive lock ----
  // Creates a watcher. REQUIRES: the range is valid.
  std::shared_ptr<watcher::state> add(const mvcc::kv_store& kv, const key_range& r, const watch_options& o,
                                      boost::asio::any_io_executor ex, watch_handler cb);
  void remove(const watcher::state* s);
  // Feeds one write group's changes to the watchers.
  void on_write(const mvcc::kv_store& kv, const std::vector<mvcc::change>& changes);
  // Sends a progress notification to the watchers that saw no event since the last one.
  void notify_progress(const mvcc::kv_store& kv, const std::shared_ptr<watcher::state>& s);
  bool empty() const { return by_key_.empty() && by_prefix_.empty() && ranged_.empty(); }

  // ---- from any thread ----
  // Stops every job; none runs after close() returns. Pending pull completions get operation_aborted.
  void close();
  void cancel(const std::shared_ptr<watcher::state>& s);
  void request_progress(const std::shared_ptr<watcher::state>& s);
  void start_next(const std::shared_ptr<watcher::state>& s, std::unique_ptr<watch_completion> c);

 private:
  // REQUIRES: s->mu held. Hands queued responses to the consumer, or schedules a catch-up.
  void kick(const std::shared_ptr<watcher::state>& s);
  void schedule_catch_up(const std::shared_ptr<watcher::state>& s);
  void catch_up(const mvcc::kv_store& kv, const std::shared_ptr<watcher::state>& s);
  void drain(const std::shared_ptr<watcher::state>& s);
  void push(watcher::state& s, watch_response r);
  watch_response progress_response(const watcher::state& s, std::int64_t rev) const;

  const std::function<void(const locked_fn&)> run_locked_;
  const std::function<response_header(std::int64_t)> header_;
  const std::size_t max_pending_events_;

  std::shared_mutex alive_mu_;  // jobs hold it shared; close() exclusively
  bool alive_ = true;

  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using watcher_list = std::vector<std::shared_ptr<watcher::state>>;
  using index = std::unordered_map<std::string, watcher_list, string_hash, std::equal_to<>>;
  enum class shape { key, prefix, range };
  static shape shape_of(const key_range& r);
  watcher_list* list_for(const watcher::state& s);

  // Guarded by the store's lock. Watchers are found by their key (one key), by their prefix (the key is
  // looked up under each prefix length in use), or by a scan (any other range).
  std::int64_t next_id_ = 0;
  index by_key_;
  index by_prefix_;
  std::map<std::size_t, std::size_t> prefix_lengths_;  // prefix length -> watchers with it
  watcher_list ranged_;
  std::atomic<std::int64_t> current_rev_{1};
};

// True iff `key` is in `r` (etcd's conventions; range_end "\0" means no upper bound).
bool in_range(const key_range& r, std::string_view key);

}  // namespace leasekv::detail
