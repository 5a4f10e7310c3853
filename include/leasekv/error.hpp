// leasekv — errors.
//
// Every fallible call returns leasekv::result<T>: either a value or a leasekv::error, which is a
// boost::system::error_code (leasekv's category, or a system error) plus an optional detail. The
// category's messages are etcd's exact texts, so an application (or the CLI) that prints
// `error().message()` prints what etcd would. `result.value()` throws boost::system::system_error for
// callers who prefer exceptions. Completion handlers take a plain error_code.
//
// Thread safety: everything here is immutable and safe to use from any thread.
#pragma once

#include <boost/outcome.hpp>
#include <boost/system/error_code.hpp>

#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>

namespace leasekv {

// The errors leasekv reports. Values are stable (they may be persisted or printed as numbers).
enum class errc {
  key_not_provided = 1,    // "etcdserver: key is not provided"
  value_provided = 2,      // "etcdserver: value is provided" (ignore_value with a value)
  lease_provided = 3,      // "etcdserver: lease is provided" (ignore_lease with a lease)
  key_not_found = 4,       // "etcdserver: key not found" (ignore_* on a missing key)
  too_many_ops = 5,        // "etcdserver: too many operations in txn request"
  duplicate_key = 6,       // "etcdserver: duplicate key given in txn request"
  request_too_large = 7,   // "etcdserver: request is too large"
  compacted = 8,           // "mvcc: required revision has been compacted"
  future_revision = 9,     // "mvcc: required revision is a future revision"
  lease_not_found = 10,    // "etcdserver: requested lease not found"
  lease_exists = 11,       // "etcdserver: lease already exists"
  lease_ttl_too_large = 12,  // "etcdserver: too large lease TTL"
  no_space = 13,           // "etcdserver: mvcc: database space exceeded"
  watch_range_empty = 14,  // "mvcc: watcher range is empty"
  closed = 15,             // "leasekv: store is closed"
  invalid_argument = 16,   // "leasekv: invalid argument"
  watch_canceled = 17,     // "leasekv: watch is canceled"
  corrupt = 18,            // "leasekv: data directory is damaged" (the detail says where)
  locked = 19,             // "leasekv: data directory is locked by another writer"
  read_only = 20,          // "leasekv: store is open read-only"
  io_error = 21,           // "leasekv: a write to disk failed earlier; the store accepts no more writes"
  stale = 22,              // "leasekv: the reader fell behind the writer's log; reopen it"
  election_not_leader = 23,  // "election: not leader" (clientv3's ErrElectionNotLeader)
  election_no_leader = 24,   // "election: no leader" (clientv3's ErrElectionNoLeader)
  mutex_locked = 25,         // "mutex: Locked by another session" (clientv3 3.5's ErrLocked, try_lock)
  session_expired = 26,      // "mutex: session is expired" (clientv3 3.5's ErrSessionExpired: the key is gone)
};

// The category of errc. Its name is "leasekv".
const boost::system::error_category& error_category() noexcept;

boost::system::error_code make_error_code(errc e) noexcept;

// A failure: its code (an errc, or a system error such as ENOSPC) and, where the code alone cannot say
// it, a detail: the file and offset of damage (corrupt), the process holding a lock (locked), the option
// out of range (invalid_argument), a server's own message. Copies share the detail; cheap to copy.
//
//   auto r = store->put("", "v");
//   if (!r && r.error() == leasekv::errc::key_not_provided) ...   // compares the code
//   std::cerr << r.error().what() << "\n";                      // message, then ": detail" if any
class error {
 public:
  error() = default;
  error(errc e) : code_(make_error_code(e)) {}  // NOLINT(google-explicit-constructor): `return errc::x;`
  error(boost::system::error_code ec) : code_(ec) {}  // NOLINT(google-explicit-constructor)
  error(errc e, std::string detail) : error(make_error_code(e), std::move(detail)) {}
  error(boost::system::error_code ec, std::string detail)
      : code_(ec), detail_(detail.empty() ? nullptr : std::make_shared<const std::string>(std::move(detail))) {}

  const boost::system::error_code& code() const noexcept { return code_; }
  // The code's message: for an errc, etcd's exact text.
  std::string message() const { return code_.message(); }
  // What the code alone cannot say; empty if nothing.
  const std::string& detail() const noexcept;
  // message(), then ": " and the detail if there is one.
  std::string what() const;

  // Where an error_code is wanted (a completion handler's signature): the detail stays behind.
  operator const boost::system::error_code&() const noexcept { return code_; }  // NOLINT

  // Compares the code with an errc, an error_code, or a condition such as
  // boost::system::errc::no_space_on_device, as error_code compares.
  friend bool operator==(const error& a, errc b) noexcept { return a.code_ == make_error_code(b); }
  friend bool operator==(const error& a, const boost::system::error_code& b) noexcept { return a.code_ == b; }
  friend bool operator==(const error& a, const boost::system::error_condition& b) noexcept { return a.code_ == b; }
  friend bool operator==(const error& a, boost::system::errc::errc_t b) noexcept {
    return a.code_ == boost::system::errc::make_error_condition(b);
  }
  // Two errors are equal when their codes are (the details may differ).
  friend bool operator==(const error& a, const error& b) noexcept { return a.code_ == b.code_; }

 private:
  boost::system::error_code code_;
  std::shared_ptr<const std::string> detail_;
};

// Prints what().
std::ostream& operator<<(std::ostream& os, const error& e);

// Outcome's hooks (found by argument-dependent lookup): result<T>::value() on a failure throws
// boost::system::system_error with the code, and the detail as its what() prefix.
boost::system::error_code make_error_code(const error& e) noexcept;
[[noreturn]] void outcome_throw_as_system_error_with_payload(const error& e);

// The result of a fallible call. REQUIRES for value(): has_value(), else it throws system_error.
template <class T>
using result = BOOST_OUTCOME_V2_NAMESPACE::result<T, error>;

}  // namespace leasekv

namespace boost::system {
template <>
struct is_error_code_enum<leasekv::errc> : std::true_type {};
}  // namespace boost::system
