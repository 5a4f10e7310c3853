// leasekv::server — the etcd services, each a grpc callback service translating to store calls in the
// manner of etcd's v3rpc: check the request, call the store, fill the header.
#pragma once

#include "leasekv/server.hpp"

#include "rpc.grpc.pb.h"

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

  // What the streams hold now (server::statistics), kept by the watch and keep-alive reactors.
  struct stream_counters {
    std::atomic<std::size_t> watch_streams{0};
    std::atomic<std::size_t> watchers{0};
    std::atomic<std::size_t> paused_watchers{0};
    std::atomic<std::size_t> keep_alive_streams{0};
    std::atomic<std::uint64_t> queued_watch_bytes{0};
    std::atomic<std::uint64_t> max_queued_watch_bytes{0};
    std::atomic<std::uint64_t> watch_pauses{0};
  };
  stream_counters counters;
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

// Finishes a unary call at once with `s` (the reactor gRPC hands out for callback unary methods).
grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* ctx, const grpc::Status& s);

}  // namespace leasekv::server_detail
