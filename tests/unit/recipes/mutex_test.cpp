// leasekv::mutex against the embedded store on the manual clock: clientv3's layout and wait order,
// hand-off on expiry, cancellation, deadlines, try_lock, and a waiter whose session ends.
#include "recipe_fixture.hpp"

#include <boost/asio/post.hpp>

#include <cstdio>
#include <vector>

using namespace leasekv;
using namespace recipe_test;

namespace {

std::string hex(lease_id id) {
  char b[24];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(id));
  return b;
}

}  // namespace

TEST_CASE("mutex: an uncontended lock takes clientv3's key at once and fences writes while held", "[recipes]") {
  fixture f;
  auto s = f.session();
  mutex m(*s, "/locks/a", f.ioc.get_executor());
  CHECK(m.key() == std::string(1, '\0'));
  outcome got;
  m.async_lock(got.handler());
  CHECK_FALSE(got.done());  // never inside the initiating call
  f.drive([&] { return got.done(); });
  REQUIRE_FALSE(*got.ec);
  CHECK(m.key() == "/locks/a/" + hex(s->lease()));
  const auto kv = f.s->get(m.key()).value().kvs.at(0);
  CHECK(kv.lease == s->lease());
  CHECK(kv.value.empty());
  CHECK(m.header().revision == kv.create_revision);

  auto fenced = f.s->txn().when(m.is_owner()).then(op::put("/report", "mine")).commit().value();
  CHECK(fenced.succeeded);
  // Locking again on the same session reuses the key: still held, no new revision.
  const auto rev = f.s->revision();
  REQUIRE(m.lock());
  CHECK(f.s->revision() == rev);

  REQUIRE(m.unlock());
  CHECK(f.count("/locks/a/") == 0);
  CHECK(m.key() == std::string(1, '\0'));
  CHECK_FALSE(f.s->txn().when(m.is_owner()).then(op::put("/report", "late")).commit().value().succeeded);
}

TEST_CASE("mutex: the holder's lease expiring hands the lock to the waiter", "[recipes]") {
  fixture f;
  // The holder's keep-alive runs on a context that dies with it, as a crashed process's would.
  auto holder_ctx = std::make_unique<boost::asio::io_context>();
  auto s1 = f.session(10s, holder_ctx->get_executor());
  auto s2 = f.session(10s);
  mutex m1(*s1, "/l");
  REQUIRE(m1.lock());
  mutex m2(*s2, "/l", f.ioc.get_executor());
  outcome got;
  m2.async_lock(got.handler());
  f.drive([&] { return f.count("/l/") == 2; });
  f.settle();
  f.clk->advance(9s);  // both renewed so far
  f.settle();
  CHECK_FALSE(got.done());

  holder_ctx.reset();   // the holder stops renewing
  f.clk->advance(25s);  // its lease expires here (a renewal already due may run once more); s2's is renewed
  f.drive([&] { return got.done(); });
  REQUIRE_FALSE(*got.ec);
  CHECK(f.count("/l/") == 1);
  CHECK(m2.key() == "/l/" + hex(s2->lease()));
  CHECK(f.s->txn().when(m2.is_owner()).commit().value().succeeded);
}

TEST_CASE("mutex: a waiter cancelled in the middle removes its key, and the one behind it waits on", "[recipes]") {
  fixture f;
  auto sa = f.session(), sb = f.session(), sc = f.session();
  mutex a(*sa, "/l"), b(*sb, "/l", f.ioc.get_executor()), c(*sc, "/l", f.ioc.get_executor());
  REQUIRE(a.lock());
  outcome gb, gc;
  b.async_lock(gb.handler());
  f.drive([&] { return f.count("/l/") == 2; });
  c.async_lock(gc.handler());
  f.drive([&] { return f.count("/l/") == 3; });
  f.settle();

  b.cancel();
  f.drive([&] { return gb.done(); });
  CHECK(*gb.ec == boost::asio::error::operation_aborted);
  CHECK(f.s->get("/l/" + hex(sb->lease())).value().kvs.empty());
  f.settle();
  CHECK_FALSE(gc.done());  // b's key going did not hand c the lock: a still holds it

  REQUIRE(a.unlock());
  f.drive([&] { return gc.done(); });
  CHECK_FALSE(*gc.ec);
  CHECK(f.count("/l/") == 1);
}

