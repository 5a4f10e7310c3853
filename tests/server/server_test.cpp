// leasekv::server in this process, through grpc++ stubs of our protos: identity, headers, error texts,
// and leases expiring on a manual clock the test advances.
#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include "rpc.grpc.pb.h"

#include <catch2/catch.hpp>
#include <fmt/core.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <string>

namespace {

struct fixture {
  std::shared_ptr<leasekv::manual_clock> clock = std::make_shared<leasekv::manual_clock>();
  std::shared_ptr<leasekv::store> store;
  std::unique_ptr<leasekv::server> server;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;

  fixture() {
    const auto id = leasekv::derive_identity({"http://localhost:2380"}, "etcd-cluster");
    store = leasekv::store::open({.cluster_id = id.cluster_id, .member_id = id.member_id, .clock = clock,
                                  .min_lease_ttl = std::chrono::seconds(2)})
                .value();
    server = leasekv::server::start(store, {.listen = {"127.0.0.1:0"}}).value();
    auto ch = grpc::CreateChannel(server->addresses().at(0), grpc::InsecureChannelCredentials());
    kv = etcdserverpb::KV::NewStub(ch);
    lease = etcdserverpb::Lease::NewStub(ch);
  }
};

}  // namespace

TEST_CASE("server: the default identity is etcd's (member 8e9e05c52164694d, cluster 14841639068965178418)", "[server]") {
  auto id = leasekv::derive_identity({"http://localhost:2380"}, "etcd-cluster");
  CHECK(id.member_id == 0x8e9e05c52164694dull);
  CHECK(id.cluster_id == 14841639068965178418ull);
  id = leasekv::derive_identity({"http://127.0.0.1:23801"}, "etcd-cluster");
  CHECK(id.member_id == 13668033151171901709ull);
  CHECK(id.cluster_id == 15118495548433857066ull);
}

TEST_CASE("server: /metrics counts every method of every registered service, with the .proto's call type", "[server]") {
  // The server knows its methods from a table (server/metrics.cpp); the descriptors are the truth.
  fixture f;
  const std::string text = f.server->metrics();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  std::size_t methods = 0;
  for (const char* name : {"etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease", "etcdserverpb.Cluster",
                           "etcdserverpb.Maintenance", "etcdserverpb.Auth", "v3lockpb.Lock", "v3electionpb.Election",
                           "grpc.health.v1.Health"}) {
    const auto* service = pool->FindServiceByName(name);
    REQUIRE(service != nullptr);
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* m = service->method(i);
      const char* type = m->client_streaming() ? (m->server_streaming() ? "bidi_stream" : "client_stream")
                                               : (m->server_streaming() ? "server_stream" : "unary");
      const auto line = fmt::format("grpc_server_started_total{{grpc_method=\"{}\",grpc_service=\"{}\",grpc_type=\"{}\"}} 0\n",
                                    m->name(), name, type);
      INFO(line);
      CHECK(text.find(line) != std::string::npos);
      ++methods;
    }
  }
  std::size_t listed = 0;
  for (auto at = text.find("\ngrpc_server_started_total{"); at != std::string::npos;
       at = text.find("\ngrpc_server_started_total{", at + 1)) {
    ++listed;
  }
  CHECK(listed == methods);
}

TEST_CASE("server: errors go out with etcd's codes and exact texts", "[server]") {
  fixture f;
  grpc::ClientContext c1;
  etcdserverpb::PutRequest put;
  etcdserverpb::PutResponse put_resp;
  auto s = f.kv->Put(&c1, put, &put_resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "etcdserver: key is not provided");

  grpc::ClientContext c2;
  etcdserverpb::RangeRequest range;
  range.set_key("k");
  range.set_revision(100);
  etcdserverpb::RangeResponse range_resp;
  s = f.kv->Range(&c2, range, &range_resp);
  CHECK(s.error_code() == grpc::StatusCode::OUT_OF_RANGE);
  CHECK(s.error_message() == "etcdserver: mvcc: required revision is a future revision");

  grpc::ClientContext c3;
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(1234);
  etcdserverpb::LeaseRevokeResponse revoke_resp;
  s = f.lease->LeaseRevoke(&c3, revoke, &revoke_resp);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message() == "etcdserver: requested lease not found");

  grpc::ClientContext c4;
  etcdserverpb::TxnRequest txn;
  txn.add_success();  // an op with nothing set
  etcdserverpb::TxnResponse txn_resp;
  s = f.kv->Txn(&c4, txn, &txn_resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "etcdserver: key not found");
}

TEST_CASE("server: a granted lease has etcd's id prefix and floor, and expires when the clock is advanced", "[server]") {
  fixture f;
  grpc::ClientContext c1;
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(1);
  etcdserverpb::LeaseGrantResponse granted;
  REQUIRE(f.lease->LeaseGrant(&c1, grant, &granted).ok());
  CHECK(granted.ttl() == 2);
  CHECK((static_cast<std::uint64_t>(granted.id()) >> 48) == 0x694d);
  CHECK(granted.header().cluster_id() == 14841639068965178418ull);

  grpc::ClientContext c2;
  etcdserverpb::PutRequest put;
  put.set_key("/tmp/pid");
  put.set_value("2187");
  put.set_lease(granted.id());
  etcdserverpb::PutResponse put_resp;
  REQUIRE(f.kv->Put(&c2, put, &put_resp).ok());
  CHECK(put_resp.header().revision() == 2);

  f.clock->advance(std::chrono::seconds(2));
  grpc::ClientContext c3;
  etcdserverpb::RangeRequest range;
  range.set_key("/tmp/pid");
  etcdserverpb::RangeResponse got;
  REQUIRE(f.kv->Range(&c3, range, &got).ok());
  CHECK(got.kvs_size() == 0);
  CHECK(got.header().revision() == 3);

  grpc::ClientContext c4;
  etcdserverpb::LeaseTimeToLiveRequest ttl;
  ttl.set_id(granted.id());
  etcdserverpb::LeaseTimeToLiveResponse ttl_resp;
  REQUIRE(f.lease->LeaseTimeToLive(&c4, ttl, &ttl_resp).ok());
  CHECK(ttl_resp.ttl() == -1);
}

TEST_CASE("server: a nested txn answers with nested responses whose headers carry only the revision", "[server]") {
  fixture f;
  grpc::ClientContext c;
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key("a");
  cmp->set_target(etcdserverpb::Compare::CREATE);
  cmp->set_create_revision(0);
  auto* p = txn.add_success()->mutable_request_put();
  p->set_key("a");
  p->set_value("1");
  auto* inner = txn.add_success()->mutable_request_txn();
  inner->add_success()->mutable_request_range()->set_key("a");
  etcdserverpb::TxnResponse resp;
  REQUIRE(f.kv->Txn(&c, txn, &resp).ok());
  CHECK(resp.succeeded());
  CHECK(resp.header().revision() == 2);
  REQUIRE(resp.responses_size() == 2);
  CHECK(resp.responses(0).response_put().header().revision() == 2);
  CHECK(resp.responses(0).response_put().header().cluster_id() == 0);
  const auto& nested = resp.responses(1).response_txn();
  REQUIRE(nested.responses_size() == 1);
  CHECK(nested.responses(0).response_range().kvs(0).value() == "1");
}
