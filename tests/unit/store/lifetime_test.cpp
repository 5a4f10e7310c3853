// Objects that outlive their store, options that cannot mean anything, and time at its extremes: each
// case here crashed, hung or overflowed (undefined behaviour, caught by UBSan) before it was fixed.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <limits>
#include <memory>

using namespace leasekv;
using namespace std::chrono_literals;

TEST_CASE("lifetime: a session that outlives its store fails its puts with closed and revokes nothing", "[lifetime]") {
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.clock = clk}).value();
  auto sess = session::open(*s, {.ttl = 10s}).value();
  sess->put("/svc/a", "up").value();
  s.reset();  // the store goes first: the session's destructor must not revoke through a dangling reference
  auto put = sess->put("/svc/b", "up");
  REQUIRE_FALSE(put);
  CHECK(put.error() == errc::closed);
  CHECK(sess->close());  // nothing left to revoke: not an error
  sess.reset();
}

TEST_CASE("lifetime: a txn_builder committed after its store is gone fails with closed", "[lifetime]") {
  auto s = store::open({.clock = std::make_shared<manual_clock>()}).value();
  auto b = s->txn();
  b.when(compare::value_of("k") == "v").then(op::put("k", "w")).otherwise(op::put("k", "v"));
  REQUIRE(b.commit().value().header.revision == 2);
  s.reset();
  auto r = b.commit();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::closed);
}

TEST_CASE("lifetime: a txn_builder of a closed store fails with closed and changes nothing", "[lifetime]") {
  auto s = store::open({.clock = std::make_shared<manual_clock>()}).value();
  auto b = s->txn();
  b.then(op::put("k", "v"));
  s->close();
  auto r = b.commit();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::closed);
}

TEST_CASE("lifetime: a keep-alive stream that outlives its store stops without a call", "[lifetime]") {
  auto clk = std::make_shared<manual_clock>();
  boost::asio::io_context ioc;
  auto s = store::open({.clock = clk}).value();
  const auto l = s->grant(9s).value().id;
  int calls = 0;
  auto ka = s->start_keep_alive(l, ioc.get_executor(), [&](boost::system::error_code, const lease_keep_alive_response&) { ++calls; })
                .value();
  ioc.run();
  REQUIRE(calls == 1);
  s.reset();
  clk->advance(1h);  // the store is gone: nothing renews, nothing is delivered
  ioc.restart();
  CHECK(ioc.poll() == 0);
  ka->cancel();
  ka.reset();
  CHECK(calls == 1);
}

TEST_CASE("lifetime: close() twice, and calls after it, fail cleanly with closed", "[lifetime]") {
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.clock = clk}).value();
  s->put("k", "v").value();
  s->close();
  s->close();
  CHECK(s->put("k", "w").error() == errc::closed);
  CHECK(s->get("k").error() == errc::closed);
  CHECK(s->grant(5s).error() == errc::closed);
  CHECK(s->compact(1).error() == errc::closed);
  CHECK(s->watch(key_range("k"), {}, {}).error() == errc::closed);
  clk->advance(1h);  // no expiry runs after close()
}

TEST_CASE("options: a progress interval, lease tick or timeout that cannot mean anything is refused at open", "[options]") {
  using std::chrono::milliseconds;
  auto refused = [](options o, const char* option) {
    o.clock = std::make_shared<manual_clock>();
    auto s = store::open(o);
    REQUIRE_FALSE(s);
    CHECK(s.error() == errc::invalid_argument);
    CHECK_THAT(s.error().detail(), Catch::Contains(option));
  };
  refused({.watch_progress_interval = milliseconds(0)}, "watch_progress_interval");
  refused({.watch_progress_interval = milliseconds(-5)}, "watch_progress_interval");
  refused({.tuning = {.lease_tick = milliseconds(0)}}, "lease_tick");
  refused({.min_lease_ttl = milliseconds(-1)}, "min_lease_ttl");
  refused({.lock_timeout = milliseconds(-1)}, "lock_timeout");
}

TEST_CASE("options: the largest progress interval opens, and a progress watcher on it never fires", "[options]") {
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.clock = clk, .watch_progress_interval = std::chrono::milliseconds::max()}).value();
  boost::asio::io_context ioc;
  int responses = 0;
  auto w = s->watch(key_range("k"), {.progress_notify = true}, ioc.get_executor(), [&](const watch_response&) { ++responses; }).value();
  clk->advance(24h * 365 * 200);  // 200 years: far, but the interval's deadline saturates instead of wrapping
  ioc.poll();
  CHECK(responses == 0);
}

TEST_CASE("time: the largest TTL granted on a clock advanced by years saturates its deadline", "[time]") {
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.clock = clk}).value();
  clk->advance(24h * 365 * 8);
  const auto l = s->grant(max_lease_ttl).value().id;  // 8 years + 285 years is past int64 nanoseconds
  s->put("k", "v", {.lease = l}).value();
  const auto ttl = s->time_to_live(l).value();
  CHECK(ttl.granted_ttl == max_lease_ttl.count());
  CHECK(ttl.ttl > 0);
  CHECK(s->keep_alive_once(l).value().ttl == max_lease_ttl.count());
  clk->advance(24h * 365 * 100);
  CHECK(s->get("k").value().kvs.size() == 1);  // still before the (saturated) deadline
  CHECK(s->leases().value().leases.size() == 1);
}

TEST_CASE("time: a manual clock advanced past its end stays at its end, and leases due then expire", "[time]") {
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.clock = clk}).value();
  const auto l = s->grant(30s).value().id;
  s->put("k", "v", {.lease = l}).value();
  clk->advance(clock::duration::max());
  clk->advance(clock::duration::max());  // would wrap into the past
  CHECK(clk->now() == clock::time_point::max());
  CHECK(clk->wall_now() > std::chrono::system_clock::time_point());
  CHECK(s->get("k").value().kvs.empty());
  CHECK(s->grant(max_lease_ttl).has_value());  // a deadline at the end of time
}

TEST_CASE("lifetime: a keep-alive whose io_context was destroyed stops instead of posting to it", "[lifetime]") {
  auto clk = std::make_shared<manual_clock>();
  auto s = store::open({.clock = clk}).value();
  const auto l = s->grant(9s).value().id;
  s->put("k", "v", {.lease = l}).value();
  int calls = 0;
  std::unique_ptr<keep_alive> ka;
  {
    boost::asio::io_context ioc;
    ka = s->start_keep_alive(l, ioc.get_executor(), [&](boost::system::error_code, const lease_keep_alive_response&) { ++calls; })
             .value();
    ioc.run();
  }  // the context goes while the stream lives
  REQUIRE(calls == 1);
  clk->advance(3s);  // a renewal is due: posting it to the dead context crashed
  clk->advance(20s);  // nothing renews the lease any more: it expires
  CHECK(s->get("k").value().kvs.empty());
  ka.reset();
  CHECK(calls == 1);
}
