// leasekv::server — the etcd services, each a grpc callback service translating to store calls in the
// manner of etcd's v3rpc: check the request, call the store, fill the header.
#pragma once

#include "leasekv/server.hpp"

#include "health.grpc.pb.h"
#include "rpc.grpc.pb.h"
#include "v3election.grpc.pb.h"
#include "v3lock.grpc.pb.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace leasekv::server_detail {

class alarm_table;
class watch_groups;

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

  // This member's alarms (alarms.hpp): `store` reaches the store it was started with through them.
  std::shared_ptr<alarm_table> alarms;
  // What the streams hold now (server::statistics), kept by the watch and keep-alive reactors.
  struct stream_counters {
    std::atomic<std::size_t> watch_streams{0};
    std::atomic<std::size_t> watchers{0};
    std::atomic<std::size_t> store_watches{0};  // the store watches feeding them (watch_group.hpp)
    std::atomic<std::size_t> paused_watchers{0};
    std::atomic<std::size_t> keep_alive_streams{0};
    std::atomic<std::uint64_t> queued_watch_bytes{0};
    std::atomic<std::uint64_t> max_queued_watch_bytes{0};
    std::atomic<std::uint64_t> watch_pauses{0};
  };
  stream_counters counters;

  // Where writes run (server_options::write_threads); empty: on gRPC's thread, at once.
  boost::asio::any_io_executor write_executor;
  // Writes running now, inline or on write_executor (run_write).
  mutable std::atomic<int> writes_in_flight{0};
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
  explicit cluster_service(std::shared_ptr<context> c) : c_(std::move(c)), peer_urls_(c_->options.peer_urls) {}
  grpc::ServerUnaryReactor* MemberList(grpc::CallbackServerContext*, const etcdserverpb::MemberListRequest*,
                                       etcdserverpb::MemberListResponse*) override;
  grpc::ServerUnaryReactor* MemberAdd(grpc::CallbackServerContext*, const etcdserverpb::MemberAddRequest*,
                                      etcdserverpb::MemberAddResponse*) override;
  grpc::ServerUnaryReactor* MemberRemove(grpc::CallbackServerContext*, const etcdserverpb::MemberRemoveRequest*,
                                         etcdserverpb::MemberRemoveResponse*) override;
  grpc::ServerUnaryReactor* MemberUpdate(grpc::CallbackServerContext*, const etcdserverpb::MemberUpdateRequest*,
                                         etcdserverpb::MemberUpdateResponse*) override;
  grpc::ServerUnaryReactor* MemberPromote(grpc::CallbackServerContext*, const etcdserverpb::MemberPromoteRequest*,
                                          etcdserverpb::MemberPromoteResponse*) override;

 private:
  // The header (no revision, as etcd's cluster handlers) and this member, as its peer URLs are now.
  template <class Response>
  void fill(Response* resp);

  std::shared_ptr<context> c_;
  std::mutex mu_;
  std::vector<std::string> peer_urls_;  // guarded by mu_: MemberUpdate changes them
};

class maintenance_service final : public etcdserverpb::Maintenance::CallbackService {
 public:
  explicit maintenance_service(std::shared_ptr<context> c) : c_(std::move(c)) {}
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext*, const etcdserverpb::StatusRequest*,
                                   etcdserverpb::StatusResponse*) override;
  grpc::ServerUnaryReactor* Alarm(grpc::CallbackServerContext*, const etcdserverpb::AlarmRequest*,
                                  etcdserverpb::AlarmResponse*) override;
  grpc::ServerUnaryReactor* Defragment(grpc::CallbackServerContext*, const etcdserverpb::DefragmentRequest*,
                                       etcdserverpb::DefragmentResponse*) override;
  grpc::ServerUnaryReactor* Hash(grpc::CallbackServerContext*, const etcdserverpb::HashRequest*,
                                 etcdserverpb::HashResponse*) override;
  grpc::ServerUnaryReactor* HashKV(grpc::CallbackServerContext*, const etcdserverpb::HashKVRequest*,
                                   etcdserverpb::HashKVResponse*) override;
  grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* Snapshot(grpc::CallbackServerContext*,
                                                                    const etcdserverpb::SnapshotRequest*) override;
  grpc::ServerUnaryReactor* MoveLeader(grpc::CallbackServerContext*, const etcdserverpb::MoveLeaderRequest*,
                                       etcdserverpb::MoveLeaderResponse*) override;

 private:
  std::shared_ptr<context> c_;
};

