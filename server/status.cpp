#include "status.hpp"

#include "alarms.hpp"

#include <utility>

namespace leasekv::server_detail {
namespace {

struct mapping {
  errc code;
  grpc::StatusCode status;
  const char* message;  // etcd's text on the wire; the store's texts lack the "etcdserver: " of some
};

constexpr mapping table[] = {
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
    // A closed store is a stopping server to a client (clientv3 retries Unavailable elsewhere).
    {errc::closed, grpc::StatusCode::UNAVAILABLE, "etcdserver: server stopped"},
};

}  // namespace

grpc::Status to_status(const error& e) {
  if (e.code().category() == error_category()) {
    for (const auto& m : table) {
      if (e == m.code) return grpc::Status(m.status, m.message);
    }
    // A request etcd defines no answer for (an enum value it does not know, as in a Range's sort order):
    // InvalidArgument, saying what was wrong, rather than Unknown.
    if (e == errc::invalid_argument) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
  }
  // A write refused under a CORRUPT alarm (alarms.hpp).
  if (e == corrupt_error()) return grpc::Status(grpc::StatusCode::DATA_LOSS, "etcdserver: corrupt cluster");
  return grpc::Status(grpc::StatusCode::UNKNOWN, e.what());
}

grpc::Status invalid_argument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace leasekv::server_detail
