// Watch: one bidirectional stream carrying many watchers (etcd's v3rpc/watch.go). Requests are read
// one at a time; responses go out through one queue, one write at a time, in the order they were queued.
// A create's reply is queued before any event of its watcher: the store runs a watcher's handler on the
// watch executor, and the handler queues under the same mutex the create holds while it starts the
// watcher and queues the reply.
//
// A stream's queue is bounded (docs/server.md, "Slow, stopped and vanished clients"). Its bytes count
// until their write completes, and a write completes only as the client's flow control lets it, so a
// client that stops reading fills the queue. Once it holds more than pause_bytes the stream pauses, as
// etcd moves a watcher whose channel is full to its unsynced set:
//   - each watcher's store watch is cancelled; the stream remembers, per watcher, the first revision it
//     has not queued (after its last event, or after a progress notification's revision);
//   - no further request is read (creates and progress requests would queue replies);
// and the store's writers and every other stream go on undisturbed. Once the client has drained the
// queue to resume_bytes, each watcher is started again in the store from its remembered revision, so it
// first replays the history it missed and then continues live, with no gap and no duplicate; a watcher
// whose revision was compacted meanwhile gets etcd's compaction cancel (compact_revision set, header
// revision 0). Reading resumes at the same point. So a stream holds at most pause_bytes plus one store
// response (a live revision's events, or one catch-up batch: lib/watch/watch_hub.hpp), however long its
// client sleeps.
//
// Fragmenting (a create with fragment set): a response with at least two events whose encoding reaches
// the server's receive limit (etcd's --max-request-bytes plus 512 KiB) is split as etcd's sendFragments
// splits it: each part takes events while it stays below the limit (at least one), and every part but the
// last has fragment set.
#include "convert.hpp"
#include "services.hpp"
#include "status.hpp"

#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

namespace leasekv::server_detail {
namespace {

using watch_stream = grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

// A stream pauses when its queue holds more than this, and resumes (watchers and reading) once the client
// has drained it to resume_bytes.
constexpr std::size_t pause_bytes = std::size_t{4} << 20;
constexpr std::size_t resume_bytes = std::size_t{1} << 20;
// What a queued response costs beyond its encoding (the deque node, the message object), counted so that
// many tiny responses are bounded too.
constexpr std::size_t response_overhead_bytes = 128;
// The most bytes of events one response gathers while the client is behind (queue_events_locked); far
// below any client's receive limit.
constexpr std::size_t max_batch_bytes = std::size_t{256} << 10;

void event_to_pb(const watch_event& e, mvccpb::Event* out) {
  out->set_type(e.type == watch_event::kind::put ? mvccpb::Event::PUT : mvccpb::Event::DELETE);
  to_pb(e.kv, out->mutable_kv());
  if (e.prev_kv) to_pb(*e.prev_kv, out->mutable_prev_kv());
}

// etcd's sendFragments: `r` whole if it is smaller than `limit` or has fewer than two events; else parts
// of the longest runs of events that keep each part below `limit` (at least one event each), all but the
// last with fragment set. Sizes are counted as the encoder counts them, without re-encoding each part.
std::vector<etcdserverpb::WatchResponse> fragments(etcdserverpb::WatchResponse r, std::size_t limit) {
  std::vector<etcdserverpb::WatchResponse> out;
  if (r.events_size() < 2 || r.ByteSizeLong() < limit) {
    out.push_back(std::move(r));
    return out;
  }
  google::protobuf::RepeatedPtrField<mvccpb::Event> events;
  events.Swap(r.mutable_events());
  r.set_fragment(true);
  const std::size_t base = r.ByteSizeLong();
  etcdserverpb::WatchResponse part = r;
  std::size_t part_bytes = base;
  for (auto& e : events) {
    const std::size_t n = e.ByteSizeLong();
    const std::size_t cost = 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;  // tag 11, length
    if (part.events_size() > 0 && part_bytes + cost >= limit) {
      out.push_back(std::move(part));
      part = r;
      part_bytes = base;
    }
    *part.add_events() = std::move(e);
    part_bytes += cost;
  }
  part.set_fragment(false);
  out.push_back(std::move(part));
  return out;
}

// One watcher of a stream.
struct watch_entry {
  std::unique_ptr<watcher> w;  // the store's watch; null while the stream is paused
  key_range range;
  // The store watch's options. start_revision: where a restarted store watch begins, the first revision
  // this watcher has not queued.
  watch_options opts;
  bool fragment = false;
  std::uint64_t generation = 0;  // of w: responses of an earlier store watch are dropped
};

// What a stream shares with its store watches' handlers; it outlives the reactor.
struct stream_state : std::enable_shared_from_this<stream_state> {
  explicit stream_state(std::shared_ptr<context> ctx) : c(std::move(ctx)) {}

