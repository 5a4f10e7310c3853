// v3electionpb.Election: clientv3's Election run inside the server (etcd's v3election/election.go).
// Candidates queue keys under name + "/" (each named by its lease); the oldest leads. Campaign answers once
// the caller leads; Proclaim and Resign act on a LeaderKey only while its key still has the create
// revision it names; Leader reads the oldest key; Observe (election_observe.cpp) follows it. Every error
// goes out as Unknown with etcd's text, as etcd's server sends it.
#include "convert.hpp"
#include "recipes.hpp"
#include "services.hpp"

#include <boost/asio/post.hpp>

namespace leasekv::server_detail {
namespace {

const char* const missing_leader_key = "\"leader\" field must be provided";
const char* const not_leader = "election: not leader";
const char* const no_leader = "election: no leader";

// One Campaign call; shaped as lock_reactor (lock_service.cpp). The constructor runs the campaign's txn
// (and a Proclaim if the caller's key was there with another value); waiting, cancellation and deletion run
// on the strand. A campaign the client abandons resigns, so its key stops blocking the candidates after it.
class campaign_reactor final : public grpc::ServerUnaryReactor {
 public:
  campaign_reactor(std::shared_ptr<context> c, const v3electionpb::CampaignRequest& req,
                   v3electionpb::CampaignResponse* resp)
      : c_(std::move(c)), strand_(boost::asio::make_strand(c_->watch_executor)), resp_(resp) {
    auto lease = session_lease(*c_, req.lease());
    if (!lease) {
      fail(recipe_status(lease.error()));
      return;
    }
    const std::string pfx = req.name() + "/";
    key_ = session_key(pfx, lease.value());
    auto t = c_->store->txn()
                 .when(compare::create_revision(key_) == 0)
                 .then(op::put(key_, req.value(), {.lease = lease.value()}))
                 .otherwise(op::get(key_))
                 .commit();
    if (!t) {
      fail(recipe_status(t.error()));
      return;
    }
    header_ = t.value().header;
    leader_rev_ = header_.revision;
    if (!t.value().succeeded) {
      const auto& kvs = t.value().responses.front().range.kvs;
      if (kvs.empty()) {
        fail(recipe_status(not_leader));  // the key vanished inside the txn: cannot happen
        return;
      }
      leader_rev_ = kvs.front().create_revision;
      if (kvs.front().value != req.value()) {
        // A campaign again on the same lease with a new value announces it.
        auto p = c_->store->txn()
                     .when(compare::create_revision(key_) == leader_rev_)
                     .then(op::put(key_, req.value(), {.lease = lease.value()}))
                     .commit();
        if (!p || !p.value().succeeded) {
          fail(p ? recipe_status(not_leader) : recipe_status(p.error()));
          return;
        }
      }
    }
    resp_->mutable_leader()->set_name(req.name());
    resp_->mutable_leader()->set_key(key_);
    resp_->mutable_leader()->set_rev(leader_rev_);
    resp_->mutable_leader()->set_lease(lease.value());
    wait_ = std::make_unique<wait_deletes>(c_, strand_, pfx, leader_rev_ - 1,
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
      resign();
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "context canceled"));
    });
  }

  void OnDone() override {
    boost::asio::post(strand_, [this] { delete this; });
  }

 private:
  void on_waited(result<response_header> w) {
    if (!w) {
      fail(recipe_status(w.error()));
      return;
    }
    // As etcd: the header of the campaign's txn, not of the wait.
    finished_ = true;
    to_pb(header_, resp_->mutable_header());
    Finish(grpc::Status::OK);
  }

  void fail(const grpc::Status& s) {
    finished_ = true;
    resp_->Clear();
    Finish(s);
  }

  void resign() {
    (void)c_->store->txn().when(compare::create_revision(key_) == leader_rev_).then(op::del(key_range(key_))).commit();
  }

  std::shared_ptr<context> c_;
  strand strand_;
  v3electionpb::CampaignResponse* resp_;
  std::string key_;
  std::int64_t leader_rev_ = 0;
  response_header header_;
  std::unique_ptr<wait_deletes> wait_;
  bool finished_ = false;  // Finish called or about to be; on the strand once waiting
};

}  // namespace

grpc::ServerUnaryReactor* election_service::Campaign(grpc::CallbackServerContext*,
                                                     const v3electionpb::CampaignRequest* req,
                                                     v3electionpb::CampaignResponse* resp) {
  return new campaign_reactor(c_, *req, resp);
}

grpc::ServerUnaryReactor* election_service::Proclaim(grpc::CallbackServerContext* ctx,
                                                     const v3electionpb::ProclaimRequest* req,
                                                     v3electionpb::ProclaimResponse* resp) {
  if (!req->has_leader()) return finish(ctx, recipe_status(missing_leader_key));
  const auto& l = req->leader();
  // As etcd's: the session is on the key's lease; a lease of 0 gets a fresh one the key then moves to.
  auto lease = session_lease(*c_, l.lease());
  if (!lease) return finish(ctx, recipe_status(lease.error()));
  auto t = c_->store->txn()
               .when(compare::create_revision(l.key()) == l.rev())
               .then(op::put(l.key(), req->value(), {.lease = lease.value()}))
               .commit();
  if (!t) return finish(ctx, recipe_status(t.error()));
  if (!t.value().succeeded) return finish(ctx, recipe_status(not_leader));
  to_pb(t.value().header, resp->mutable_header());
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* election_service::Leader(grpc::CallbackServerContext* ctx,
                                                   const v3electionpb::LeaderRequest* req,
                                                   v3electionpb::LeaderResponse* resp) {
  auto r = c_->store->range(prefix(req->name() + "/"), first_created());
  if (!r) return finish(ctx, recipe_status(r.error()));
  if (r.value().kvs.empty()) return finish(ctx, recipe_status(no_leader));
  to_pb(r.value().header, resp->mutable_header());
  to_pb(r.value().kvs.front(), resp->mutable_kv());
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* election_service::Resign(grpc::CallbackServerContext* ctx,
                                                   const v3electionpb::ResignRequest* req,
                                                   v3electionpb::ResignResponse* resp) {
  if (!req->has_leader()) return finish(ctx, recipe_status(missing_leader_key));
  const auto& l = req->leader();
  // etcd opens a session on the key's lease here too (granting one for 0), though Resign never uses it.
  auto lease = session_lease(*c_, l.lease());
  if (!lease) return finish(ctx, recipe_status(lease.error()));
  // A key that no longer has the given create revision (a stale LeaderKey) is left alone, and that is
  // not an error.
  auto t = c_->store->txn().when(compare::create_revision(l.key()) == l.rev()).then(op::del(key_range(l.key()))).commit();
  if (!t) return finish(ctx, recipe_status(t.error()));
  to_pb(t.value().header, resp->mutable_header());
  return finish(ctx, grpc::Status::OK);
}

}  // namespace leasekv::server_detail
