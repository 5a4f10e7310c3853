#include "status.hpp"

#include "alarms.hpp"
#include "etcd_status.hpp"

#include <utility>

namespace leasekv::server_detail {

grpc::Status to_status(const error& e) {
  if (e.code().category() == error_category()) {
    for (const auto& m : wire::etcd_statuses) {
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
