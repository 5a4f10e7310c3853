// Watch semantics. Handlers run on an io_context the test polls; the manual clock drives leases.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#endif

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace leasekv;
using namespace std::chrono_literals;

namespace {

struct fixture {
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();
  std::unique_ptr<store> s;
  boost::asio::io_context ioc;
  std::vector<watch_response> got;
  explicit fixture(options o = {}) {
    o.clock = clk;
    s = store::open(std::move(o)).value();
  }
  std::unique_ptr<watcher> watch(key_range r, watch_options o = {}) {
    return s->watch(std::move(r), o, ioc.get_executor(), [this](const watch_response& w) { got.push_back(w); }).value();
  }
  void run() {
    ioc.restart();
    ioc.poll();
  }
  // "PUT a@2 DELETE b@3 ..." over every received event.
  std::string events() const {
    std::string out;
    for (const auto& r : got) {
      for (const auto& e : r.events) {
        out += (e.type == watch_event::kind::put ? "PUT " : "DELETE ") + e.kv.key + "@" + std::to_string(e.kv.mod_revision) + " ";
      }
    }
    return out;
  }
};

}  // namespace

TEST_CASE("watch: live events arrive in revision order, one response per write group", "[watch]") {
  fixture f;
  auto w = f.watch(prefix("/a/"));
  f.s->put("/a/1", "x").value();   // 2
  f.s->put("/b/1", "x").value();   // 3: not watched
  f.s->put("/a/1", "y").value();   // 4
  f.s->delete_range("/a/1").value();  // 5
  CHECK(f.got.empty());  // nothing runs inside the writes
  f.run();
  REQUIRE(f.got.size() == 3);
  CHECK(f.events() == "PUT /a/1@2 PUT /a/1@4 DELETE /a/1@5 ");
  CHECK(f.got[0].header.revision == 2);
  CHECK(f.got[0].watch_id == w->id());
  CHECK(f.got[1].events[0].kv == key_value{"/a/1", 2, 4, 2, "y", 0});
  CHECK(f.got[2].events[0].kv == key_value{"/a/1", 0, 5, 0, "", 0});  // a delete: key and mod_revision only
}

TEST_CASE("watch: every event of a txn comes in one response, in op order", "[watch]") {
  fixture f;
  auto w = f.watch(all_keys());
  f.s->put("w2", "x").value();
  f.s->txn().then(op::put("w3", "1"), op::put("w4", "1"), op::del("w2")).commit().value();
  f.run();
  REQUIRE(f.got.size() == 2);
  REQUIRE(f.got[1].events.size() == 3);
  CHECK(f.events() == "PUT w2@2 PUT w3@3 PUT w4@3 DELETE w2@3 ");
}

TEST_CASE("watch: a lease expiry is one response with every key's DELETE at one revision, in key order", "[watch]") {
  fixture f;
  auto l = f.s->grant(5s).value().id;
  for (const char* k : {"exp/c", "exp/a", "exp/b"}) f.s->put(k, "v", {.lease = l}).value();
  auto w = f.watch(prefix("exp/"));
  f.clk->advance(5s);
  f.run();
  REQUIRE(f.got.size() == 1);
  CHECK(f.events() == "DELETE exp/a@5 DELETE exp/b@5 DELETE exp/c@5 ");
}

TEST_CASE("watch: prev_kv and filters", "[watch]") {
  fixture f;
  std::vector<watch_response> puts_only;
  auto w1 = f.watch("k", {.prev_kv = true});
  auto w2 = f.s->watch("k", {.no_delete = true}, f.ioc.get_executor(), [&](const watch_response& r) { puts_only.push_back(r); }).value();
  f.s->put("k", "1").value();
  f.s->put("k", "2").value();
  f.s->delete_range("k").value();
  f.run();
  REQUIRE(f.got.size() == 3);
  CHECK_FALSE(f.got[0].events[0].prev_kv);  // a creation has no previous value
  CHECK(f.got[1].events[0].prev_kv->value == "1");
  CHECK(f.got[2].events[0].prev_kv->value == "2");
  CHECK(puts_only.size() == 2);
}

TEST_CASE("watch: a past start revision replays history, then continues live without gap or duplicate", "[watch]") {
  fixture f;
  for (int i = 0; i < 5; ++i) f.s->put("k" + std::to_string(i), "v").value();  // revisions 2..6
  auto w = f.watch(prefix("k"), {.start_revision = 4});
  f.s->put("k9", "v").value();  // 7: written before the replay ran
  f.run();
  f.s->put("k8", "v").value();  // 8: live
  f.run();
  CHECK(f.events() == "PUT k2@4 PUT k3@5 PUT k4@6 PUT k9@7 PUT k8@8 ");
}

