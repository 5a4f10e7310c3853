// The server-side Lock and Election services in this process, through grpc++ stubs of our protos: what
// the Go clients of tests/server/concurrency.sh cannot reach — a lease-0 lock lapsing on the manual clock,
// a server shut down under waiting calls, and an Observe stream whose client does not read for a while.
#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include "rpc.grpc.pb.h"
#include "v3election.grpc.pb.h"
#include "v3lock.grpc.pb.h"

#include <catch2/catch.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

struct fixture {
  std::shared_ptr<leasekv::manual_clock> clock = std::make_shared<leasekv::manual_clock>();
  std::shared_ptr<leasekv::store> store;
  std::unique_ptr<leasekv::server> server;
  std::unique_ptr<v3lockpb::Lock::Stub> lock;
  std::unique_ptr<v3electionpb::Election::Stub> election;

  fixture() {
    store = leasekv::store::open({.clock = clock, .min_lease_ttl = std::chrono::seconds(2)}).value();
    server = leasekv::server::start(store, {.listen = {"127.0.0.1:0"}}).value();
    auto ch = grpc::CreateChannel(server->addresses().at(0), grpc::InsecureChannelCredentials());
    lock = v3lockpb::Lock::NewStub(ch);
    election = v3electionpb::Election::NewStub(ch);
  }

  std::int64_t grant(std::chrono::seconds ttl) { return store->grant(ttl).value().id; }

  std::int64_t keys(const std::string& prefix) { return store->range(leasekv::prefix(prefix)).value().count; }

  // Waits (generously: a loaded machine, the sanitizers) until `n` keys are under `prefix`.
  bool wait_keys(const std::string& prefix, std::int64_t n) {
    for (int i = 0; i < 6000; ++i) {
      if (keys(prefix) == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // A Lock call on another thread, answered with its status and key.
  std::future<std::pair<grpc::Status, std::string>> lock_async(const std::string& name, std::int64_t lease) {
    return std::async(std::launch::async, [this, name, lease] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 60s);
      v3lockpb::LockRequest req;
      req.set_name(name);
      req.set_lease(lease);
      v3lockpb::LockResponse resp;
      auto s = lock->Lock(&ctx, req, &resp);
      return std::pair(s, resp.key());
    });
  }
};

bool ready(std::future<std::pair<grpc::Status, std::string>>& f) { return f.wait_for(0s) == std::future_status::ready; }

}  // namespace

TEST_CASE("server: a Lock with lease 0 holds an unrenewed 60 s lease, so the next waiter gets in when it lapses",
          "[server]") {
  fixture f;
  auto first = f.lock_async("l", 0);
  const auto [s, key] = first.get();
  REQUIRE(s.ok());
  const auto lease = std::stoll(key.substr(2), nullptr, 16);
  CHECK(f.store->time_to_live(lease).value().granted_ttl == 60);

  auto second = f.lock_async("l", f.grant(3600s));
  REQUIRE(f.wait_keys("l/", 2));
  CHECK_FALSE(ready(second));
  f.clock->advance(59s);
  CHECK(f.keys("l/") == 2);  // nothing renews the lease, but it has not run out yet
  f.clock->advance(1s);
  const auto [s2, key2] = second.get();
  CHECK(s2.ok());
  CHECK(key2 != key);
  CHECK(f.keys("l/") == 1);
}

TEST_CASE("server: shutting down ends waiting Lock, Campaign and Observe calls and removes the waiters' keys",
          "[server]") {
  fixture f;
  const auto holder = f.grant(600s);
  REQUIRE(f.lock_async("l", holder).get().first.ok());
  auto waiter = f.lock_async("l", f.grant(600s));

  v3electionpb::CampaignRequest campaign;
  campaign.set_name("e");
  campaign.set_lease(holder);
  campaign.set_value("leader");
  {
    grpc::ClientContext ctx;
    v3electionpb::CampaignResponse resp;
    REQUIRE(f.election->Campaign(&ctx, campaign, &resp).ok());
  }
  campaign.set_lease(f.grant(600s));
  auto candidate = std::async(std::launch::async, [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    v3electionpb::CampaignResponse resp;
    return f.election->Campaign(&ctx, campaign, &resp);
  });
  grpc::ClientContext observe_ctx;
  observe_ctx.set_deadline(std::chrono::system_clock::now() + 60s);
  v3electionpb::LeaderRequest observe_req;
  observe_req.set_name("e");
  auto observe = f.election->Observe(&observe_ctx, observe_req);
  v3electionpb::LeaderResponse observed;
  REQUIRE(observe->Read(&observed));
  CHECK(observed.kv().value() == "leader");
  REQUIRE(f.wait_keys("l/", 2));
  REQUIRE(f.wait_keys("e/", 2));

  f.server->shutdown();
  CHECK_FALSE(waiter.get().first.ok());
  CHECK_FALSE(candidate.get().ok());
  CHECK_FALSE(observe->Read(&observed));
  CHECK_FALSE(observe->Finish().ok());
  // The holder and the leader keep their keys; those who gave up waiting leave none.
  CHECK(f.keys("l/") == 1);
  CHECK(f.keys("e/") == 1);
}

TEST_CASE("server: an Observe stream whose client stops reading loses no proclaim and keeps their order",
          "[server]") {
  fixture f;
  v3electionpb::CampaignRequest campaign;
  campaign.set_name("e");
  campaign.set_lease(f.grant(600s));
  v3electionpb::CampaignResponse leader;
  {
    grpc::ClientContext ctx;
    REQUIRE(f.election->Campaign(&ctx, campaign, &leader).ok());
  }
  grpc::ClientContext observe_ctx;
  observe_ctx.set_deadline(std::chrono::system_clock::now() + 60s);
  v3electionpb::LeaderRequest observe_req;
  observe_req.set_name("e");
  auto observe = f.election->Observe(&observe_ctx, observe_req);
  v3electionpb::LeaderResponse observed;
  REQUIRE(observe->Read(&observed));

  // More than the transport's windows hold, so the server's queue fills and the recipe pauses.
  constexpr int proclaims = 600;
  const std::string padding(8192, 'x');
  for (int i = 0; i < proclaims; ++i) {
    grpc::ClientContext ctx;
    v3electionpb::ProclaimRequest req;
    *req.mutable_leader() = leader.leader();
    req.set_value(std::to_string(i) + padding);
    v3electionpb::ProclaimResponse resp;
    REQUIRE(f.election->Proclaim(&ctx, req, &resp).ok());
  }
  std::int64_t last_revision = 0;
  for (int i = 0; i < proclaims; ++i) {
    REQUIRE(observe->Read(&observed));
    REQUIRE(observed.kv().value() == std::to_string(i) + padding);
    REQUIRE(observed.kv().mod_revision() > last_revision);
    last_revision = observed.kv().mod_revision();
  }
  observe_ctx.TryCancel();
}
