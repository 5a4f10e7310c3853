#include "leasekv/error.hpp"

#include <boost/system/system_error.hpp>

#include <ostream>
#include <string>

namespace leasekv {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "leasekv"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::key_not_provided: return "etcdserver: key is not provided";
      case errc::value_provided: return "etcdserver: value is provided";
      case errc::lease_provided: return "etcdserver: lease is provided";
      case errc::key_not_found: return "etcdserver: key not found";
      case errc::too_many_ops: return "etcdserver: too many operations in txn request";
      case errc::duplicate_key: return "etcdserver: duplicate key given in txn request";
      case errc::request_too_large: return "etcdserver: request is too large";
      case errc::compacted: return "mvcc: required revision has been compacted";
      case errc::future_revision: return "mvcc: required revision is a future revision";
      case errc::lease_not_found: return "etcdserver: requested lease not found";
      case errc::lease_exists: return "etcdserver: lease already exists";
      case errc::lease_ttl_too_large: return "etcdserver: too large lease TTL";
      case errc::no_space: return "etcdserver: mvcc: database space exceeded";
      case errc::watch_range_empty: return "mvcc: watcher range is empty";
      case errc::closed: return "leasekv: store is closed";
      case errc::invalid_argument: return "leasekv: invalid argument";
      case errc::watch_canceled: return "leasekv: watch is canceled";
      case errc::corrupt: return "leasekv: data directory is damaged";
      case errc::locked: return "leasekv: data directory is locked by another writer";
      case errc::read_only: return "leasekv: store is open read-only";
      case errc::io_error: return "leasekv: a write to disk failed earlier; the store accepts no more writes";
      case errc::stale: return "leasekv: the reader fell behind the writer's log; reopen it";
      case errc::election_not_leader: return "election: not leader";
      case errc::election_no_leader: return "election: no leader";
      case errc::mutex_locked: return "mutex: Locked by another session";
      case errc::session_expired: return "mutex: session is expired";
    }
    return "leasekv: unknown error " + std::to_string(value);
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

const std::string& error::detail() const noexcept {
  static const std::string none;
  return detail_ ? *detail_ : none;
}

std::string error::what() const {
  std::string s = message();
  if (detail_) s.append(": ").append(*detail_);
  return s;
}

std::ostream& operator<<(std::ostream& os, const error& e) { return os << e.what(); }

boost::system::error_code make_error_code(const error& e) noexcept { return e.code(); }

void outcome_throw_as_system_error_with_payload(const error& e) {
  if (e.detail().empty()) throw boost::system::system_error(e.code());
  throw boost::system::system_error(e.code(), e.detail());
}

}  // namespace leasekv