TEST_CASE("mutex: 50 contenders each acquire exactly once, in create-revision order", "[recipes]") {
  fixture f;
  constexpr int n = 50;
  std::vector<std::unique_ptr<session>> sessions;
  std::vector<std::unique_ptr<mutex>> mutexes;
  std::vector<std::int64_t> acquired;  // the create revision of each holder's key, in acquisition order
  int holders = 0;
  int max_holders = 0;
  for (int i = 0; i < n; ++i) {
    sessions.push_back(f.session());
    mutexes.push_back(std::make_unique<mutex>(*sessions.back(), "/crowd", f.ioc.get_executor()));
  }
  for (int i = 0; i < n; ++i) {
    mutex& m = *mutexes[static_cast<std::size_t>(i)];
    m.async_lock([&, &m = m](boost::system::error_code ec) {
      REQUIRE_FALSE(ec);
      ++holders;
      max_holders = std::max(max_holders, holders);
      acquired.push_back(f.s->get(m.key()).value().kvs.at(0).create_revision);
      // Hand the lock on from a later handler, so that holders could overlap if the lock let them.
      boost::asio::post(f.ioc, [&] {
        --holders;
        REQUIRE(m.unlock());
      });
    });
  }
  f.drive([&] { return acquired.size() == n && holders == 0; });
  CHECK(max_holders == 1);
  for (std::size_t i = 1; i < acquired.size(); ++i) CHECK(acquired[i - 1] < acquired[i]);
  CHECK(f.count("/crowd/") == 0);
}

TEST_CASE("mutex: try_lock on a held lock fails with mutex_locked and queues nothing", "[recipes]") {
  fixture f;
  auto s1 = f.session(), s2 = f.session();
  mutex m1(*s1, "/t"), m2(*s2, "/t");
  REQUIRE(m2.try_lock());  // free: taken
  auto r = m1.try_lock();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::mutex_locked);
  CHECK(r.error().message() == "mutex: Locked by another session");
  CHECK(f.count("/t/") == 1);
  REQUIRE(m2.unlock());
  REQUIRE(m1.try_lock());
  CHECK(m1.key() == "/t/" + hex(s1->lease()));
}

TEST_CASE("mutex: a waiter whose session ends stops with session_expired and leaves no key", "[recipes]") {
  fixture f;
  auto holder = f.session();
  auto waiter_ctx = std::make_unique<boost::asio::io_context>();
  auto waiter = f.session(5s, waiter_ctx->get_executor());
  mutex h(*holder, "/w");
  REQUIRE(h.lock());
  mutex w(*waiter, "/w", f.ioc.get_executor());
  outcome got;
  w.async_lock(got.handler());
  f.drive([&] { return f.count("/w/") == 2; });
  waiter_ctx.reset();  // the waiter's session stops renewing
  f.clk->advance(12s);  // (a renewal already due may still run once: two TTLs are past any deadline)
  f.drive([&] { return got.done(); });
  CHECK(*got.ec == errc::session_expired);
  CHECK(f.count("/w/") == 1);
  CHECK(f.s->txn().when(h.is_owner()).commit().value().succeeded);

  // A session already gone: the lock fails at once with the lease's error.
  auto r = w.lock();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::lease_not_found);
  CHECK(f.count("/w/") == 1);
}

TEST_CASE("mutex: a lock past its deadline fails with timed_out and removes its key", "[recipes]") {
  fixture f;
  auto s1 = f.session(), s2 = f.session();
  mutex m1(*s1, "/d"), m2(*s2, "/d", f.ioc.get_executor());
  REQUIRE(m1.lock());
  outcome got;
  m2.async_lock_until(std::chrono::steady_clock::now(), got.handler());
  f.drive([&] { return got.done(); });
  CHECK(*got.ec == boost::asio::error::timed_out);
  CHECK(f.count("/d/") == 1);
  // The blocking form too (it runs on the system executor, not on the mutex's).
  auto r = m2.lock_for(0s);
  REQUIRE_FALSE(r);
  CHECK(r.error() == boost::asio::error::timed_out);
  CHECK(f.count("/d/") == 1);
}