  const std::shared_ptr<context> c;

  std::mutex mu;  // guards everything below
  watch_stream* reactor = nullptr;  // null once the RPC is done
  bool finished = false;            // Finish called: nothing more may be written
  bool writing = false;
  bool paused = false;              // over the bound: no store watches (see the top of this file)
  bool reads_stopped = false;       // over the bound: a read is due once the queue drains
  struct queued {
    etcdserverpb::WatchResponse r;
    std::size_t bytes;
  };
  std::deque<queued> queue;  // front: being written while `writing`
  std::size_t queued_bytes = 0;
  std::map<std::int64_t, watch_entry> watchers;
  std::int64_t next_id = 0;
  std::uint64_t next_generation = 0;

  response_header header(std::int64_t revision) const {
    return {c->identity.cluster_id, c->identity.member_id, revision, c->raft_term};
  }

  void queue_locked(etcdserverpb::WatchResponse r) {
    if (finished) return;
    const std::size_t bytes = r.ByteSizeLong() + response_overhead_bytes;
    queue.push_back({std::move(r), bytes});
    count_queued_locked(bytes);
    write_next_locked();
  }
  void count_queued_locked(std::size_t bytes) {
    queued_bytes += bytes;
    c->counters.queued_watch_bytes += bytes;
    std::uint64_t seen = c->counters.max_queued_watch_bytes.load();
    while (queued_bytes > seen && !c->counters.max_queued_watch_bytes.compare_exchange_weak(seen, queued_bytes)) {
    }
  }
  // Queues a response of events of one watcher (not fragmenting, not a cancel). While the client has not
  // taken the responses before it, it joins the last queued response if that one is an unsent batch of
  // the same watcher's events, as etcd sends a watcher's pending events in one response: revisions stay
  // in order and whole, the header names the latest. A busy stream then costs one write per batch
  // instead of one per revision.
  void queue_events_locked(etcdserverpb::WatchResponse r) {
    if (finished) return;
    if (queue.size() >= 2) {  // the front may be being written; the back is not
      queued& last = queue.back();
      const std::size_t bytes = r.ByteSizeLong();
      if (last.r.watch_id() == r.watch_id() && last.r.events_size() > 0 && !last.r.canceled() &&
          !last.r.created() && !last.r.fragment() && last.bytes + bytes <= max_batch_bytes) {
        *last.r.mutable_header() = r.header();
        for (auto& ev : *r.mutable_events()) last.r.add_events()->Swap(&ev);
        last.bytes += bytes;
        count_queued_locked(bytes);
        return;
      }
    }
    queue_locked(std::move(r));
  }
  void write_next_locked() {
    if (writing || finished || queue.empty() || reactor == nullptr) return;
    writing = true;
    // With more responses queued behind this one, gRPC may hold it to send with them (one sendmsg for
    // many events instead of one each); the last one queued goes without the hint and flushes them all.
    reactor->StartWrite(&queue.front().r,
                        queue.size() > 1 ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
  }
  // The front's write completed.
  void written_locked() {
    writing = false;
    if (queue.empty()) return;
    queued_bytes -= queue.front().bytes;
    c->counters.queued_watch_bytes -= queue.front().bytes;
    queue.pop_front();
  }
  void finish_locked(const grpc::Status& s) {
    if (finished || reactor == nullptr) return;
    finished = true;
    reactor->Finish(s);
  }
  void drop_queue_locked() {
    c->counters.queued_watch_bytes -= queued_bytes;
    queued_bytes = 0;
    queue.clear();
  }

  // Starts e's store watch from e.opts.start_revision. REQUIRES: mu held (a handler queues under it,
  // and never runs inside store::watch).
  result<void> start_locked(std::int64_t id, watch_entry& e) {
    const std::uint64_t generation = ++next_generation;
    std::weak_ptr<stream_state> weak = weak_from_this();
    auto w = c->store->watch(e.range, e.opts, c->watch_executor, [weak, id, generation](const watch_response& r) {
      if (auto st = weak.lock()) st->on_store_response(id, generation, r);
    });
    if (!w) return w.error();
    e.w = std::move(w).value();
    e.generation = generation;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  // A store watch's handler (on the watch executor): translates, queues, and pauses the stream when
  // the queue passes its bound.
  void on_store_response(std::int64_t id, std::uint64_t generation, const watch_response& r) {
    std::vector<std::unique_ptr<watcher>> to_cancel;
    {
      std::lock_guard lock(mu);
      auto it = watchers.find(id);
      // Another generation's, a paused watcher's (it is replayed on resume) or a removed watcher's.
      if (it == watchers.end() || it->second.generation != generation || !it->second.w) return;
      watch_entry& e = it->second;
      etcdserverpb::WatchResponse out;
      response_header h = r.header;
      if (h.cluster_id == 0) h = header(r.header.revision);
      if (r.compact_revision != 0) h.revision = 0;  // as etcd: a compaction cancel
      to_pb(h, out.mutable_header());
      out.set_watch_id(id);
      out.set_canceled(r.canceled);
      out.set_compact_revision(r.compact_revision);
      if (r.canceled && r.compact_revision == 0 && r.cancel_reason) {
        out.set_cancel_reason(r.cancel_reason.message());
      }
      for (const auto& ev : r.events) event_to_pb(ev, out.add_events());
      // All of a revision's events come in one response, so the next unqueued revision is exact.
      if (!r.events.empty()) {
        e.opts.start_revision = r.events.back().kv.mod_revision + 1;
      } else if (r.is_progress_notify()) {
        e.opts.start_revision = std::max(e.opts.start_revision, r.header.revision + 1);
      }
      const bool fragment = e.fragment;
      if (r.canceled) {  // the store watch's last response: the watcher is gone, as in etcd
        to_cancel.push_back(std::move(e.w));
        erase_locked(it);
      }
      if (fragment) {
        for (auto& part : fragments(std::move(out), static_cast<std::size_t>(c->options.max_receive_message_bytes))) {
          queue_locked(std::move(part));
        }
      } else if (!out.canceled() && out.events_size() > 0) {
        queue_events_locked(std::move(out));
      } else {
        queue_locked(std::move(out));
      }
      if (queued_bytes > pause_bytes) pause_locked(to_cancel);
    }
    // Outside the mutex: cancelling waits for a handler of that watch in progress, which may be waiting
    // for it. The watches cancelled here are those this handler's pause took out of the map; no other
    // handler can take them, so two handlers never wait for each other.
    to_cancel.clear();
  }

  // Takes every store watch out (the caller cancels them outside the mutex).
  void pause_locked(std::vector<std::unique_ptr<watcher>>& to_cancel) {
    if (paused || finished) return;
    paused = true;
    ++c->counters.watch_pauses;
    for (auto& [id, e] : watchers) {
      if (!e.w) continue;
      to_cancel.push_back(std::move(e.w));
      ++c->counters.paused_watchers;
    }
  }

  // The client drained the queue: restart every store watch where it stopped. A watch that cannot be
  // restarted (the store closed) is cancelled with the store's reason.
  void resume_locked() {
    if (!paused || queued_bytes > resume_bytes) return;
    paused = false;
    for (auto it = watchers.begin(); it != watchers.end();) {
      auto next = std::next(it);
      if (!it->second.w) {
        --c->counters.paused_watchers;
        if (auto s = start_locked(it->first, it->second); !s) {
          etcdserverpb::WatchResponse r;
          to_pb(header(c->store->revision()), r.mutable_header());
          r.set_watch_id(it->first);
          r.set_canceled(true);
          r.set_cancel_reason(s.error().message());
          erase_locked(it);
          queue_locked(std::move(r));
        }
      }
      it = next;
    }
  }

  void erase_locked(std::map<std::int64_t, watch_entry>::iterator it) {
    if (!it->second.w && paused) --c->counters.paused_watchers;
    --c->counters.watchers;
    watchers.erase(it);
  }
};

class watch_reactor final : public watch_stream {
 public:
  explicit watch_reactor(std::shared_ptr<context> c) : c_(std::move(c)), state_(std::make_shared<stream_state>(c_)) {
    ++c_->counters.watch_streams;
    state_->reactor = this;
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    // A client's half-close does not end the RPC (etcd 3.4 waits for the cancellation too).
    if (!ok) return;
    switch (req_.request_union_case()) {
      case etcdserverpb::WatchRequest::kCreateRequest: create(req_.create_request()); break;
      case etcdserverpb::WatchRequest::kCancelRequest: cancel(req_.cancel_request().watch_id()); break;
      case etcdserverpb::WatchRequest::kProgressRequest: {
        // Clients take the answer's revision as every watcher's progress. A paused stream's watchers have
        // not queued everything up to it, so it gets no answer then, as etcd 3.4.25 and later give none
        // while a watcher is unsynced (3.4.23 answers always).
        etcdserverpb::WatchResponse r;
        to_pb(state_->header(c_->store->revision()), r.mutable_header());
        r.set_watch_id(-1);
        std::lock_guard lock(state_->mu);
        if (!state_->paused) state_->queue_locked(std::move(r));
        break;
      }
      default: break;  // an empty request: etcd ignores it too
    }
    std::lock_guard lock(state_->mu);
    if (state_->finished) return;
    if (state_->queued_bytes > pause_bytes) {
      state_->reads_stopped = true;  // OnWriteDone reads on once the client drains the queue
      return;
    }
    StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(state_->mu);
    state_->written_locked();
    if (!ok) {
      state_->finish_locked(grpc::Status::OK);
      return;
    }
    state_->write_next_locked();
    state_->resume_locked();
    if (state_->reads_stopped && !state_->finished && state_->queued_bytes <= resume_bytes) {
      state_->reads_stopped = false;
      StartRead(&req_);
    }
  }

  void OnCancel() override {
    std::lock_guard lock(state_->mu);
    state_->finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "etcdserver: watch canceled"));
  }

