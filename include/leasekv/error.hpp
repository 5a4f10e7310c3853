// leasekv — errors.
//
// Every fallible call returns leasekv::result<T>: either a value or a boost::system::error_code in
// leasekv's error category. The category's messages are etcd's exact texts, so an application (or the
// CLI) that prints `ec.message()` prints what etcd would. `result.value()` throws
// boost::system::system_error for callers who prefer exceptions.
//
// Thread safety: everything here is immutable and safe to use from any thread.
#pragma once

#include <boost/outcome.hpp>
#include <boost/system/error_code.hpp>

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
  corrupt = 18,            // "leasekv: data directory is damaged" (last_error_detail() says where)
  locked = 19,             // "leasekv: data directory is locked by another writer"
  read_only = 20,          // "leasekv: store is open read-only"
  io_error = 21,           // "leasekv: a write to disk failed earlier; the store accepts no more writes"
  stale = 22,              // "leasekv: the reader fell behind the writer's log; reopen it"
};

// Details of the last failure in this thread that an error code cannot carry: the file and offset of
// damage (corrupt), the process holding a lock (locked). Empty if there were none.
const std::string& last_error_detail() noexcept;
void set_last_error_detail(std::string detail);

// The category of errc. Its name is "leasekv".
const boost::system::error_category& error_category() noexcept;

boost::system::error_code make_error_code(errc e) noexcept;

// The result of a fallible call. REQUIRES for value(): has_value(), else it throws system_error.
template <class T>
using result = BOOST_OUTCOME_V2_NAMESPACE::result<T, boost::system::error_code>;

}  // namespace leasekv

namespace boost::system {
template <>
struct is_error_code_enum<leasekv::errc> : std::true_type {};
}  // namespace boost::system
