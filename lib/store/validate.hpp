// Validation of requests that needs no store state (etcd's checks in its gRPC layer): keys provided,
// ignore_* flags used consistently, sizes, txn operation counts and duplicate keys.
//
// A request that passes may still fail against the store (compacted or future revisions, missing keys
// for ignore_*, unknown leases); those checks run under the store's lock before anything applies.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/txn.hpp"
#include "leasekv/types.hpp"

#include <cstddef>
#include <string_view>

namespace leasekv::detail {

struct limits {
  std::size_t max_request_bytes;
  std::size_t max_txn_ops;
};

result<void> check_put(std::string_view key, std::string_view value, const put_options& o, const limits& l);
result<void> check_range(const key_range& r, const limits& l);
result<void> check_txn(const txn_request& t, const limits& l);

// True iff no branch (nested ones included) puts or deletes.
bool is_read_only(const txn_request& t);
// True iff some branch (nested ones included) puts.
bool has_puts(const txn_request& t);
// The bytes of keys, values and range ends in the request.
std::size_t request_bytes(const txn_request& t);

}  // namespace leasekv::detail
