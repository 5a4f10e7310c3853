// The buffer of held-back puts (lib/store/held_back_puts.hpp). What callers of the store see of holding
// back is in deferred_put_test.cpp.
#include <catch2/catch.hpp>

#include "store/held_back_puts.hpp"

#include <new>
#include <string>
#include <vector>

using leasekv::put_options;
using leasekv::detail::held_back_puts;
using leasekv::mvcc::kv_store;

namespace {

// The key of each write group apply() ends, in order.
std::vector<std::string> apply_keys(held_back_puts& held, kv_store& kv) {
  std::vector<std::string> keys;
  held.apply(kv, [&] { keys.emplace_back(kv.changes().at(0).entry->key()); });
  return keys;
}

}  // namespace

TEST_CASE("held-back puts: only a small put that reads nothing from the store may be held", "[store][deferred]") {
  CHECK(held_back_puts::may_hold("k", "v", {}));
  CHECK(held_back_puts::may_hold("k", std::string(held_back_puts::max_put_bytes - 1, 'v'), {}));
  CHECK_FALSE(held_back_puts::may_hold("k", std::string(held_back_puts::max_put_bytes, 'v'), {}));
  CHECK_FALSE(held_back_puts::may_hold("k", "v", put_options{.prev_kv = true}));
  CHECK_FALSE(held_back_puts::may_hold("k", "", put_options{.ignore_value = true}));
  CHECK_FALSE(held_back_puts::may_hold("k", "v", put_options{.ignore_lease = true}));
  CHECK(held_back_puts::may_hold("k", "v", put_options{.lease = 7}));
}

TEST_CASE("held-back puts: applied in order, each in its own write group, they leave the buffer empty", "[store][deferred]") {
  kv_store kv(false);
  held_back_puts held;
  held.add("b", "1", 0);
  held.add("a", "22", 5);
  held.add("b", "333", 0);
  CHECK(held.size() == 3);
  CHECK(held.bytes() == 1 + 1 + 1 + 2 + 1 + 3 + 3 * kv_store::version_overhead);  // what kv.bytes() will gain
  CHECK(apply_keys(held, kv) == std::vector<std::string>{"b", "a", "b"});
  CHECK(held.empty());
  CHECK(held.bytes() == 0);
  CHECK(kv.bytes() == 1 + 1 + 1 + 2 + 1 + 3 + 3 * kv_store::version_overhead);
  CHECK(kv.current_revision() == 4);
  const auto a = kv.range(leasekv::key_range("a"), {}).value().kvs.at(0);
  CHECK(a == leasekv::key_value{"a", 3, 3, 1, "22", 5});
  const auto b = kv.range(leasekv::key_range("b"), {}).value().kvs.at(0);
  CHECK(b == leasekv::key_value{"b", 2, 4, 2, "333", 0});
  for (std::size_t i = 0; i < held_back_puts::capacity; ++i) held.add("k" + std::to_string(i), "v", 0);
  CHECK(held.full());
}

TEST_CASE("held-back puts: when applying throws, the puts whose committed() returned leave the buffer and the rest stay in order",
          "[store][deferred]") {
  kv_store kv(false);
  held_back_puts held;
  for (int i = 0; i < 6; ++i) held.add("key" + std::to_string(i), std::string(static_cast<std::size_t>(i), 'v'), 0);
  int calls = 0;
  CHECK_THROWS_AS(held.apply(kv, [&] {
                    if (++calls == 3) throw std::bad_alloc();
                  }),
                  std::bad_alloc);
  REQUIRE(held.size() == 4);
  CHECK(held.bytes() == 4 * 4 + (2 + 3 + 4 + 5) + 4 * kv_store::version_overhead);
  CHECK(apply_keys(held, kv) == std::vector<std::string>{"key2", "key3", "key4", "key5"});
  CHECK(held.empty());
  CHECK(kv.range(leasekv::key_range("key5"), {}).value().kvs.at(0).value == "vvvvv");
}