  void OnDone() override {
    std::vector<std::unique_ptr<watcher>> to_cancel;
    {
      std::lock_guard lock(state_->mu);
      state_->finished = true;
      state_->reactor = nullptr;
      state_->drop_queue_locked();
      while (!state_->watchers.empty()) {
        auto it = state_->watchers.begin();
        if (it->second.w) to_cancel.push_back(std::move(it->second.w));
        state_->erase_locked(it);
      }
    }
    // Outside the mutex: cancelling waits for a handler in progress, which may be waiting for it.
    to_cancel.clear();
    --c_->counters.watch_streams;
    delete this;
  }

 private:
  void create(const etcdserverpb::WatchCreateRequest& cr) {
    watch_entry e;
    e.range = key_range(cr.key(), cr.range_end());
    e.opts.prev_kv = cr.prev_kv();
    e.opts.progress_notify = cr.progress_notify();
    for (int f : cr.filters()) {
      if (f == etcdserverpb::WatchCreateRequest::NOPUT) e.opts.no_put = true;
      if (f == etcdserverpb::WatchCreateRequest::NODELETE) e.opts.no_delete = true;
    }
    e.fragment = cr.fragment();
    std::unique_ptr<watcher> paused_watch;  // cancelled after the mutex is released
    std::lock_guard lock(state_->mu);
    auto& st = *state_;
    std::int64_t id = cr.watch_id();
    if (id != 0 && st.watchers.count(id) != 0) {
      st.queue_locked(failed_create("mvcc: duplicate watch ID provided on the WatchStream"));
      return;
    }
    if (id == 0) {
      while (st.watchers.count(st.next_id) != 0) ++st.next_id;
      id = st.next_id++;
    }
    // A watch from "now" starts at an explicit revision, so the created reply names exactly the revision
    // the watcher follows (clientv3 resumes from it after a broken stream).
    const std::int64_t current = c_->store->revision();
    e.opts.start_revision = cr.start_revision() != 0 ? cr.start_revision() : current + 1;
    auto [it, inserted] = st.watchers.emplace(id, std::move(e));
    if (auto s = st.start_locked(id, it->second); !s) {
      st.watchers.erase(it);
      st.queue_locked(failed_create(s.error().message()));
      return;
    }
    ++c_->counters.watchers;
    if (st.paused) {  // it starts with the others when the client has drained the queue
      paused_watch = std::move(it->second.w);
      ++c_->counters.paused_watchers;
    }
    etcdserverpb::WatchResponse created;
    to_pb(st.header(current), created.mutable_header());
    created.set_watch_id(id);
    created.set_created(true);
    st.queue_locked(std::move(created));
  }

