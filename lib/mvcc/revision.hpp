// Revisions: etcd's {main, sub} pair.
//
// Every write transaction that changes something takes main = current + 1; each change inside it gets
// sub = 0, 1, 2, ... in execution order. Revisions order changes totally: by main, then by sub.
#pragma once

#include <compare>
#include <cstdint>

namespace leasekv::mvcc {

struct revision {
  std::int64_t main = 0;
  std::int64_t sub = 0;
  friend auto operator<=>(const revision&, const revision&) = default;
};

}  // namespace leasekv::mvcc
