// v3lockpb.Lock: clientv3's Mutex run inside the server for the caller's lease (etcd's v3lock/lock.go).
// Lock queues the caller's key under name + "/" and answers once every older key is gone; Unlock deletes
// a key. Every error goes out as Unknown with etcd's text, as etcd's server sends it.
#include "convert.hpp"
#include "recipes.hpp"
#include "services.hpp"

#include <boost/asio/post.hpp>

namespace leasekv::server_detail {
namespace {

// One Lock call. The constructor (on gRPC's thread) runs the mutex's one txn: put the caller's key if it is
// not there, and read the oldest key. If that is the caller's, it answers at once; otherwise it waits
// (wait_deletes) on the strand, where cancellation (the client gone, its deadline passed, the server
// shutting down) and the reactor's deletion run too. A wait that ends without the lock deletes the
// caller's key, as clientv3's Lock does, so a waiter that gave up never blocks the ones after it.
class lock_reactor final : public grpc::ServerUnaryReactor {
 public:
  lock_reactor(std::shared_ptr<context> c, const v3lockpb::LockRequest& req, v3lockpb::LockResponse* resp)
      : c_(std::move(c)), strand_(boost::asio::make_strand(c_->watch_executor)), resp_(resp) {
    auto lease = session_lease(*c_, req.lease());
    if (!lease) {
      fail(lease.error());
      return;
    }
    const std::string pfx = req.name() + "/";
    key_ = session_key(pfx, lease.value());
    // The caller's key, created unless this lease already queued it (then its existing place counts).
    auto t = c_->store->txn()
                 .when(compare::create_revision(key_) == 0)
                 .then(op::put(key_, "", {.lease = lease.value()}), op::get(prefix(pfx), first_created()))
                 .otherwise(op::get(key_), op::get(prefix(pfx), first_created()))
                 .commit();
    if (!t) {
      fail(t.error());
      return;
    }
    const auto& r = t.value();
    if (r.responses.size() != 2 || (!r.succeeded && r.responses[0].range.kvs.empty())) {
      fail(error(errc::key_not_found));  // the key vanished inside the txn: cannot happen
      return;
    }
    const std::int64_t my_rev = r.succeeded ? r.header.revision : r.responses[0].range.kvs.front().create_revision;
    const auto& owner = r.responses[1].range.kvs;
    if (owner.empty() || owner.front().create_revision == my_rev) {
      answer(r.header);
      return;
    }
    wait_ = std::make_unique<wait_deletes>(c_, strand_, pfx, my_rev - 1,
                                           [this](result<response_header> w) { on_waited(std::move(w)); });
    boost::asio::post(strand_, [this] {
      if (!finished_) wait_->start();
    });
  }

  void OnCancel() override {
    boost::asio::post(strand_, [this] {
      if (finished_) return;
      finished_ = true;
      wait_->cancel();
      unlock();
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "context canceled"));
    });
  }

  // Deleted on the strand, after whatever it had posted there: the wait's watchers are cancelled with it.
  void OnDone() override {
    boost::asio::post(strand_, [this] { delete this; });
  }

 private:
  void on_waited(result<response_header> w) {
    if (!w) {
      unlock();
      fail(w.error());
      return;
    }
    answer(w.value());
  }

  void answer(const response_header& h) {
    finished_ = true;
    to_pb(h, resp_->mutable_header());
    resp_->set_key(key_);
    Finish(grpc::Status::OK);
  }

  void fail(const error& e) {
    finished_ = true;
    Finish(recipe_status(e));
  }

  // Gives up the place in the queue (its failure changes nothing for the caller).
  void unlock() { (void)c_->store->delete_range(key_range(key_)); }

  std::shared_ptr<context> c_;
  strand strand_;
  v3lockpb::LockResponse* resp_;
  std::string key_;
  std::unique_ptr<wait_deletes> wait_;
  bool finished_ = false;  // Finish called or about to be; on the strand once waiting
};

}  // namespace

grpc::ServerUnaryReactor* lock_service::Lock(grpc::CallbackServerContext*, const v3lockpb::LockRequest* req,
                                             v3lockpb::LockResponse* resp) {
  return new lock_reactor(c_, *req, resp);
}

grpc::ServerUnaryReactor* lock_service::Unlock(grpc::CallbackServerContext* ctx, const v3lockpb::UnlockRequest* req,
                                               v3lockpb::UnlockResponse* resp) {
  auto r = c_->store->delete_range(key_range(req->key()));
  if (!r) return finish(ctx, recipe_status(r.error()));
  to_pb(r.value().header, resp->mutable_header());
  return finish(ctx, grpc::Status::OK);
}

}  // namespace leasekv::server_detail
