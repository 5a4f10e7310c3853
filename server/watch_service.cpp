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
//   - each watcher's store watch is cancelled, or it leaves its shared watch; the stream remembers, per
//     watcher, the first revision it has not queued (after its last event, or after a progress
//     notification's revision);
//   - no further request is read (creates and progress requests would queue replies);
// and the store's writers and every other stream go on undisturbed. Once the client has drained the
// queue to resume_bytes, each watcher is started again in the store from its remembered revision, so it
// first replays the history it missed and then continues live, with no gap and no duplicate; a watcher
// whose revision was compacted meanwhile gets etcd's compaction cancel (compact_revision set, header
// revision 0). Reading resumes at the same point. So a stream holds at most pause_bytes plus one store
// response (a live revision's events, or one catch-up batch: lib/watch/watch_hub.hpp), however long its
// client sleeps.
//
// Watchers of one range and options may share one store watch (watch_group.hpp): each event is then made,
// queued and encoded once for all of them, and its bytes appended to each one's response; the create's
// reply still comes first, as a shared watch appends under the stream's mutex too. Responses go
// out as bytes (watch_wire.hpp) through the method's raw form; requests are parsed here.
//
// Fragmenting (a create with fragment set): a response with at least two events whose encoding reaches
// the server's receive limit (etcd's --max-request-bytes plus 512 KiB) is split as etcd's sendFragments
// splits it: each part takes events while it stays below the limit (at least one), and every part but the
// last has fragment set.
#include "convert.hpp"
#include "services.hpp"
#include "watch_group.hpp"
#include "watch_stream.hpp"

#include <grpcpp/support/proto_buffer_reader.h>

#include <memory>
#include <mutex>
#include <vector>

namespace leasekv::server_detail {
namespace {

class watch_reactor final : public watch_stream {
 public:
  watch_reactor(std::shared_ptr<context> c, std::shared_ptr<watch_groups> groups)
      : c_(std::move(c)), state_(std::make_shared<stream_state>(c_, std::move(groups))) {
    ++c_->counters.watch_streams;
    state_->reactor = this;
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    // A client's half-close does not end the RPC (etcd 3.4 waits for the cancellation too).
    if (!ok) return;
    etcdserverpb::WatchRequest req;
    if (!grpc::GenericDeserialize<grpc::ProtoBufferReader, etcdserverpb::WatchRequest>(&in_, &req).ok()) {
      std::lock_guard lock(state_->mu);
      state_->finish_locked(grpc::Status(grpc::StatusCode::INTERNAL, "grpc: error unmarshalling request"));
      return;
    }
    switch (req.request_union_case()) {
      case etcdserverpb::WatchRequest::kCreateRequest: create(req.create_request()); break;
      case etcdserverpb::WatchRequest::kCancelRequest: cancel(req.cancel_request().watch_id()); break;
      case etcdserverpb::WatchRequest::kProgressRequest: {
        // Clients take the answer's revision as every watcher's progress. A paused stream's watchers have
        // not queued everything up to it, so it gets no answer then, as etcd 3.4.25 and later give none
        // while a watcher is unsynced (3.4.23 answers always).
        etcdserverpb::WatchResponse r;
        to_pb(state_->header(c_->store->revision()), r.mutable_header());
        r.set_watch_id(-1);
        std::lock_guard lock(state_->mu);
        if (!state_->paused) state_->queue_locked(r);
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
    StartRead(&in_);
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
      StartRead(&in_);
    }
  }

  void OnCancel() override {
    std::lock_guard lock(state_->mu);
    state_->finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "etcdserver: watch canceled"));
  }

  void OnDone() override {
    std::vector<store_watch> to_cancel;
    {
      std::lock_guard lock(state_->mu);
      state_->finished = true;
      state_->reactor = nullptr;
      state_->drop_queue_locked();
      while (!state_->watchers.empty()) {
        auto it = state_->watchers.begin();
        state_->stop_locked(it->first, it->second, to_cancel);
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
    std::vector<store_watch> paused_watch;  // cancelled after the mutex is released
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
    if (auto s = st.start_locked(id, it->second, current); !s) {
      st.watchers.erase(it);
      st.queue_locked(failed_create(s.error().message()));
      return;
    }
    ++c_->counters.watchers;
    if (st.paused) {  // it starts with the others when the client has drained the queue
      st.stop_locked(id, it->second, paused_watch);
      ++c_->counters.paused_watchers;
    }
    etcdserverpb::WatchResponse created;
    to_pb(st.header(current), created.mutable_header());
    created.set_watch_id(id);
    created.set_created(true);
    st.queue_locked(created);
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
    std::vector<store_watch> to_cancel;
    {
      std::lock_guard lock(state_->mu);
      auto it = state_->watchers.find(id);
      if (it == state_->watchers.end()) return;  // unknown: no reply, as etcd
      state_->stop_locked(id, it->second, to_cancel);
      state_->erase_locked(it);
    }
    to_cancel.clear();  // no handler of it runs after this
    etcdserverpb::WatchResponse r;
    to_pb(state_->header(c_->store->revision()), r.mutable_header());
    r.set_watch_id(id);
    r.set_canceled(true);
    std::lock_guard lock(state_->mu);
    state_->queue_locked(r);
  }

  std::shared_ptr<context> c_;
  std::shared_ptr<stream_state> state_;
  grpc::ByteBuffer in_;
};

}  // namespace

watch_service::watch_service(std::shared_ptr<context> c) : c_(c), groups_(std::make_shared<watch_groups>(std::move(c))) {}

watch_service::~watch_service() = default;

watch_stream* watch_service::Watch(grpc::CallbackServerContext*) { return new watch_reactor(c_, groups_); }

}  // namespace leasekv::server_detail