TEST_CASE("watch: below the compacted revision the watcher is cancelled with compact_revision", "[watch]") {
  fixture f;
  for (int i = 0; i < 5; ++i) f.s->put("k", std::to_string(i)).value();  // 2..6
  f.s->compact(5).value();
  auto w = f.watch("k", {.start_revision = 3});
  f.run();
  REQUIRE(f.got.size() == 1);
  CHECK(f.got[0].canceled);
  CHECK(f.got[0].compact_revision == 5);
  CHECK(f.got[0].cancel_reason == errc::compacted);
  f.s->put("k", "later").value();
  f.run();
  CHECK(f.got.size() == 1);
  // At the compacted revision itself history is still there.
  fixture g;
  for (int i = 0; i < 5; ++i) g.s->put("k", std::to_string(i)).value();
  g.s->compact(5).value();
  auto w2 = g.watch("k", {.start_revision = 5});
  g.run();
  CHECK(g.events() == "PUT k@5 PUT k@6 ");
}

TEST_CASE("watch: a future start revision waits for it", "[watch]") {
  fixture f;
  auto w = f.watch("k", {.start_revision = 4});
  f.s->put("k", "a").value();  // 2
  f.s->put("k", "b").value();  // 3
  f.s->put("k", "c").value();  // 4
  f.run();
  CHECK(f.events() == "PUT k@4 ");
}

TEST_CASE("watch: bad ranges and revisions are refused", "[watch]") {
  fixture f;
  CHECK(f.s->watch(key_range("b", "a"), {}, f.ioc.get_executor(), [](const watch_response&) {}).error() ==
        errc::watch_range_empty);
  CHECK(f.s->watch(key_range("b", "a"), {}, f.ioc.get_executor()).error().message() == "mvcc: watcher range is empty");
  CHECK(f.s->watch("k", {.start_revision = -1}, f.ioc.get_executor()).error() == errc::invalid_argument);
}

TEST_CASE("watch: no handler runs after cancel returns, even with responses queued", "[watch]") {
  fixture f;
  auto w = f.watch("k");
  f.s->put("k", "1").value();
  w->cancel();
  f.s->put("k", "2").value();
  f.run();
  CHECK(f.got.empty());
}

TEST_CASE("watch: handlers may write to the store, watch again and cancel themselves", "[watch]") {
  fixture f;
  std::unique_ptr<watcher> self;
  std::unique_ptr<watcher> nested;
  int calls = 0;
  self = f.s->watch("ping", {}, f.ioc.get_executor(), [&](const watch_response&) {
    ++calls;
    f.s->put("pong", std::to_string(calls)).value();
    if (!nested) nested = f.s->watch("pong", {}, f.ioc.get_executor(), [&](const watch_response& r) { f.got.push_back(r); }).value();
    if (calls == 2) self->cancel();
  }).value();
  for (int i = 0; i < 4; ++i) f.s->put("ping", "x").value();
  f.run();
  CHECK(calls == 2);
  f.run();
  CHECK(f.got.size() == 1);  // the second pong, written after the nested watch began
}

TEST_CASE("watch: async_next works with callbacks and completes with operation_aborted on cancel", "[watch]") {
  fixture f;
  auto w = f.s->watch("k", {}, f.ioc.get_executor()).value();
  std::vector<std::string> seen;
  boost::system::error_code last;
  w->async_next([&](boost::system::error_code ec, watch_response r) {
    last = ec;
    if (!ec) seen.push_back(r.events.at(0).kv.value);
  });
  f.run();
  CHECK(seen.empty());  // nothing yet
  f.s->put("k", "1").value();
  f.s->put("k", "2").value();
  f.run();
  CHECK(seen == std::vector<std::string>{"1"});
  w->async_next([&](boost::system::error_code ec, watch_response r) {
    last = ec;
    if (!ec) seen.push_back(r.events.at(0).kv.value);
  });
  f.run();
  CHECK(seen == std::vector<std::string>{"1", "2"});
  w->async_next([&](boost::system::error_code ec, watch_response) { last = ec; });
  w->cancel();
  f.run();
  CHECK(last == boost::asio::error::operation_aborted);
}

TEST_CASE("watch: async_next works with use_future", "[watch]") {
  fixture f;
  auto w = f.s->watch("k", {.start_revision = 1}, f.ioc.get_executor()).value();
  f.s->put("k", "v").value();
  auto work = boost::asio::make_work_guard(f.ioc);
  std::thread runner([&] { f.ioc.run(); });
  auto fut = w->async_next(boost::asio::use_future);
  const watch_response r = fut.get();
  CHECK(r.events.at(0).kv.value == "v");
  w->cancel();
  work.reset();
  runner.join();
}

#if defined(BOOST_ASIO_HAS_CO_AWAIT) && !defined(__clang__)
TEST_CASE("watch: async_next works with use_awaitable", "[watch]") {
  fixture f;
  auto w = f.s->watch("k", {.start_revision = 1}, f.ioc.get_executor()).value();
  f.s->put("k", "1").value();
  f.s->put("k", "2").value();
  std::vector<std::string> seen;
  boost::asio::co_spawn(
      f.ioc,
      [&]() -> boost::asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
          watch_response r = co_await w->async_next(boost::asio::use_awaitable);
          for (const auto& e : r.events) seen.push_back(e.kv.value);
        }
      },
      boost::asio::detached);
  f.run();
  CHECK(seen == std::vector<std::string>{"1", "2"});
}
#endif