// Auth as etcd 3.4 answers it with authentication disabled: users and roles can be added, granted,
// listed and deleted (kept in memory, without passwords: nothing checks them), Authenticate says
// authentication is not enabled, and AuthEnable is refused (auth_service.cpp says how).
class auth_service final : public etcdserverpb::Auth::CallbackService {
 public:
  explicit auth_service(std::shared_ptr<context> c);
  ~auth_service() override;
  // clientv3 with a user name calls Authenticate first and goes on without a token on this answer.
  grpc::ServerUnaryReactor* Authenticate(grpc::CallbackServerContext*, const etcdserverpb::AuthenticateRequest*,
                                         etcdserverpb::AuthenticateResponse*) override;
  grpc::ServerUnaryReactor* AuthEnable(grpc::CallbackServerContext*, const etcdserverpb::AuthEnableRequest*,
                                       etcdserverpb::AuthEnableResponse*) override;
  grpc::ServerUnaryReactor* AuthDisable(grpc::CallbackServerContext*, const etcdserverpb::AuthDisableRequest*,
                                        etcdserverpb::AuthDisableResponse*) override;
  grpc::ServerUnaryReactor* UserAdd(grpc::CallbackServerContext*, const etcdserverpb::AuthUserAddRequest*,
                                    etcdserverpb::AuthUserAddResponse*) override;
  grpc::ServerUnaryReactor* UserGet(grpc::CallbackServerContext*, const etcdserverpb::AuthUserGetRequest*,
                                    etcdserverpb::AuthUserGetResponse*) override;
  grpc::ServerUnaryReactor* UserList(grpc::CallbackServerContext*, const etcdserverpb::AuthUserListRequest*,
                                     etcdserverpb::AuthUserListResponse*) override;
  grpc::ServerUnaryReactor* UserDelete(grpc::CallbackServerContext*, const etcdserverpb::AuthUserDeleteRequest*,
                                       etcdserverpb::AuthUserDeleteResponse*) override;
  grpc::ServerUnaryReactor* UserChangePassword(grpc::CallbackServerContext*,
                                               const etcdserverpb::AuthUserChangePasswordRequest*,
                                               etcdserverpb::AuthUserChangePasswordResponse*) override;
  grpc::ServerUnaryReactor* UserGrantRole(grpc::CallbackServerContext*, const etcdserverpb::AuthUserGrantRoleRequest*,
                                          etcdserverpb::AuthUserGrantRoleResponse*) override;
  grpc::ServerUnaryReactor* UserRevokeRole(grpc::CallbackServerContext*, const etcdserverpb::AuthUserRevokeRoleRequest*,
                                           etcdserverpb::AuthUserRevokeRoleResponse*) override;
  grpc::ServerUnaryReactor* RoleAdd(grpc::CallbackServerContext*, const etcdserverpb::AuthRoleAddRequest*,
                                    etcdserverpb::AuthRoleAddResponse*) override;
  grpc::ServerUnaryReactor* RoleGet(grpc::CallbackServerContext*, const etcdserverpb::AuthRoleGetRequest*,
                                    etcdserverpb::AuthRoleGetResponse*) override;
  grpc::ServerUnaryReactor* RoleList(grpc::CallbackServerContext*, const etcdserverpb::AuthRoleListRequest*,
                                     etcdserverpb::AuthRoleListResponse*) override;
  grpc::ServerUnaryReactor* RoleDelete(grpc::CallbackServerContext*, const etcdserverpb::AuthRoleDeleteRequest*,
                                       etcdserverpb::AuthRoleDeleteResponse*) override;
  grpc::ServerUnaryReactor* RoleGrantPermission(grpc::CallbackServerContext*,
                                                const etcdserverpb::AuthRoleGrantPermissionRequest*,
                                                etcdserverpb::AuthRoleGrantPermissionResponse*) override;
  grpc::ServerUnaryReactor* RoleRevokePermission(grpc::CallbackServerContext*,
                                                 const etcdserverpb::AuthRoleRevokePermissionRequest*,
                                                 etcdserverpb::AuthRoleRevokePermissionResponse*) override;

 private:
  struct registry;  // the users and roles, behind their mutex
  template <class Response>
  grpc::ServerUnaryReactor* ok(grpc::CallbackServerContext* ctx, Response* resp);

  std::shared_ptr<context> c_;
  std::unique_ptr<registry> r_;
};

// grpc.health.v1.Health: SERVING for "" and for each of `services` (full names such as
// "etcdserverpb.KV"); Check of another name is NotFound "unknown service" and Watch of it answers
// SERVICE_UNKNOWN, as grpc-go's health server (etcd's) does. The status never changes while serving.
class health_service final : public grpc::health::v1::Health::CallbackService {
 public:
  explicit health_service(std::vector<std::string> services) : services_(std::move(services)) {}
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext*, const grpc::health::v1::HealthCheckRequest*,
                                  grpc::health::v1::HealthCheckResponse*) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext*, const grpc::health::v1::HealthCheckRequest*) override;

 private:
  bool serves(const std::string& name) const;
  const std::vector<std::string> services_;
};

// Watch in its raw form: responses go out as bytes encoded once per event (watch_wire.hpp).
class watch_service final : public etcdserverpb::Watch::WithRawCallbackMethod_Watch<etcdserverpb::Watch::Service> {
 public:
  explicit watch_service(std::shared_ptr<context> c);
  ~watch_service() override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Watch(grpc::CallbackServerContext*) override;

 private:
  std::shared_ptr<context> c_;
  std::shared_ptr<watch_groups> groups_;  // watchers sharing store watches (watch_group.hpp)
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
// Runs `write` (a store write, which may wait for a sync), then finishes the call with the status it
// returns; the call's request and response live until then. Without c.write_executor it runs at once on
// gRPC's thread. With one, it still runs at once when no other write is in flight: a lone client's write
// then costs no hop to a write thread and back (which took 1-client durable puts to 0.4-0.6x), and it
// holds at most one of gRPC's threads. While another write is in flight it goes to c.write_executor, so
// that writers waiting for a sync share it without holding gRPC's few threads.
template <class Write>
grpc::ServerUnaryReactor* run_write(const context& c, grpc::CallbackServerContext* ctx, Write write) {
  if (!c.write_executor) return finish(ctx, write());
  if (c.writes_in_flight.fetch_add(1, std::memory_order_acq_rel) == 0) {
    const grpc::Status s = write();
    c.writes_in_flight.fetch_sub(1, std::memory_order_acq_rel);
    return finish(ctx, s);
  }
  auto* r = ctx->DefaultReactor();  // may be finished from any thread
  boost::asio::post(c.write_executor, [in_flight = &c.writes_in_flight, r, write = std::move(write)]() mutable {
    const grpc::Status s = write();
    in_flight->fetch_sub(1, std::memory_order_acq_rel);
    r->Finish(s);
  });
  return r;
}

}  // namespace leasekv::server_detail