  etcdserverpb::WatchResponse failed_create(const std::string& reason) const {
    etcdserverpb::WatchResponse r;
    to_pb(state_->header(c_->store->revision()), r.mutable_header());
    r.set_watch_id(-1);
    r.set_created(true);
    r.set_canceled(true);
    r.set_cancel_reason(reason);
    return r;
  }

  void cancel(std::int64_t id) {
    std::unique_ptr<watcher> w;
    {
      std::lock_guard lock(state_->mu);
      auto it = state_->watchers.find(id);
      if (it == state_->watchers.end()) return;  // unknown: no reply, as etcd
      w = std::move(it->second.w);
      state_->erase_locked(it);
    }
    if (w) w->cancel();  // no handler of it runs after this
    etcdserverpb::WatchResponse r;
    to_pb(state_->header(c_->store->revision()), r.mutable_header());
    r.set_watch_id(id);
    r.set_canceled(true);
    std::lock_guard lock(state_->mu);
    state_->queue_locked(std::move(r));
  }

  std::shared_ptr<context> c_;
  std::shared_ptr<stream_state> state_;
  etcdserverpb::WatchRequest req_;
};

}  // namespace

watch_stream* watch_service::Watch(grpc::CallbackServerContext*) { return new watch_reactor(c_); }

}  // namespace leasekv::server_detail
