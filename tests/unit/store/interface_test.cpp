// The store interface: a second backend stands behind it. Here that backend forwards every call to an
// embedded store and counts it, so each test shows which calls the helpers made from a store
// (txn_builder, session, watchers, keep-alive streams) go through: the interface's, and only those.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/forwarding_store.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>

using namespace leasekv;
using namespace std::chrono_literals;

namespace {

using leasekv::testing::forwarding_store;

struct fixture {
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();
  std::unique_ptr<forwarding_store> s =
      std::make_unique<forwarding_store>(store::open({.clock = clk}).value());
  store& api = *s;  // callers hold the interface (its default arguments are declared there)
  boost::asio::io_context ioc;
};

}  // namespace

TEST_CASE("store interface: a txn_builder commits through the backend it came from", "[store]") {
  fixture f;
  auto r = f.s->txn().when(compare::version("k") == 0).then(op::put("k", "v")).commit().value();
  CHECK(r.succeeded);
  CHECK(f.s->calls["txn"] == 1);
  CHECK(f.s->get("k").value().kvs.at(0).value == "v");
  CHECK(f.s->calls["range"] == 1);  // get() is range() on any backend
}

TEST_CASE("store interface: a session grants, keeps alive, puts and revokes through the backend", "[store]") {
  fixture f;
  auto sess = session::open(*f.s, {.ttl = 3s, .executor = f.ioc.get_executor()}).value();
  CHECK(f.s->calls["grant"] == 1);
  CHECK(f.s->calls["start_keep_alive"] == 1);
  sess->put("/svc/a", "up").value();
  CHECK(f.s->calls["put"] == 1);
  f.clk->advance(1h);  // the keep-alive stream the backend made renews it
  CHECK(f.s->get("/svc/a").value().kvs.size() == 1);
  sess->close().value();
  CHECK(f.s->calls["revoke"] == 1);
  CHECK(f.s->get("/svc/a").value().kvs.empty());
}

TEST_CASE("store interface: watchers and keep-alive streams are the backend's handles", "[store]") {
  fixture f;
  std::vector<watch_event> seen;
  auto w = f.s->watch(key_range("k"), {}, f.ioc.get_executor(), [&](const watch_response& r) {
                for (const auto& e : r.events) seen.push_back(e);
              }).value();
  CHECK(f.s->calls["watch"] == 1);
  CHECK(w->id() == 0);
  f.api.put("k", "1").value();
  f.ioc.run();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kv.value == "1");

  auto lease = f.api.grant(3s).value();
  int renewals = 0;
  auto ka = f.s->start_keep_alive(lease.id, f.ioc.get_executor(),
                                  [&](boost::system::error_code ec, const lease_keep_alive_response&) {
                                    if (!ec) ++renewals;
                                  }).value();
  CHECK(ka->id() == lease.id);
  f.clk->advance(2s);
  f.ioc.restart();
  f.ioc.run();
  CHECK(renewals == 3);  // at once, then every third of the TTL: at 1 s and 2 s
}

TEST_CASE("store interface: helpers outliving a backend get closed, not its freed memory", "[store]") {
  fixture f;
  auto builder = f.s->txn();
  builder.then(op::put("k", "v"));
  f.s.reset();
  CHECK(builder.commit().error() == errc::closed);
}
