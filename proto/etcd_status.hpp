// The one table between leasekv errors and etcd's gRPC statuses (rpctypes/error.go's role), shared by the
// server (error -> status) and the remote backend (status -> error). Header only: leasekv_proto carries
// no leasekv code of its own.
#pragma once

#include "leasekv/error.hpp"

#include <grpcpp/support/status_code_enum.h>

namespace leasekv::wire {

struct status_mapping {
  errc code;
  grpc::StatusCode status;
  const char* message;  // etcd's text on the wire; the store's texts lack the "etcdserver: " of some
};

inline constexpr status_mapping etcd_statuses[] = {
    {errc::key_not_provided, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: key is not provided"},
    {errc::value_provided, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: value is provided"},
    {errc::lease_provided, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: lease is provided"},
    {errc::key_not_found, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: key not found"},
    {errc::too_many_ops, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: too many operations in txn request"},
    {errc::duplicate_key, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"},
    {errc::request_too_large, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: request is too large"},
    {errc::compacted, grpc::StatusCode::OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"},
    {errc::future_revision, grpc::StatusCode::OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"},
    {errc::lease_not_found, grpc::StatusCode::NOT_FOUND, "etcdserver: requested lease not found"},
    {errc::lease_exists, grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: lease already exists"},
    {errc::lease_ttl_too_large, grpc::StatusCode::OUT_OF_RANGE, "etcdserver: too large lease TTL"},
    {errc::no_space, grpc::StatusCode::RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"},
    // A closed store is a stopping server to a client (clientv3 retries Unavailable elsewhere). A client
    // reads this status as "unavailable", never as its own store closed.
    {errc::closed, grpc::StatusCode::UNAVAILABLE, "etcdserver: server stopped"},
};

}  // namespace leasekv::wire
