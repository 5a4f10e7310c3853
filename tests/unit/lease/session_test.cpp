// Keep-alive streams and sessions on the manual clock; handlers run on an io_context the test polls.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <vector>

using namespace leasekv;
using namespace std::chrono_literals;

namespace {

struct fixture {
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();
  std::unique_ptr<store> s = store::open({.clock = clk}).value();
  boost::asio::io_context ioc;
  bool has(const char* k) { return !s->get(k).value().kvs.empty(); }
};

}  // namespace

TEST_CASE("keep-alive: renews every TTL/3 so the lease outlives any advance, in order", "[keepalive]") {
  fixture f;
  auto l = f.s->grant(9s).value().id;
  f.s->put("k", "v", {.lease = l}).value();
  std::vector<std::int64_t> ttls;
  auto ka = f.s->start_keep_alive(l, f.ioc.get_executor(), [&](boost::system::error_code ec, const lease_keep_alive_response& r) {
    REQUIRE_FALSE(ec);
    ttls.push_back(r.ttl);
  }).value();
  CHECK(ttls.empty());  // never inside the call that started it
  f.clk->advance(1h);
  CHECK(f.has("k"));
  f.ioc.poll();
  CHECK(ttls.size() == 1 + 3600 / 3);
  CHECK(ttls.back() == 9);
  CHECK(f.s->time_to_live(l).value().remaining == 9s);  // renewed at the last 3 s step, at 1h

  ka->cancel();
  f.clk->advance(9s);
  CHECK_FALSE(f.has("k"));
  f.ioc.restart();
  CHECK(f.ioc.poll() == 0);  // nothing ran after cancel
}

TEST_CASE("keep-alive: the stream ends with lease_not_found once when the lease is revoked", "[keepalive]") {
  fixture f;
  auto l = f.s->grant(30s).value().id;
  std::vector<boost::system::error_code> seen;
  auto ka = f.s->start_keep_alive(l, f.ioc.get_executor(),
                             [&](boost::system::error_code ec, const lease_keep_alive_response&) { seen.push_back(ec); }).value();
  f.s->revoke(l).value();
  f.clk->advance(1min);
  f.ioc.poll();
  REQUIRE(seen.size() == 2);
  CHECK_FALSE(seen[0]);
  CHECK(seen[1] == errc::lease_not_found);
}

TEST_CASE("keep-alive: an unknown lease cannot be kept alive", "[keepalive]") {
  fixture f;
  auto r = f.s->start_keep_alive(99, f.ioc.get_executor(), [](boost::system::error_code, const lease_keep_alive_response&) {});
  CHECK(r.error() == errc::lease_not_found);
}

TEST_CASE("keep-alive: a handler may cancel its own stream and call back into the store", "[keepalive]") {
  fixture f;
  auto l = f.s->grant(3s).value().id;
  std::unique_ptr<keep_alive> ka;
  int calls = 0;
  ka = f.s->start_keep_alive(l, f.ioc.get_executor(), [&](boost::system::error_code, const lease_keep_alive_response&) {
    ++calls;
    CHECK(f.s->time_to_live(l).value().granted_ttl == 3);  // re-entering the store does not deadlock
    if (calls == 2) ka->cancel();
  }).value();
  f.clk->advance(10s);
  f.ioc.poll();
  CHECK(calls == 2);
}

TEST_CASE("session: keeps its keys while open and deletes them when closed", "[session]") {
  fixture f;
  bool lost = false;
  auto s = session::open(*f.s, {.ttl = 6s, .executor = f.ioc.get_executor(), .on_lost = [&](auto) { lost = true; }}).value();
  s->put("/services/api", "up").value();
  CHECK(f.s->get("/services/api").value().kvs.at(0).lease == s->lease());
  f.clk->advance(1h);
  CHECK(f.has("/services/api"));
  s->close().value();
  CHECK_FALSE(f.has("/services/api"));
  f.ioc.poll();
  CHECK_FALSE(lost);
}

TEST_CASE("session: tells its owner once when the lease is lost, and destruction revokes", "[session]") {
  fixture f;
  int lost = 0;
  boost::system::error_code why;
  {
    auto s = session::open(*f.s, {.ttl = 6s, .executor = f.ioc.get_executor(), .on_lost = [&](boost::system::error_code ec) {
                             ++lost;
                             why = ec;
                           }}).value();
    s->put("a", "1").value();
    f.s->revoke(s->lease()).value();  // someone else revokes it
    f.clk->advance(1min);
    f.ioc.poll();
    CHECK(lost == 1);
    CHECK(why == errc::lease_not_found);
  }
  auto s2 = session::open(*f.s, {.ttl = 6s, .executor = f.ioc.get_executor()}).value();
  s2->put("b", "1").value();
  s2.reset();
  CHECK_FALSE(f.has("b"));
  CHECK(f.s->leases().value().leases.empty());
}
