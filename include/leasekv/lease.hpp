// leasekv — leases, as etcd's Lease service: grant, revoke, keep-alive, time-to-live, list.
//
// A lease has a TTL; keys put with its id are attached to it. When it expires (its owner stopped
// renewing it) or is revoked, all its keys are deleted at one revision, in key order, together with the
// lease. TTLs are durations with millisecond resolution; etcd's whole-second fields are given too.
//
// Thread safety: plain values.
#pragma once

#include "leasekv/types.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace leasekv {

// The largest TTL etcd accepts: 9,000,000,000 seconds.
inline constexpr std::chrono::seconds max_lease_ttl{9'000'000'000LL};

struct lease_grant_response {
  response_header header;
  lease_id id = no_lease;
  std::int64_t ttl = 0;            // granted TTL in whole seconds (etcd's TTL field)
  std::chrono::milliseconds granted{0};
};

struct lease_revoke_response {
  response_header header;  // the revision after the lease's keys were deleted
};

struct lease_keep_alive_response {
  response_header header;
  lease_id id = no_lease;
  std::int64_t ttl = 0;            // the granted TTL in whole seconds: a renewal restores the full TTL
  std::chrono::milliseconds granted{0};
};

struct lease_time_to_live_response {
  response_header header;
  lease_id id = no_lease;
  std::int64_t ttl = -1;           // remaining whole seconds, truncated; -1 for an unknown lease
  std::int64_t granted_ttl = 0;    // granted TTL in whole seconds; 0 for an unknown lease
  std::chrono::milliseconds remaining{-1};
  std::chrono::milliseconds granted{0};
  std::vector<std::string> keys;   // attached keys, if asked for, in key order
};

struct time_to_live_options {
  bool keys = false;  // list the attached keys
};

struct lease_status {
  lease_id id = no_lease;
  friend bool operator==(const lease_status&, const lease_status&) = default;
};

struct lease_leases_response {
  response_header header;
  std::vector<lease_status> leases;  // ordered by remaining time, soonest first
};

}  // namespace leasekv
