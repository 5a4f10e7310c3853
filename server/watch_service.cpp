// Watch: one bidirectional stream carrying many watchers (etcd's v3rpc/watch.go). Requests are read
// one at a time; responses go out through one queue, one write at a time, in the order they were queued.
// A create's reply is queued before any event of its watcher: the store runs a watcher's handler on the
// watch executor, and the handler queues under the same mutex the create holds while it starts the
// watcher and queues the reply.
#include "convert.hpp"
#include "services.hpp"
#include "status.hpp"

#include <deque>
#include <map>
#include <mutex>

namespace leasekv::server_detail {
namespace {

using watch_stream = grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

void event_to_pb(const watch_event& e, mvccpb::Event* out) {
  out->set_type(e.type == watch_event::kind::put ? mvccpb::Event::PUT : mvccpb::Event::DELETE);
  to_pb(e.kv, out->mutable_kv());
  if (e.prev_kv) to_pb(*e.prev_kv, out->mutable_prev_kv());
}

class watch_reactor final : public watch_stream {
 public:
  explicit watch_reactor(std::shared_ptr<context> c) : c_(std::move(c)), state_(std::make_shared<state>()) {
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
        etcdserverpb::WatchResponse r;
        to_pb(header(c_->store->revision()), r.mutable_header());
        r.set_watch_id(-1);
        std::lock_guard lock(state_->mu);
        state_->queue_locked(std::move(r));
        break;
      }
      default: break;  // an empty request: etcd ignores it too
    }
    {
      std::lock_guard lock(state_->mu);
      if (state_->finished) return;
    }
    StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(state_->mu);
    state_->writing = false;
    if (!state_->queue.empty()) state_->queue.pop_front();
    if (!ok) {
      state_->finish_locked(grpc::Status::OK);
      return;
    }
    state_->write_next_locked();
  }

  void OnCancel() override {
    std::lock_guard lock(state_->mu);
    state_->finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "etcdserver: watch canceled"));
  }

  void OnDone() override {
    std::map<std::int64_t, std::unique_ptr<watcher>> watchers;
    {
      std::lock_guard lock(state_->mu);
      state_->finished = true;
      state_->reactor = nullptr;
      watchers.swap(state_->watchers);
    }
    // Outside the mutex: cancelling waits for a handler in progress, which may be waiting for it.
    for (auto& [id, w] : watchers) w->cancel();
    delete this;
  }

 private:
  // What the watchers' handlers share with the stream; it outlives the reactor.
  struct state {
    std::mutex mu;
    watch_reactor* reactor = nullptr;  // null once the RPC is done
    bool finished = false;             // Finish called: nothing more may be written
    bool writing = false;
    std::deque<etcdserverpb::WatchResponse> queue;  // front: being written while `writing`
    std::map<std::int64_t, std::unique_ptr<watcher>> watchers;
    std::int64_t next_id = 0;

    void queue_locked(etcdserverpb::WatchResponse r) {
      if (finished) return;
      queue.push_back(std::move(r));
      write_next_locked();
    }
    void write_next_locked() {
      if (writing || finished || queue.empty() || reactor == nullptr) return;
      writing = true;
      reactor->StartWrite(&queue.front());
    }
    void finish_locked(const grpc::Status& s) {
      if (finished || reactor == nullptr) return;
      finished = true;
      reactor->Finish(s);
    }
  };

  response_header header(std::int64_t revision) const {
    return {c_->identity.cluster_id, c_->identity.member_id, revision, c_->raft_term};
  }

  void create(const etcdserverpb::WatchCreateRequest& cr) {
    watch_options o;
    o.prev_kv = cr.prev_kv();
    o.progress_notify = cr.progress_notify();
    for (int f : cr.filters()) {
      if (f == etcdserverpb::WatchCreateRequest::NOPUT) o.no_put = true;
      if (f == etcdserverpb::WatchCreateRequest::NODELETE) o.no_delete = true;
    }
    std::lock_guard lock(state_->mu);
    std::int64_t id = cr.watch_id();
    if (id != 0 && state_->watchers.count(id) != 0) {
      state_->queue_locked(failed_create("mvcc: duplicate watch ID provided on the WatchStream"));
      return;
    }
    if (id == 0) {
      while (state_->watchers.count(state_->next_id) != 0) ++state_->next_id;
      id = state_->next_id++;
    }
    // A watch from "now" starts at an explicit revision, so the created reply names exactly the revision
    // the watcher follows (clientv3 resumes from it after a broken stream).
    const std::int64_t current = c_->store->revision();
    o.start_revision = cr.start_revision() != 0 ? cr.start_revision() : current + 1;
    std::weak_ptr<state> weak = state_;
    auto w = c_->store->watch(key_range(cr.key(), cr.range_end()), o, c_->watch_executor,
                              [weak, id, this_header = header(0)](const watch_response& r) {
                                auto st = weak.lock();
                                if (!st) return;
                                etcdserverpb::WatchResponse out;
                                response_header h = r.header;
                                if (h.cluster_id == 0) h = {this_header.cluster_id, this_header.member_id,
                                                            r.header.revision, this_header.raft_term};
                                if (r.compact_revision != 0) h.revision = 0;  // as etcd: a compaction cancel
                                to_pb(h, out.mutable_header());
                                out.set_watch_id(id);
                                out.set_canceled(r.canceled);
                                out.set_compact_revision(r.compact_revision);
                                if (r.canceled && r.compact_revision == 0 && r.cancel_reason) {
                                  out.set_cancel_reason(r.cancel_reason.message());
                                }
                                for (const auto& e : r.events) event_to_pb(e, out.add_events());
                                std::lock_guard handler_lock(st->mu);
                                st->queue_locked(std::move(out));
                              });
    if (!w) {
      state_->queue_locked(failed_create(w.error().message()));
      return;
    }
    state_->watchers.emplace(id, std::move(w).value());
    etcdserverpb::WatchResponse created;
    to_pb(header(cr.start_revision() != 0 ? current : o.start_revision - 1), created.mutable_header());
    created.set_watch_id(id);
    created.set_created(true);
    state_->queue_locked(std::move(created));
  }

  etcdserverpb::WatchResponse failed_create(const std::string& reason) const {
    etcdserverpb::WatchResponse r;
    to_pb(header(c_->store->revision()), r.mutable_header());
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
      w = std::move(it->second);
      state_->watchers.erase(it);
    }
    w->cancel();  // no handler of it runs after this
    etcdserverpb::WatchResponse r;
    to_pb(header(c_->store->revision()), r.mutable_header());
    r.set_watch_id(id);
    r.set_canceled(true);
    std::lock_guard lock(state_->mu);
    state_->queue_locked(std::move(r));
  }

  std::shared_ptr<context> c_;
  std::shared_ptr<state> state_;
  etcdserverpb::WatchRequest req_;
};

}  // namespace

watch_stream* watch_service::Watch(grpc::CallbackServerContext*) { return new watch_reactor(c_); }

}  // namespace leasekv::server_detail