TEST_CASE("watch: a slow consumer leaves the live path, then catches up from history with nothing lost", "[watch]") {
  fixture f({.tuning = {.watch_max_pending_events = 10}});
  auto w = f.s->watch(prefix("k"), {}, f.ioc.get_executor()).value();
  for (int i = 0; i < 200; ++i) f.s->put("k" + std::to_string(i % 7), std::to_string(i)).value();  // 2..201
  // Drain one response at a time.
  std::vector<std::int64_t> revs;
  std::function<void()> next = [&] {
    w->async_next([&](boost::system::error_code ec, watch_response r) {
      if (ec) return;
      for (const auto& e : r.events) revs.push_back(e.kv.mod_revision);
      if (revs.size() < 200) next();
    });
  };
  next();
  f.run();
  REQUIRE(revs.size() == 200);
  for (std::size_t i = 0; i < revs.size(); ++i) CHECK(revs[i] == static_cast<std::int64_t>(i) + 2);
}

TEST_CASE("watch: a slow consumer whose history is compacted meanwhile is cancelled", "[watch]") {
  fixture f({.tuning = {.watch_max_pending_events = 5}});
  auto w = f.s->watch(prefix("k"), {}, f.ioc.get_executor()).value();
  for (int i = 0; i < 50; ++i) f.s->put("k", std::to_string(i)).value();
  f.s->compact(f.s->revision()).value();
  std::vector<watch_response> got;
  std::function<void()> next = [&] {
    w->async_next([&](boost::system::error_code ec, watch_response r) {
      if (ec) return;
      got.push_back(r);
      if (!r.canceled) next();
    });
  };
  next();
  f.run();
  REQUIRE_FALSE(got.empty());
  CHECK(got.back().canceled);
  CHECK(got.back().cancel_reason == errc::compacted);
  boost::system::error_code after;
  w->async_next([&](boost::system::error_code ec, watch_response) { after = ec; });
  f.run();
  CHECK(after == errc::watch_canceled);
}

TEST_CASE("watch: progress notifications on request and after an idle interval", "[watch]") {
  fixture f({.watch_progress_interval = 1min});
  auto w = f.watch("k", {.progress_notify = true});
  f.s->put("other", "x").value();
  w->request_progress();
  f.run();
  REQUIRE(f.got.size() == 1);
  CHECK(f.got[0].is_progress_notify());
  CHECK(f.got[0].header.revision == 2);
  f.clk->advance(1min);
  f.run();
  REQUIRE(f.got.size() == 2);
  CHECK(f.got[1].is_progress_notify());
  f.s->put("k", "v").value();  // activity: the next interval sends nothing
  f.clk->advance(1min);
  f.run();
  CHECK(f.got.size() == 3);
  CHECK_FALSE(f.got[2].is_progress_notify());
}

TEST_CASE("watch: closing the store ends pending pulls", "[watch]") {
  fixture f;
  auto w = f.s->watch("k", {}, f.ioc.get_executor()).value();
  boost::system::error_code ec;
  w->async_next([&](boost::system::error_code e, watch_response) { ec = e; });
  f.s->close();
  f.run();
  CHECK(ec == boost::asio::error::operation_aborted);
}

TEST_CASE("watch: keys, nested prefixes, from-key and explicit ranges each see exactly their keys", "[watch]") {
  fixture f;
  std::map<std::string, std::vector<std::string>> seen;
  std::vector<std::unique_ptr<watcher>> ws;
  auto add = [&](const std::string& name, key_range r) {
    ws.push_back(f.s->watch(std::move(r), {}, f.ioc.get_executor(), [&seen, name](const watch_response& resp) {
      for (const auto& e : resp.events) seen[name].push_back(e.kv.key);
    }).value());
  };
  add("key", key_range("a/b"));
  add("prefix a/", prefix("a/"));
  add("prefix a/b", prefix("a/b"));
  add("prefix a/b again", prefix("a/b"));
  add("from b", from_key("b"));
  add("range [a/c, b/x)", key_range("a/c", "b/x"));
  add("all", all_keys());
  for (const char* k : {"a", "a/b", "a/bc", "a/c", "b", "b/y", "c"}) f.s->put(k, "v").value();
  f.run();
  using v = std::vector<std::string>;
  CHECK(seen["key"] == v{"a/b"});
  CHECK(seen["prefix a/"] == v{"a/b", "a/bc", "a/c"});
  CHECK(seen["prefix a/b"] == v{"a/b", "a/bc"});
  CHECK(seen["prefix a/b again"] == v{"a/b", "a/bc"});
  CHECK(seen["from b"] == v{"b", "b/y", "c"});
  CHECK(seen["range [a/c, b/x)"] == v{"a/c", "b"});
  CHECK(seen["all"].size() == 7);
  // Cancelling one of two identical prefix watchers leaves the other.
  ws[3]->cancel();
  seen.clear();
  f.s->put("a/b/z", "v").value();
  f.run();
  CHECK(seen["prefix a/b"] == v{"a/b/z"});
  CHECK(seen.count("prefix a/b again") == 0);
}
