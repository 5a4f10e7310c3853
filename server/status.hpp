// leasekv::server — the one table from leasekv errors to etcd's gRPC statuses (rpctypes/error.go's role).
#pragma once

#include "leasekv/error.hpp"

#include <grpcpp/support/status.h>

namespace leasekv::server_detail {

// etcd's status for `e`: its gRPC code and its exact message (clients match errors by that text). An
// error etcd has no status for goes out as Unknown with its own text, as etcd's togRPCError does.
grpc::Status to_status(const error& e);

// InvalidArgument with `message`: for requests that cannot even be translated (an enum value out of
// range, a txn op with nothing set is etcd's "key not found" and goes through to_status).
grpc::Status invalid_argument(const std::string& message);

}  // namespace leasekv::server_detail
