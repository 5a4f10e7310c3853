// Lease: Grant, Revoke, the KeepAlive stream, TimeToLive, Leases (etcd's v3rpc/lease.go).
#include "convert.hpp"
#include "services.hpp"
#include "status.hpp"

#include <chrono>

namespace leasekv::server_detail {

lease_id context::next_lease_id() {
  constexpr std::uint64_t low48 = (std::uint64_t{1} << 48) - 1;
  const std::uint64_t n = lease_sequence.fetch_add(2, std::memory_order_relaxed) + 2;
  const std::uint64_t id = ((identity.member_id & 0xffff) << 48) | (n & low48);
  return static_cast<lease_id>(id & 0x7fffffffffffffffull);
}

grpc::ServerUnaryReactor* lease_service::LeaseGrant(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::LeaseGrantRequest* req,
                                                    etcdserverpb::LeaseGrantResponse* resp) {
  // Checked here only so that the seconds convert to milliseconds without overflow; the store makes the
  // same check.
  if (req->ttl() > max_lease_ttl.count()) return finish(ctx, to_status(errc::lease_ttl_too_large));
  const auto ttl = std::chrono::seconds(req->ttl());
  return run_write(*c_, ctx, [c = c_.get(), req, resp, ttl] {
    result<lease_grant_response> r = errc::lease_exists;
    if (req->id() != 0) {
      r = c->store->grant(ttl, req->id());
    } else {
      // An id of ours may collide with one a client chose: take the next.
      for (int attempt = 0; attempt < 16 && !r && r.error() == errc::lease_exists; ++attempt) {
        r = c->store->grant(ttl, c->next_lease_id());
      }
    }
    if (!r) return to_status(r.error());
    to_pb(r.value().header, resp->mutable_header());
    resp->set_id(r.value().id);
    resp->set_ttl(r.value().ttl);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* lease_service::LeaseRevoke(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::LeaseRevokeRequest* req,
                                                     etcdserverpb::LeaseRevokeResponse* resp) {
  return run_write(*c_, ctx, [c = c_.get(), req, resp] {
    auto r = c->store->revoke(req->id());
    if (!r) return to_status(r.error());
    to_pb(r.value().header, resp->mutable_header());
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* lease_service::LeaseTimeToLive(grpc::CallbackServerContext* ctx,
                                                         const etcdserverpb::LeaseTimeToLiveRequest* req,
                                                         etcdserverpb::LeaseTimeToLiveResponse* resp) {
  auto r = c_->store->time_to_live(req->id(), {.keys = req->keys()});
  if (!r) return finish(ctx, to_status(r.error()));
  const auto& t = r.value();
  to_pb(t.header, resp->mutable_header());
  resp->set_id(req->id());
  resp->set_ttl(t.ttl);
  resp->set_grantedttl(t.granted_ttl);
  for (const auto& k : t.keys) resp->add_keys(k);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* lease_service::LeaseLeases(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::LeaseLeasesRequest*,
                                                     etcdserverpb::LeaseLeasesResponse* resp) {
  auto r = c_->store->leases();
  if (!r) return finish(ctx, to_status(r.error()));
  to_pb(r.value().header, resp->mutable_header());
  for (const auto& l : r.value().leases) resp->add_leases()->set_id(l.id);
  return finish(ctx, grpc::Status::OK);
}

namespace {

// One keep-alive stream: each request is answered, in order, before the next is read (etcd answers each
// in turn too). An unknown or expired lease is answered with TTL 0, not an error; the client's
// half-close ends the RPC with OK.
//
// Bounded by construction: at most one request and one response per stream exist at a time. A client
// that stops reading leaves its one response unwritten (the write waits on the client's flow control),
// so the stream reads nothing more; the client's further requests wait in its own transport. It
// holds no lock meanwhile and costs nothing to other streams or to the store. A vanished client ends the
// pending read or write with ok = false, which finishes the RPC; OnDone then frees the stream.
class keep_alive_reactor final
    : public grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse> {
 public:
  explicit keep_alive_reactor(std::shared_ptr<context> c) : c_(std::move(c)) {
    ++c_->counters.keep_alive_streams;
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    resp_.Clear();
    auto r = c_->store->keep_alive_once(req_.id());
    if (r) {
      to_pb(r.value().header, resp_.mutable_header());
      resp_.set_ttl(r.value().ttl);
    } else if (r.error() == errc::lease_not_found) {
      to_pb(response_header{c_->identity.cluster_id, c_->identity.member_id, c_->store->revision(), c_->raft_term},
            resp_.mutable_header());
      resp_.set_ttl(0);
    } else {
      Finish(to_status(r.error()));
      return;
    }
    resp_.set_id(req_.id());
    StartWrite(&resp_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // the client is gone; nothing more can be sent
      return;
    }
    StartRead(&req_);
  }

  void OnDone() override {
    --c_->counters.keep_alive_streams;
    delete this;
  }

 private:
  std::shared_ptr<context> c_;
  etcdserverpb::LeaseKeepAliveRequest req_;
  etcdserverpb::LeaseKeepAliveResponse resp_;
};

}  // namespace

grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>*
lease_service::LeaseKeepAlive(grpc::CallbackServerContext*) {
  return new keep_alive_reactor(c_);
}

}  // namespace leasekv::server_detail
