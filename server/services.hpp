// leasekv::server — the etcd services, each a grpc callback service translating to store calls in the
// manner of etcd's v3rpc: check the request, call the store, fill the header.
#pragma once

#include "leasekv/server.hpp"

#include "rpc.grpc.pb.h"
#include "v3election.grpc.pb.h"
#include "v3lock.grpc.pb.h"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <cstdint>
#include <memory>

namespace leasekv::server_detail {

// What every service shares. Constant after construction but for the lease id sequence.
struct context {
  std::shared_ptr<leasekv::store> store;
  member_identity identity;
  std::uint64_t raft_term = 0;
  server_options options;
  // Where store watch handlers run before their responses are queued on a stream.
  boost::asio::any_io_executor watch_executor;

  // etcd's id generator (pkg/idutil): the member id's low 16 bits, then 40 bits of the start time in
  // milliseconds and 8 bits of counter, as one 48-bit sequence advanced per id. etcd's raft request ids
  // come from the same generator, so its consecutive grants differ by 2; ours advance by 2 likewise.
  std::atomic<std::uint64_t> lease_sequence{0};
  lease_id next_lease_id();
};

class kv_service final : public etcdserverpb::KV::CallbackService {
 public:
  explicit kv_service(std::shared_ptr<context> c) : c_(std::move(c)) {}
  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext*, const etcdserverpb::RangeRequest*,
                                  etcdserverpb::RangeResponse*) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext*, const etcdserverpb::PutRequest*,
                                etcdserverpb::PutResponse*) override;
  grpc::ServerUnaryReactor* DeleteRange(grpc::CallbackServerContext*, const etcdserverpb::DeleteRangeRequest*,
                                        etcdserverpb::DeleteRangeResponse*) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext*, const etcdserverpb::TxnRequest*,
                                etcdserverpb::TxnResponse*) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext*, const etcdserverpb::CompactionRequest*,
                                    etcdserverpb::CompactionResponse*) override;

 private:
  std::shared_ptr<context> c_;
};

class lease_service final : public etcdserverpb::Lease::CallbackService {
 public:
  explicit lease_service(std::shared_ptr<context> c) : c_(std::move(c)) {}
  grpc::ServerUnaryReactor* LeaseGrant(grpc::CallbackServerContext*, const etcdserverpb::LeaseGrantRequest*,
                                       etcdserverpb::LeaseGrantResponse*) override;
  grpc::ServerUnaryReactor* LeaseRevoke(grpc::CallbackServerContext*, const etcdserverpb::LeaseRevokeRequest*,
                                        etcdserverpb::LeaseRevokeResponse*) override;
  grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>*
  LeaseKeepAlive(grpc::CallbackServerContext*) override;
  grpc::ServerUnaryReactor* LeaseTimeToLive(grpc::CallbackServerContext*, const etcdserverpb::LeaseTimeToLiveRequest*,
                                            etcdserverpb::LeaseTimeToLiveResponse*) override;
  grpc::ServerUnaryReactor* LeaseLeases(grpc::CallbackServerContext*, const etcdserverpb::LeaseLeasesRequest*,
                                        etcdserverpb::LeaseLeasesResponse*) override;

 private:
  std::shared_ptr<context> c_;
};

class cluster_service final : public etcdserverpb::Cluster::CallbackService {
 public:
  explicit cluster_service(std::shared_ptr<context> c) : c_(std::move(c)) {}
  grpc::ServerUnaryReactor* MemberList(grpc::CallbackServerContext*, const etcdserverpb::MemberListRequest*,
                                       etcdserverpb::MemberListResponse*) override;

 private:
  std::shared_ptr<context> c_;
};

class maintenance_service final : public etcdserverpb::Maintenance::CallbackService {
 public:
  explicit maintenance_service(std::shared_ptr<context> c) : c_(std::move(c)) {}
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext*, const etcdserverpb::StatusRequest*,
                                   etcdserverpb::StatusResponse*) override;

 private:
  std::shared_ptr<context> c_;
};

class auth_service final : public etcdserverpb::Auth::CallbackService {
 public:
  // clientv3 with a user name calls Authenticate first and goes on without a token on this answer.
  grpc::ServerUnaryReactor* Authenticate(grpc::CallbackServerContext*, const etcdserverpb::AuthenticateRequest*,
                                         etcdserverpb::AuthenticateResponse*) override;
};

class watch_service final : public etcdserverpb::Watch::CallbackService {
 public:
  explicit watch_service(std::shared_ptr<context> c) : c_(std::move(c)) {}
  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext*) override;

 private:
  std::shared_ptr<context> c_;
};

// Lock and Election: clientv3/concurrency's recipes run over the store (recipes.hpp). Lock and Campaign
// answer once the caller holds the lock or leads, without holding a thread meanwhile.
class lock_service final : public v3lockpb::Lock::CallbackService {
 public:
  explicit lock_service(std::shared_ptr<context> c) : c_(std::move(c)) {}
  grpc::ServerUnaryReactor* Lock(grpc::CallbackServerContext*, const v3lockpb::LockRequest*,
                                 v3lockpb::LockResponse*) override;
  grpc::ServerUnaryReactor* Unlock(grpc::CallbackServerContext*, const v3lockpb::UnlockRequest*,
                                   v3lockpb::UnlockResponse*) override;

 private:
  std::shared_ptr<context> c_;
};

class election_service final : public v3electionpb::Election::CallbackService {
 public:
  explicit election_service(std::shared_ptr<context> c) : c_(std::move(c)) {}
  grpc::ServerUnaryReactor* Campaign(grpc::CallbackServerContext*, const v3electionpb::CampaignRequest*,
                                     v3electionpb::CampaignResponse*) override;
  grpc::ServerUnaryReactor* Proclaim(grpc::CallbackServerContext*, const v3electionpb::ProclaimRequest*,
                                     v3electionpb::ProclaimResponse*) override;
  grpc::ServerUnaryReactor* Leader(grpc::CallbackServerContext*, const v3electionpb::LeaderRequest*,
                                   v3electionpb::LeaderResponse*) override;
  grpc::ServerWriteReactor<v3electionpb::LeaderResponse>* Observe(grpc::CallbackServerContext*,
                                                                  const v3electionpb::LeaderRequest*) override;
  grpc::ServerUnaryReactor* Resign(grpc::CallbackServerContext*, const v3electionpb::ResignRequest*,
                                   v3electionpb::ResignResponse*) override;

 private:
  std::shared_ptr<context> c_;
};

// Finishes a unary call at once with `s` (the reactor gRPC hands out for callback unary methods).
grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* ctx, const grpc::Status& s);

}  // namespace leasekv::server_detail
