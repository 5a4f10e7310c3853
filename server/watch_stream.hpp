// One Watch stream's state: its watchers, their store watches or shared watches, and its queue of
// responses (docs/server.md, "Watch"; the contract is at the top of watch_service.cpp). The reactor
// (watch_service.cpp) reads requests and writes the queue; store watch handlers and shared watches
// (watch_group.hpp) queue events. It outlives the reactor: handlers hold it weakly.
//
// Thread safety: every member but `c` and `groups` is guarded by `mu`; the *_locked functions require it.
#pragma once

#include "services.hpp"
#include "watch_wire.hpp"

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace leasekv::server_detail {

class watch_group;
class watch_groups;
struct encoded_events;

// A stream pauses when its queue holds more than this, and resumes (watchers and reading) once the client
// has drained it to resume_bytes (watch_service.cpp).
inline constexpr std::size_t pause_bytes = std::size_t{4} << 20;
inline constexpr std::size_t resume_bytes = std::size_t{1} << 20;

using watch_stream = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

// A store watch counted in context::counters.store_watches while it exists.
class store_watch {
 public:
  store_watch() = default;
  store_watch(std::unique_ptr<watcher> w, std::atomic<std::size_t>* count);
  store_watch(store_watch&& o) noexcept : w_(std::move(o.w_)), count_(o.count_) {}
  store_watch& operator=(store_watch&& o) noexcept;
  ~store_watch() { reset(); }
  explicit operator bool() const { return w_ != nullptr; }
  // Cancels the watch: waits for a handler of it in progress (unless called from that handler).
  void reset();

 private:
  std::unique_ptr<watcher> w_;
  std::atomic<std::size_t>* count_ = nullptr;
};

// One watcher of a stream.
struct watch_entry {
  store_watch w;                        // its own store watch; empty while paused or in a group
  std::shared_ptr<watch_group> group;   // the shared watch it is fed from, or null
  key_range range;
  // The store watch's options. start_revision: the cursor, the first revision this watcher has not
  // queued; a restarted store watch begins there.
  watch_options opts;
  bool fragment = false;
  std::uint64_t generation = 0;  // of w or of the group membership: responses of an earlier one are dropped
  std::uint64_t batch_seq = 0;   // the queue entry its events may join (stream_state::queue_events_locked)
  bool fed() const { return w || group; }
};

struct stream_state : std::enable_shared_from_this<stream_state> {
  stream_state(std::shared_ptr<context> ctx, std::shared_ptr<watch_groups> g) : c(std::move(ctx)), groups(std::move(g)) {}

  const std::shared_ptr<context> c;
  const std::shared_ptr<watch_groups> groups;

  std::mutex mu;  // guards everything below
  watch_stream* reactor = nullptr;  // null once the RPC is done
  bool finished = false;            // Finish called: nothing more may be written
  bool writing = false;
  bool paused = false;              // over the bound: no store watches (see watch_service.cpp)
  bool reads_stopped = false;       // over the bound: a read is due once the queue drains
  struct queued {
    wire_response r;
    std::size_t bytes;     // counted in queued_bytes
    std::uint64_t seq;     // next_seq when it was queued: consecutive along the queue
    grpc::ByteBuffer out;  // the front's message while it is written
  };
  std::deque<queued> queue;  // front: being written while `writing`
  std::uint64_t next_seq = 1;
  std::uint64_t barrier_seq = 0;  // the last response for every watcher (watch id -1): no batch before it grows
  std::size_t queued_bytes = 0;
  std::map<std::int64_t, watch_entry> watchers;
  std::int64_t next_id = 0;
  std::uint64_t next_generation = 0;

  response_header header(std::int64_t revision) const {
    return {c->identity.cluster_id, c->identity.member_id, revision, c->raft_term};
  }

  // Queues a response that never merges with another. `e`: the watcher it is for, if it lives on.
  void queue_locked(const etcdserverpb::WatchResponse& r, watch_entry* e = nullptr);
  // Queues events of watcher (id, e) (append_event's entries, whole revisions): they join its last
  // queued batch while that one is unsent and nothing else of this watcher or for every watcher was
  // queued after it (see watch_stream.cpp).
  void queue_events_locked(std::int64_t id, watch_entry& e, const response_header& h, std::string_view events);
  void write_next_locked();
  void written_locked();  // the front's write completed
  void finish_locked(const grpc::Status& s);
  void drop_queue_locked();

  // Feeds watcher `id` from a shared watch if it may join one (watch_group.hpp), else from a store watch
  // of its own, from e.opts.start_revision. `current`: the store's revision, read before.
  result<void> start_locked(std::int64_t id, watch_entry& e, std::int64_t current);
  // Stops feeding e (pause, cancel, end of stream); the store watch to cancel, outside the mutex, goes
  // into `to_cancel`.
  void stop_locked(std::int64_t id, watch_entry& e, std::vector<store_watch>& to_cancel);
  void erase_locked(std::map<std::int64_t, watch_entry>::iterator it);
  void pause_locked(std::vector<store_watch>& to_cancel);
  void resume_locked();
  // Queues a cancel of watcher it (it could not be started), with `reason`, and erases it.
  void cancel_locked(std::map<std::int64_t, watch_entry>::iterator it, const std::string& reason);

  // A store watch's handler (on the watch executor).
  void on_store_response(std::int64_t id, std::uint64_t generation, const watch_response& r);
  // A shared watch's events for its members `ids` of this stream (id, generation), each taking those at
  // or after its cursor; and the end of a shared watch: its members here go on with watches of their own.
  void on_group_events(const watch_group* g, const std::vector<std::pair<std::int64_t, std::uint64_t>>& ids,
                       const encoded_events& ev);
  void on_group_ended(const watch_group* g, const std::vector<std::pair<std::int64_t, std::uint64_t>>& ids);

 private:
  void count_queued_locked(std::size_t bytes);
  // Returns the response's seq.
  std::uint64_t push_locked(wire_response r);
  result<void> start_own_locked(std::int64_t id, watch_entry& e);
  // After queuing: pauses the stream if the queue passed its bound.
  void check_bound_locked(std::vector<store_watch>& to_cancel);
};

}  // namespace leasekv::server_detail
