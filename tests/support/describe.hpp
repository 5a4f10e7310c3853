// Renders responses as text, so tests compare whole responses and print readable differences.
#pragma once

#include <leasekv/leasekv.hpp>

#include <string>

namespace leasekv::testing {

std::string describe(const key_value& kv);
std::string describe(const range_response& r);
std::string describe(const range_view_response& r);
std::string describe(const put_response& r);
std::string describe(const delete_response& r);
std::string describe(const txn_response& r);
std::string describe(const compact_response& r);
std::string describe(const lease_grant_response& r);
std::string describe(const lease_revoke_response& r);
std::string describe(const lease_keep_alive_response& r);
std::string describe(const lease_time_to_live_response& r);
std::string describe(const lease_leases_response& r);

// "error: <message>" or describe(value).
template <class T>
std::string describe(const result<T>& r) {
  if (!r) return "error: " + r.error().message();
  return describe(r.value());
}

}  // namespace leasekv::testing
