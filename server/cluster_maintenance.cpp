// Cluster.MemberList, Maintenance.Status and Auth.Authenticate for a single member with authentication
// off. The other methods of these services answer Unimplemented (grpc's default) for now.
#include "convert.hpp"
#include "services.hpp"
#include "status.hpp"

namespace leasekv::server_detail {

grpc::ServerUnaryReactor* cluster_service::MemberList(grpc::CallbackServerContext* ctx,
                                                      const etcdserverpb::MemberListRequest*,
                                                      etcdserverpb::MemberListResponse* resp) {
  // etcd's cluster handlers fill the header without a revision.
  auto* h = resp->mutable_header();
  h->set_cluster_id(c_->identity.cluster_id);
  h->set_member_id(c_->identity.member_id);
  h->set_raft_term(c_->raft_term);
  auto* m = resp->add_members();
  m->set_id(c_->identity.member_id);
  m->set_name(c_->options.name);
  for (const auto& u : c_->options.peer_urls) m->add_peerurls(u);
  for (const auto& u : c_->options.client_urls) m->add_clienturls(u);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* maintenance_service::Status(grpc::CallbackServerContext* ctx,
                                                      const etcdserverpb::StatusRequest*,
                                                      etcdserverpb::StatusResponse* resp) {
  const auto stats = c_->store->statistics();
  const auto rev = c_->store->revision();
  to_pb(response_header{c_->identity.cluster_id, c_->identity.member_id, rev, c_->raft_term}, resp->mutable_header());
  // The etcd version whose API this server speaks (clients check it is at least 3.2).
  resp->set_version("3.4.23");
  resp->set_dbsize(static_cast<std::int64_t>(stats.bytes));
  resp->set_dbsizeinuse(static_cast<std::int64_t>(stats.bytes));
  resp->set_leader(c_->identity.member_id);
  // No raft log: the store's revision stands in for its index.
  resp->set_raftindex(static_cast<std::uint64_t>(rev));
  resp->set_raftappliedindex(static_cast<std::uint64_t>(rev));
  resp->set_raftterm(c_->raft_term);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* auth_service::Authenticate(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::AuthenticateRequest*,
                                                     etcdserverpb::AuthenticateResponse*) {
  return finish(ctx, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: authentication is not enabled"));
}

}  // namespace leasekv::server_detail
