// v3electionpb.Election/Observe: clientv3's Election.Observe run inside the server. The stream carries the
// leader now (or, with none, the first candidate to appear) and then every put to the leader's key; when
// that key goes, the next leader. Each response is the leader's key-value with the header of the read or
// watch response that showed it.
#include "convert.hpp"
#include "recipes.hpp"
#include "services.hpp"

#include <boost/asio/post.hpp>

#include <deque>

namespace leasekv::server_detail {
namespace {

using observe_stream = grpc::ServerWriteReactor<v3electionpb::LeaderResponse>;

// Everything after the constructor runs on the strand: the store watches' handlers, the write
// completions and the cancellation (both posted there), and the deletion. Responses are written one at a
// time from a queue. A client that reads slowly holds the recipe back instead of growing the queue:
// with max_queued responses waiting, the watch on the leader's key is dropped and later started again
// from the revision after the last response queued (as etcd's goroutine blocks on its channel).
class observe_reactor final : public observe_stream {
 public:
  observe_reactor(std::shared_ptr<context> c, const std::string& name)
      : c_(std::move(c)), strand_(boost::asio::make_strand(c_->watch_executor)), prefix_(name + "/") {
    boost::asio::post(strand_, [this] { find_leader(); });
  }

  void OnWriteDone(bool ok) override {
    boost::asio::post(strand_, [this, ok] {
      writing_ = false;
      queue_.pop_front();
      if (!ok) {
        end(grpc::Status::OK);  // the client is gone; nothing more can be sent
        return;
      }
      write_next();
      if (paused_ && queue_.size() < max_queued) {
        paused_ = false;
        follow(following_, next_revision_);
      }
    });
  }

  void OnCancel() override {
    boost::asio::post(strand_, [this] { end(grpc::Status(grpc::StatusCode::CANCELLED, "context canceled")); });
  }

  void OnDone() override {
    boost::asio::post(strand_, [this] { delete this; });
  }

 private:
  static constexpr std::size_t max_queued = 64;

  // The oldest candidate, sent at once; with none, a watch on the prefix for the first put.
  void find_leader() {
    if (finished_) return;
    auto r = c_->store->range(prefix(prefix_), first_created());
    if (!r) {
      no_more();
      return;
    }
    if (r.value().kvs.empty()) {
      awaiting_put_ = true;
      watch(prefix(prefix_), r.value().header.revision);
      return;
    }
    const auto& kv = r.value().kvs.front();
    send(r.value().header, kv);
    follow(kv.key, r.value().header.revision + 1);
  }

  // Watches the leader's key from `from`: its puts are sent, its delete means a new leader.
  void follow(const std::string& key, std::int64_t from) {
    awaiting_put_ = false;
    following_ = key;
    next_revision_ = from;
    if (queue_.size() >= max_queued) {
      paused_ = true;
      retire();
      return;
    }
    watch(key_range(key), from);
  }

  void on_watch(const watch_response& wr) {
    if (finished_) return;
    if (wr.canceled) {
      no_more();
      return;
    }
    if (awaiting_put_) {
      for (const auto& e : wr.events) {
        if (e.type != watch_event::kind::put) continue;
        // As clientv3: the first put's header, at that put's revision.
        response_header h = with_ids(*c_, wr.header);
        h.revision = e.kv.mod_revision;
        send(h, e.kv);
        follow(e.kv.key, h.revision + 1);
        return;
      }
      return;
    }
    for (const auto& e : wr.events) {
      if (e.type == watch_event::kind::del) {
        find_leader();
        return;
      }
      send(with_ids(*c_, wr.header), e.kv);
      next_revision_ = e.kv.mod_revision + 1;
    }
    if (queue_.size() >= max_queued) {
      paused_ = true;
      retire();
    }
  }

  void watch(key_range r, std::int64_t from) {
    watch_options o;
    o.start_revision = from;
    auto w = c_->store->watch(std::move(r), o, strand_, [this](const watch_response& wr) { on_watch(wr); });
    retire();
    if (!w) {
      no_more();
      return;
    }
    watcher_ = std::move(w).value();
  }

  // Cancels the current watcher, whose handler may be on the stack: destroyed at the next retirement.
  void retire() {
    if (!watcher_) return;
    watcher_->cancel();
    retired_ = std::move(watcher_);
  }

  void send(const response_header& h, const key_value& kv) {
    v3electionpb::LeaderResponse r;
    to_pb(h, r.mutable_header());
    to_pb(kv, r.mutable_kv());
    queue_.push_back(std::move(r));
    write_next();
  }

  void write_next() {
    if (finished_) return;
    if (queue_.empty()) {
      if (ending_) end(grpc::Status::OK);
      return;
    }
    if (writing_) return;
    writing_ = true;
    StartWrite(&queue_.front());
  }

  // The recipe cannot go on (a read failed, a watch was cancelled): as etcd, the stream ends with OK once
  // what was queued has been written.
  void no_more() {
    retire();
    ending_ = true;
    if (!writing_ && queue_.empty()) end(grpc::Status::OK);
  }

  void end(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    retire();
    Finish(s);
  }

  std::shared_ptr<context> c_;
  strand strand_;
  std::string prefix_;
  std::unique_ptr<watcher> watcher_;
  std::unique_ptr<watcher> retired_;
  bool awaiting_put_ = false;   // watching the prefix for the first candidate
  std::string following_;       // else: the leader's key, watched from next_revision_
  std::int64_t next_revision_ = 0;
  bool paused_ = false;         // the watch on following_ is dropped until the queue shrinks
  std::deque<v3electionpb::LeaderResponse> queue_;  // front: being written while writing_
  bool writing_ = false;
  bool ending_ = false;         // finish once the queue is written
  bool finished_ = false;       // Finish called
};

}  // namespace

observe_stream* election_service::Observe(grpc::CallbackServerContext*, const v3electionpb::LeaderRequest* req) {
  return new observe_reactor(c_, req->name());
}

}  // namespace leasekv::server_detail
