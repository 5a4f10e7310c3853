// leasekv::server — etcd's alarms for this one member (etcdserver/api/v3alarm), and the store as the
// services see it: its writes pass the alarms first, as etcd's writes pass its capped and corrupt
// appliers.
//
// How the NOSPACE alarm works, as in etcd 3.4:
//   1. A put, txn or lease grant that the store refuses with errc::no_space (its quota) raises NOSPACE
//      for this member; the client gets "etcdserver: mvcc: database space exceeded".
//   2. While NOSPACE is raised, every put, every txn with a put in either top-level branch (etcd counts
//      no puts of nested txns), and every lease grant is refused with the same error, even once
//      compaction has made room. Reads, deletes, revokes and compaction still work.
//   3. Alarm(DEACTIVATE, member, NOSPACE) (`etcdctl alarm disarm`) lifts it; a write that still does not
//      fit raises it again.
// A CORRUPT alarm (raised only through Alarm(ACTIVATE), since no corruption check runs here) refuses
// every write, compaction and lease grant or revoke with "etcdserver: corrupt cluster", as etcd's
// corrupt applier does; reads and read-only txns still work.
//
// The alarms live in memory: unlike etcd's, they do not survive a restart of leasekv-server.
#pragma once

#include "leasekv/store.hpp"

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace leasekv::server_detail {

// etcd's AlarmType numbers (rpc.proto): NONE 0, NOSPACE 1, CORRUPT 2. Other values are kept as given.
inline constexpr std::int32_t alarm_none = 0;
inline constexpr std::int32_t alarm_nospace = 1;
inline constexpr std::int32_t alarm_corrupt = 2;

struct alarm_member {
  std::uint64_t member_id = 0;
  std::int32_t type = alarm_none;
};

// The raised alarms and the write mode they set. Thread safety: any thread.
class alarm_table {
 public:
  // What the store's writes meet: etcd switches its applier when the first alarm of a type is raised
  // (NOSPACE: capped, CORRUPT: corrupt) and back to normal when the last alarm of either type is lifted.
  enum class mode { normal, capped, corrupt };

  // Raises `type` for `member` (no check that such a member exists, as etcd). Returns the alarm, the
  // one already raised if it was.
  alarm_member activate(std::uint64_t member, std::int32_t type);
  // Lifts it; nothing if it was not raised.
  std::optional<alarm_member> deactivate(std::uint64_t member, std::int32_t type);
  // The raised alarms of `type`, or all of them for alarm_none; by type, then member id.
  std::vector<alarm_member> get(std::int32_t type) const;
  mode current() const;

 private:
  std::size_t count_locked(std::int32_t type) const;

  mutable std::mutex mu_;
  std::set<std::pair<std::int32_t, std::uint64_t>> raised_;  // (type, member)
  mode mode_ = mode::normal;
};

// etcd's text for an alarm in StatusResponse.errors (its compact text format): "memberID:<decimal>
// alarm:<NAME> ", fields at zero left out.
std::string alarm_text(const alarm_member& a);

// The code of a write refused under a CORRUPT alarm; to_status answers it with DataLoss
// "etcdserver: corrupt cluster".
const boost::system::error_code& corrupt_error() noexcept;

// `inner` behind the alarms, as described above; errc::no_space from `inner` raises NOSPACE for
// `member`. Every other call goes straight to `inner`.
std::shared_ptr<store> gate_by_alarms(std::shared_ptr<store> inner, std::shared_ptr<alarm_table> alarms,
                                      std::uint64_t member);

}  // namespace leasekv::server_detail
