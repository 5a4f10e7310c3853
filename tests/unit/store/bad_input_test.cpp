// The catalogue of bad input, through the API: each case gets its exact, documented error and leaves the
// store as it was — same revision, same compaction, same keys at every retained revision, same leases.
// Inputs that etcd accepts (binary keys, a key at the size limit, lease 0 meaning "no lease", a revision
// <= 0 meaning "now") are checked to work. The CLI's half of the catalogue is tests/golden/bad_input.sh.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/describe.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <string>
#include <vector>

using namespace leasekv;
using leasekv::testing::describe;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kLimit = 256;  // max_request_bytes for these tests

// Everything observable about the store, as text.
std::string fingerprint(store& s) {
  std::string out = "rev " + std::to_string(s.revision()) + " compacted " + std::to_string(s.compacted_revision()) + "\n";
  for (std::int64_t r = std::max<std::int64_t>(1, s.compacted_revision()); r <= s.revision(); ++r) {
    out += describe(s.range(all_keys(), {.revision = r})) + "\n";
  }
  const auto leases = s.leases().value();
  out += describe(leases) + "\n";
  for (const auto& l : leases.leases) out += describe(s.time_to_live(l.id, {.keys = true})) + "\n";
  return out;
}

struct bad_case {
  const char* what;
  std::function<boost::system::error_code(store&)> call;
  errc want;
  const char* message;
};

template <class T>
boost::system::error_code error_of(const result<T>& r) {
  return r ? boost::system::error_code{} : r.error().code();
}

}  // namespace

