// Fuzzes the store's API against the reference model: the input is a program of operations (put,
// range, delete, txn, compact, grant, revoke, keep-alive, advance) over a tiny key space; every response
// must equal the model's, or the fuzzer aborts.
#include <leasekv/leasekv.hpp>

#include "support/describe.hpp"
#include "support/reference_model.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace leasekv;
using leasekv::testing::describe;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.clock = clk}).value();
  testing::reference_model m;
  for (std::size_t i = 0; i + 3 < size; i += 4) {
    const std::uint8_t op = data[i] % 10;
    const std::string k(1, static_cast<char>('a' + data[i + 1] % 4));
    const std::string k2(1, static_cast<char>('a' + data[i + 2] % 5));
    const std::uint8_t bits = data[i + 3];
    const lease_id l = bits % 3;  // 0: none; 1 and 2 may or may not exist
    std::string got;
    std::string want;
    switch (op) {
      case 0:
      case 1: {
        const put_options o{.lease = l, .prev_kv = (bits & 4) != 0, .ignore_value = (bits & 8) != 0 && (bits & 16) != 0};
        const std::string v = o.ignore_value ? "" : std::to_string(bits);
        got = describe(s->put(k, v, o));
        want = describe(m.put(k, v, o));
        break;
      }
      case 2: {
        const range_options o{.limit = bits % 3, .revision = static_cast<std::int64_t>(bits % 8), .keys_only = (bits & 8) != 0};
        got = describe(s->range(key_range(k, k2), o));
        want = describe(m.range(key_range(k, k2), o));
        break;
      }
      case 3:
        got = describe(s->delete_range(key_range(k, k2), {.prev_kv = (bits & 1) != 0}));
        want = describe(m.delete_range(key_range(k, k2), {.prev_kv = (bits & 1) != 0}));
        break;
      case 4: {
        txn_request t;
        t.compares.push_back(make_compare(compare::version(k), static_cast<compare_result>(bits % 4), bits % 3));
        t.success.push_back(op::put(k2, "t", {.lease = l}));
        if ((bits & 8) != 0) t.success.push_back(op::del(k));
        t.failure.push_back(op::get(key_range(k, k2)));
        got = describe(s->txn(t));
        want = describe(m.txn(t));
        break;
      }
      case 5:
        got = describe(s->compact(bits % 12));
        want = describe(m.compact(bits % 12));
        break;
      case 6:
        got = describe(s->grant(std::chrono::milliseconds(bits * 10), l == 0 ? 1 : l));
        want = describe(m.grant(bits * 10, l == 0 ? 1 : l));
        break;
      case 7:
        got = describe(s->revoke(l));
        want = describe(m.revoke(l));
        break;
      case 8:
        got = describe(s->keep_alive_once(l));
        want = describe(m.keep_alive(l));
        break;
      default:
        clk->advance(std::chrono::milliseconds(bits * 5));
        m.advance(bits * 5);
        got = describe(s->range(all_keys()));
        want = describe(m.range(all_keys()));
    }
    if (got != want) std::abort();
  }
  return 0;
}
