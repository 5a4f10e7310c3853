// leasekv::election against the embedded store on the manual clock: campaign, proclaim, resign, leader,
// observe and resume with clientv3's semantics and errors.
#include "recipe_fixture.hpp"

#include <string>
#include <vector>

using namespace leasekv;
using namespace recipe_test;

namespace {

// Collects what an observer reports, pulling one response at a time.
struct observed {
  std::vector<std::string> values;
  std::vector<std::int64_t> revisions;
  std::optional<boost::system::error_code> end;
  void pull(leader_observer& o) {
    o.async_next([this, &o](boost::system::error_code ec, range_response r) {
      if (ec) {
        end = ec;
        return;
      }
      REQUIRE(r.kvs.size() == 1);
      values.push_back(r.kvs[0].value);
      revisions.push_back(r.header.revision);
      pull(o);
    });
  }
};

}  // namespace

TEST_CASE("election: campaign, leader, proclaim and resign as clientv3's", "[recipes]") {
  fixture f;
  auto s1 = f.session(), s2 = f.session();
  election e1(*s1, "/e"), e2(*s2, "/e", f.ioc.get_executor());
  auto none = e1.leader();
  REQUIRE_FALSE(none);
  CHECK(none.error() == errc::election_no_leader);
  CHECK(none.error().message() == "election: no leader");

  REQUIRE(e1.campaign("one"));
  CHECK(e1.leader().value().kvs.at(0).value == "one");
  CHECK(e1.key() == f.s->range(prefix("/e/")).value().kvs.at(0).key);
  CHECK(e1.rev() == f.s->get(e1.key()).value().kvs.at(0).create_revision);

  outcome second;
  e2.async_campaign("two", second.handler());
  f.drive([&] { return f.count("/e/") == 2; });
  f.settle();
  CHECK_FALSE(second.done());
  REQUIRE(e1.proclaim("one, again"));
  CHECK(e2.leader().value().kvs.at(0).value == "one, again");
  f.settle();
  CHECK_FALSE(second.done());  // a proclamation is not a change of leader

  REQUIRE(e1.resign());
  f.drive([&] { return second.done(); });
  CHECK_FALSE(*second.ec);
  CHECK(e1.leader().value().kvs.at(0).value == "two");
  CHECK(e1.key().empty());
  CHECK(e1.resign());  // nothing to resign: not an error

  // A session that no longer leads cannot proclaim.
  auto p = e1.proclaim("stale");
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::election_not_leader);
  CHECK(p.error().message() == "election: not leader");
}

TEST_CASE("election: proclaiming after the key was taken away fails with not leader", "[recipes]") {
  fixture f;
  auto s = f.session();
  election e(*s, "/e");
  REQUIRE(e.campaign("v"));
  f.s->delete_range(key_range(e.key())).value();
  f.s->put(e.key(), "someone else's").value();  // same name, a new create revision
  auto p = e.proclaim("mine");
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::election_not_leader);
  CHECK(f.s->range(prefix("/e/")).value().kvs.at(0).value == "someone else's");
}

TEST_CASE("election: campaigning again on a session that has a key proclaims the new value", "[recipes]") {
  fixture f;
  auto s = f.session();
  election e1(*s, "/e"), e2(*s, "/e");
  REQUIRE(e1.campaign("first"));
  const auto rev = e1.rev();
  REQUIRE(e2.campaign("second"));
  CHECK(e2.rev() == rev);
  CHECK(e1.leader().value().kvs.at(0).value == "second");
}