TEST_CASE("bad input: every case gets its error and leaves the store unchanged", "[store][bad-input]") {
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.max_request_bytes = kLimit, .clock = clk}).value();
  s->put("a", "1").value();
  s->put("b", "1").value();
  const lease_id l = s->grant(10s, 0x1234).value().id;
  s->put("l/1", "x", {.lease = l}).value();
  s->put("a", "2").value();
  s->compact(3).value();
  s->put("a", "3").value();  // revision 6, compacted at 3

  boost::asio::io_context ioc;
  const std::string big_key(kLimit + 1, 'k');
  auto txn_of = [](std::vector<request_op> ops) {
    txn_request t;
    t.success = std::move(ops);
    return t;
  };

  const std::vector<bad_case> cases = {
      // Empty keys, wherever a key is taken.
      {"put of an empty key", [](store& st) { return error_of(st.put("", "v")); }, errc::key_not_provided,
       "etcdserver: key is not provided"},
      {"get of an empty key", [](store& st) { return error_of(st.get("")); }, errc::key_not_provided,
       "etcdserver: key is not provided"},
      {"range from an empty key", [](store& st) { return error_of(st.range(key_range("", "z"))); },
       errc::key_not_provided, "etcdserver: key is not provided"},
      {"delete of an empty key", [](store& st) { return error_of(st.delete_range("")); }, errc::key_not_provided,
       "etcdserver: key is not provided"},
      {"txn putting an empty key", [&](store& st) { return error_of(st.txn(txn_of({op::put("", "v")}))); },
       errc::key_not_provided, "etcdserver: key is not provided"},
      // Sizes: key + value over the request limit, in every writer.
      {"put one byte over the limit", [](store& st) { return error_of(st.put("k", std::string(kLimit, 'v'))); },
       errc::request_too_large, "etcdserver: request is too large"},
      {"put of a key over the limit", [&](store& st) { return error_of(st.put(big_key, "")); },
       errc::request_too_large, "etcdserver: request is too large"},
      {"range of a key over the limit", [&](store& st) { return error_of(st.get(big_key)); },
       errc::request_too_large, "etcdserver: request is too large"},
      {"txn over the limit in total",
       [&](store& st) {
         return error_of(st.txn(txn_of({op::put("x", std::string(kLimit / 2, 'v')), op::put("y", std::string(kLimit / 2, 'v'))})));
       },
       errc::request_too_large, "etcdserver: request is too large"},
      // TTLs.
      {"grant with TTL 0", [](store& st) { return error_of(st.grant(0ms)); }, errc::invalid_argument,
       "leasekv: invalid argument"},
      {"grant with a negative TTL", [](store& st) { return error_of(st.grant(-5s)); }, errc::invalid_argument,
       "leasekv: invalid argument"},
      {"grant over the maximum TTL", [](store& st) { return error_of(st.grant(std::chrono::seconds(9'000'000'001))); },
       errc::lease_ttl_too_large, "etcdserver: too large lease TTL"},
      {"grant with the largest TTL there is",
       [](store& st) { return error_of(st.grant(std::chrono::milliseconds::max())); }, errc::lease_ttl_too_large,
       "etcdserver: too large lease TTL"},
      // Lease ids: zero, negative, unknown, taken.
      {"revoke of lease 0", [](store& st) { return error_of(st.revoke(0)); }, errc::lease_not_found,
       "etcdserver: requested lease not found"},
      {"revoke of an unknown negative id", [](store& st) { return error_of(st.revoke(-7)); }, errc::lease_not_found,
       "etcdserver: requested lease not found"},
      {"keep-alive of lease 0", [](store& st) { return error_of(st.keep_alive_once(0)); }, errc::lease_not_found,
       "etcdserver: requested lease not found"},
      {"keep-alive of an unknown id", [](store& st) { return error_of(st.keep_alive_once(99)); },
       errc::lease_not_found, "etcdserver: requested lease not found"},
      {"put on an unknown lease", [](store& st) { return error_of(st.put("a", "v", {.lease = 99})); },
       errc::lease_not_found, "etcdserver: requested lease not found"},
      {"put on a negative unknown lease", [](store& st) { return error_of(st.put("a", "v", {.lease = -1})); },
       errc::lease_not_found, "etcdserver: requested lease not found"},
      {"txn putting on an unknown lease (nothing of it applied)",
       [&](store& st) { return error_of(st.txn(txn_of({op::put("new", "v"), op::put("z", "v", {.lease = 99})}))); },
       errc::lease_not_found, "etcdserver: requested lease not found"},
      {"grant of an id that is taken", [l](store& st) { return error_of(st.grant(5s, l)); }, errc::lease_exists,
       "etcdserver: lease already exists"},
      // Revisions: compacted, future, in reads, txns, compaction and watches.
      {"get below the compacted revision", [](store& st) { return error_of(st.get("a", {.revision = 2})); },
       errc::compacted, "mvcc: required revision has been compacted"},
      {"get at a future revision", [](store& st) { return error_of(st.get("a", {.revision = 7})); },
       errc::future_revision, "mvcc: required revision is a future revision"},
      {"txn with a future read (its put not applied)",
       [&](store& st) {
         request_op get = op::get("a", {.revision = 100});
         return error_of(st.txn(txn_of({op::put("new", "v"), get})));
       },
       errc::future_revision, "mvcc: required revision is a future revision"},
      {"compact at a future revision", [](store& st) { return error_of(st.compact(7)); }, errc::future_revision,
       "mvcc: required revision is a future revision"},
      {"compact at the compacted revision", [](store& st) { return error_of(st.compact(3)); }, errc::compacted,
       "mvcc: required revision has been compacted"},
      {"compact at a negative revision", [](store& st) { return error_of(st.compact(-4)); }, errc::compacted,
       "mvcc: required revision has been compacted"},
      // Txn shapes.
      {"txn with too many operations",
       [&](store& st) {
         std::vector<request_op> ops;
         for (int i = 0; i < 129; ++i) ops.push_back(op::get("k" + std::to_string(i)));
         return error_of(st.txn(txn_of(std::move(ops))));
       },
       errc::too_many_ops, "etcdserver: too many operations in txn request"},
      {"txn putting one key twice", [&](store& st) { return error_of(st.txn(txn_of({op::put("d", "1"), op::put("d", "2")}))); },
       errc::duplicate_key, "etcdserver: duplicate key given in txn request"},
      {"txn putting a key it deletes",
       [&](store& st) { return error_of(st.txn(txn_of({op::del(key_range("c", "e")), op::put("d", "2")}))); },
       errc::duplicate_key, "etcdserver: duplicate key given in txn request"},
      {"nested txn putting a key its parent puts",
       [&](store& st) {
         return error_of(st.txn(txn_of({op::put("d", "1"), op::txn([] {
                                          txn_request inner;
                                          inner.success.push_back(op::put("d", "2"));
                                          return inner;
                                        }())})));
       },
       errc::duplicate_key, "etcdserver: duplicate key given in txn request"},
      // put's ignore flags.
      {"ignore_value with a value", [](store& st) { return error_of(st.put("a", "v", {.ignore_value = true})); },
       errc::value_provided, "etcdserver: value is provided"},
      {"ignore_lease with a lease", [l](store& st) { return error_of(st.put("a", "v", {.lease = l, .ignore_lease = true})); },
       errc::lease_provided, "etcdserver: lease is provided"},
      {"ignore_value on a missing key", [](store& st) { return error_of(st.put("nope", "", {.ignore_value = true})); },
       errc::key_not_found, "etcdserver: key not found"},
      // Watches.
      {"watch of an empty range",
       [&](store& st) { return error_of(st.watch(key_range("b", "a"), {}, ioc.get_executor(), [](const watch_response&) {})); },
       errc::watch_range_empty, "mvcc: watcher range is empty"},
      {"watch from a negative revision",
       [&](store& st) {
         return error_of(st.watch(key_range("a"), {.start_revision = -2}, ioc.get_executor(), [](const watch_response&) {}));
       },
       errc::invalid_argument, "leasekv: invalid argument"},
  };

  const std::string before = fingerprint(*s);
  for (const auto& c : cases) {
    INFO(c.what);
    const auto ec = c.call(*s);
    CHECK(ec == c.want);
    CHECK(ec.message() == c.message);
    CHECK(fingerprint(*s) == before);
  }

  // Where the code is generic, the detail says what was wrong.
  auto zero_ttl = s->grant(0ms);
  CHECK(zero_ttl.error() == errc::invalid_argument);
  CHECK(zero_ttl.error().detail() == "lease TTL must be positive, got 0 ms");
  CHECK(zero_ttl.error().what() == "leasekv: invalid argument: lease TTL must be positive, got 0 ms");
  auto negative_start = s->watch(key_range("a"), {.start_revision = -2}, ioc.get_executor(), [](const watch_response&) {});
  CHECK(negative_start.error() == errc::invalid_argument);
  CHECK(negative_start.error().detail() == "watch start revision must be >= 0 (0: from now), got -2");
  request_op hollow;
  hollow.type = request_op::kind::txn;
  auto hollow_txn = s->txn(txn_of({hollow}));
  CHECK(hollow_txn.error() == errc::invalid_argument);
  CHECK(hollow_txn.error().detail() == "a nested txn op without its txn_request");

  // A watch from a compacted revision is accepted, then cancelled with the compacted revision, as etcd does.
  std::vector<watch_response> got;
  auto w = s->watch(key_range("a"), {.start_revision = 2}, ioc.get_executor(), [&](const watch_response& r) {
    got.push_back(r);
  }).value();
  ioc.run();
  REQUIRE(got.size() == 1);
  CHECK(got[0].canceled);
  CHECK(got[0].compact_revision == 3);
  CHECK(got[0].cancel_reason == errc::compacted);
  CHECK(fingerprint(*s) == before);
}

TEST_CASE("bad input: what etcd accepts works, exactly at the edges", "[store][bad-input]") {
  auto s = store::open({.max_request_bytes = kLimit}).value();
  // A key and value exactly at the request limit.
  const std::string key(16, 'k');
  CHECK(s->put(key, std::string(kLimit - key.size(), 'v')).has_value());
  // Binary keys: NUL and 0xff bytes, in keys, values and prefixes.
  const std::string nul_key("n\0k", 3);
  const std::string ff_key("\xff\xff", 2);
  s->put(nul_key, std::string("\0\xff", 2)).value();
  s->put(ff_key, "ff").value();
  CHECK(s->get(nul_key).value().kvs.at(0).value == std::string("\0\xff", 2));
  CHECK(s->get(std::string("n", 1)).value().kvs.empty());  // "n\0k" is not "n"
  CHECK(s->range(prefix(std::string("n\0", 2))).value().kvs.at(0).key == nul_key);
  CHECK(s->range(prefix("\xff")).value().kvs.at(0).key == ff_key);
  // Lease 0 is "no lease"; a chosen negative id is a valid lease.
  CHECK(s->put("p", "v", {.lease = no_lease}).has_value());
  CHECK(s->grant(5s, -5).value().id == -5);
  CHECK(s->put("q", "v", {.lease = -5}).has_value());
  // The largest TTL etcd accepts.
  CHECK(s->grant(std::chrono::seconds(9'000'000'000)).has_value());
  // A revision <= 0 reads now; the compacted revision itself is still readable.
  const auto rev = s->revision();
  CHECK(s->get("p", {.revision = -1}).value().kvs.size() == 1);
  s->compact(rev).value();
  CHECK(s->get("p", {.revision = rev}).value().kvs.size() == 1);
  // The time-to-live of an unknown lease is not an error: TTL -1.
  CHECK(s->time_to_live(424242).value().ttl == -1);
}