TEST_CASE("election: observers see every leader and proclamation in order", "[recipes]") {
  fixture f;
  election watcher_side(*f.session(), "/obs", f.ioc.get_executor());
  auto early = watcher_side.observe();  // before anyone campaigns: waits for the first candidate
  observed seen_early;
  seen_early.pull(*early);
  f.settle();

  constexpr int n = 5;
  std::vector<std::unique_ptr<session>> sessions;
  std::vector<std::unique_ptr<election>> candidates;
  std::vector<outcome> won(n);
  for (int i = 0; i < n; ++i) {
    sessions.push_back(f.session());
    candidates.push_back(std::make_unique<election>(*sessions.back(), "/obs", f.ioc.get_executor()));
    candidates.back()->async_campaign("v" + std::to_string(i), won[static_cast<std::size_t>(i)].handler());
    f.drive([&] { return f.count("/obs/") == i + 1; });
  }
  std::unique_ptr<leader_observer> late;
  observed seen_late;
  std::vector<std::string> expected;
  for (int i = 0; i < n; ++i) {
    auto& e = *candidates[static_cast<std::size_t>(i)];
    f.drive([&] { return won[static_cast<std::size_t>(i)].done(); });
    REQUIRE_FALSE(*won[static_cast<std::size_t>(i)].ec);
    // Each step waits for the observers: the one read after a leader change shows the value of then.
    expected.push_back("v" + std::to_string(i));
    f.drive([&] { return seen_early.values.size() == expected.size(); });
    if (i == 2) {  // an observer starting now reports the leader of now first
      late = watcher_side.observe();
      seen_late.pull(*late);
    }
    if (late) f.drive([&] { return seen_late.values.size() == expected.size() - 4; });
    REQUIRE(e.proclaim("v" + std::to_string(i) + "+"));
    expected.push_back("v" + std::to_string(i) + "+");
    f.drive([&] { return seen_early.values.size() == expected.size(); });
    if (late) f.drive([&] { return seen_late.values.size() == expected.size() - 4; });
    REQUIRE(e.resign());
  }
  CHECK(seen_early.values == expected);
  for (std::size_t i = 1; i < seen_early.revisions.size(); ++i) CHECK(seen_early.revisions[i - 1] < seen_early.revisions[i]);
  CHECK(seen_late.values == std::vector<std::string>(expected.begin() + 4, expected.end()));

  early->cancel();
  f.drive([&] { return seen_early.end.has_value(); });
  CHECK(*seen_early.end == boost::asio::error::operation_aborted);
}

TEST_CASE("election: a cancelled campaign removes its key, and a lost session's campaign ends not leader", "[recipes]") {
  fixture f;
  auto s1 = f.session(), s2 = f.session();
  auto ctx3 = std::make_unique<boost::asio::io_context>();
  auto s3 = f.session(5s, ctx3->get_executor());
  election e1(*s1, "/c"), e2(*s2, "/c", f.ioc.get_executor()), e3(*s3, "/c", f.ioc.get_executor());
  REQUIRE(e1.campaign("leader"));
  outcome g2, g3;
  e2.async_campaign("two", g2.handler());
  f.drive([&] { return f.count("/c/") == 2; });
  e3.async_campaign("three", g3.handler());
  f.drive([&] { return f.count("/c/") == 3; });
  f.settle();

  e2.cancel();
  f.drive([&] { return g2.done(); });
  CHECK(*g2.ec == boost::asio::error::operation_aborted);
  CHECK(f.count("/c/") == 2);

  ctx3.reset();  // the third candidate's session stops renewing
  f.clk->advance(12s);
  f.drive([&] { return g3.done(); });
  CHECK(*g3.ec == errc::election_not_leader);
  CHECK(f.count("/c/") == 1);
  CHECK(e1.leader().value().kvs.at(0).value == "leader");
}

TEST_CASE("election: resume proclaims and resigns on a leader key won earlier", "[recipes]") {
  fixture f;
  auto s = f.session();
  std::string key;
  std::int64_t rev = 0;
  {
    election e(*s, "/r");
    REQUIRE(e.campaign("before"));
    key = e.key();
    rev = e.rev();
  }
  auto resumed = election::resume(*s, "/r", key, rev);
  REQUIRE(resumed->proclaim("after"));
  CHECK(resumed->leader().value().kvs.at(0).value == "after");
  REQUIRE(resumed->resign());
  CHECK(f.count("/r/") == 0);
  auto stale = election::resume(*s, "/r", key, rev);
  CHECK(stale->proclaim("x").error() == errc::election_not_leader);
}

TEST_CASE("election: a campaign past its deadline fails with timed_out and leaves no key", "[recipes]") {
  fixture f;
  auto s1 = f.session(), s2 = f.session();
  election e1(*s1, "/d"), e2(*s2, "/d");
  REQUIRE(e1.campaign("a"));
  auto r = e2.campaign_until("b", std::chrono::steady_clock::now());
  REQUIRE_FALSE(r);
  CHECK(r.error() == boost::asio::error::timed_out);
  CHECK(f.count("/d/") == 1);
}
