// The remote backend's robustness: errors as in-process, the helpers over it, watch resumption and
// keep-alive re-establishment across server restarts, retries and failover, and close() against a
// stopped server. leasekv-server runs in this process; etcd 3.4 as a real process on loopback.
#include "remote/backends.hpp"

#include <catch2/catch.hpp>
#include <leasekv/session.hpp>

#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace leasekv;
using namespace leasekv::testing;
using namespace std::chrono_literals;

namespace {

// Waits up to `limit` for `done()`.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Collects a watcher's events as "PUT k@rev " text.
struct collector {
  std::mutex mu;
  std::string events;
  std::vector<watch_response> responses;
  watch_handler handler() {
    return [this](const watch_response& r) {
      std::lock_guard lock(mu);
      responses.push_back(r);
      for (const auto& e : r.events) {
        events += (e.type == watch_event::kind::put ? "PUT " : "DELETE ") + e.kv.key + "@" + std::to_string(e.kv.mod_revision) + " ";
      }
    };
  }
  std::string text() {
    std::lock_guard lock(mu);
    return events;
  }
};

std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("leasekv-remote-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// leasekv-server on a data dir at a unix socket that stays the same across restarts, on a manual clock,
// and the remote backend connected to it.
struct restartable {
  std::string dir;
  std::string sock;
  std::shared_ptr<manual_clock> clk = std::make_shared<manual_clock>();
  served_store served;
  std::unique_ptr<store> s;

  explicit restartable(const std::string& name) : dir(temp_dir(name)), sock("unix:" + dir + "/grpc.sock") {
    served = serve({.clock = clk, .data_dir = dir + "/data"}, sock);
    s = connect_to(served.endpoint);
  }
  ~restartable() {
    s.reset();
    served = {};
    std::filesystem::remove_all(dir);
  }
  // Stops the server and closes its store, releasing the data dir.
  void down() {
    served.srv->shutdown();
    served.srv.reset();
    served.backend->close();
    served.backend.reset();
  }
  // The store on the data dir, without a server: writes the client does not see as they happen.
  std::unique_ptr<store> open_directly() { return store::open({.clock = clk, .data_dir = dir + "/data"}).value(); }
  void up() { served = serve({.clock = clk, .data_dir = dir + "/data"}, sock); }
};

}  // namespace

TEST_CASE("remote: errors have the in-process codes, with the server's message as detail", "[remote]") {
  auto served = serve({});
  auto s = connect_to(served.endpoint);
  auto local = store::open({}).value();
  auto p = s->put("", "v");
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::key_not_provided);
  CHECK(p.error().detail() == "etcdserver: key is not provided");
  CHECK(s->get("k", {.revision = 100}).error() == errc::future_revision);
  CHECK(s->revoke(1234).error() == errc::lease_not_found);
  CHECK(s->keep_alive_once(1234).error() == errc::lease_not_found);
  CHECK(s->txn(txn_request{{}, {request_op{request_op::kind::txn}}, {}}).error() == errc::key_not_found);
  CHECK(s->grant(1s, 7).has_value());
  CHECK(s->grant(1s, 7).error() == errc::lease_exists);
  CHECK(s->watch(key_range("b", "a"), {}, {}).error() == errc::watch_range_empty);
  // The same answers as in-process; the header names the server's member and cluster.
  CHECK(s->put("k", "v").value().header.revision == local->put("k", "v").value().header.revision);
  const auto got = s->get("k").value();
  CHECK(got.kvs == local->get("k").value().kvs);
  CHECK(got.header.member_id == served.srv->identity().member_id);
  CHECK(got.header.cluster_id == served.srv->identity().cluster_id);
  CHECK(s->revision() == 2);
  CHECK(s->compacted_revision() == -1);
  s->put("k", "w").value();
  s->put("k", "x").value();
  s->compact(3).value();
  CHECK(s->compacted_revision() == 3);
  CHECK(s->get("k", {.revision = 2}).error() == errc::compacted);
  CHECK(s->statistics().keys == 1);
  CHECK(s->statistics().leases == 1);
  CHECK(s->refresh().value() == 4);
  s->close();
  CHECK(s->get("k").error() == errc::closed);
}

TEST_CASE("remote: txn_builder and session work unchanged through the remote backend", "[remote]") {
  auto served = serve({});
  auto s = connect_to(served.endpoint);
  auto t = s->txn().when(compare::version("k") == 0).then(op::put("k", "1")).otherwise(op::get("k")).commit().value();
  CHECK(t.succeeded);
  t = s->txn().when(compare::version("k") == 0).then(op::put("k", "2")).otherwise(op::get("k")).commit().value();
  CHECK_FALSE(t.succeeded);
  CHECK(t.responses.at(0).range.kvs.at(0).value == "1");
  {
    auto sess = session::open(*s, {.ttl = 10s}).value();
    sess->put("/svc/a", "up").value();
    CHECK(served.backend->get("/svc/a").value().kvs.at(0).lease == sess->lease());
    sess->close().value();
  }
  CHECK(served.backend->get("/svc/a").value().kvs.empty());
  auto builder = s->txn();
  s.reset();
  CHECK(builder.then(op::put("x", "y")).commit().error() == errc::closed);
}

TEST_CASE("remote: a watcher resumes after leasekv-server restarts on its data dir, with no gap and no duplicate",
          "[remote][watch]") {
  restartable r("resume");
  auto& s = r.s;
  boost::asio::thread_pool pool(1);
  collector all;
  collector from3;
  auto w1 = s->watch(prefix("k"), {}, pool.get_executor(), all.handler()).value();
  auto w2 = s->watch(prefix("k"), {.start_revision = 3}, pool.get_executor(), from3.handler()).value();
  for (int i = 2; i <= 4; ++i) s->put("k" + std::to_string(i), "v").value();
  REQUIRE(eventually([&] { return all.text() == "PUT k2@2 PUT k3@3 PUT k4@4 "; }));
  REQUIRE(eventually([&] { return from3.text() == "PUT k3@3 PUT k4@4 "; }));

  // Down: the store moves on without the client seeing it, then serves again at the same address.
  r.down();
  {
    auto direct = r.open_directly();
    direct->put("k5", "v").value();
    direct->put("other", "v").value();
    direct->put("k7", "v").value();
  }
  r.up();
  REQUIRE(eventually([&] { return s->get("k8").has_value(); }));  // back (a write is not repeated: it may have applied)
  s->put("k8", "v").value();
  const std::string want = "PUT k2@2 PUT k3@3 PUT k4@4 PUT k5@5 PUT k7@7 PUT k8@8 ";
  REQUIRE(eventually([&] { return all.text() == want; }));
  REQUIRE(eventually([&] { return from3.text() == "PUT k3@3 PUT k4@4 PUT k5@5 PUT k7@7 PUT k8@8 "; }));
  std::this_thread::sleep_for(100ms);
  CHECK(all.text() == want);  // nothing more came: no duplicate
  w1.reset();
  w2.reset();
}

TEST_CASE("remote: a watcher whose resume point was compacted meanwhile is cancelled with compact_revision",
          "[remote][watch]") {
  restartable r("compacted");
  auto& s = r.s;
  boost::asio::thread_pool pool(1);
  collector c;
  auto w = s->watch("k", {}, pool.get_executor(), c.handler()).value();
  s->put("k", "1").value();  // 2
  REQUIRE(eventually([&] { return c.text() == "PUT k@2 "; }));
  r.down();
  {
    auto direct = r.open_directly();
    direct->put("k", "2").value();  // 3: the watcher's resume point, compacted below
    direct->put("k", "3").value();  // 4
    direct->compact(4).value();
  }
  r.up();
  REQUIRE(eventually([&] {
    std::lock_guard lock(c.mu);
    return !c.responses.empty() && c.responses.back().canceled;
  }));
  std::lock_guard lock(c.mu);
  CHECK(c.responses.back().compact_revision == 4);
  CHECK(c.responses.back().cancel_reason == errc::compacted);
  CHECK(c.events == "PUT k@2 ");
}

TEST_CASE("remote: the keep-alive stream comes back after a server restart, and the lease is lost only when its TTL ran out",
          "[remote][lease]") {
  restartable r("keepalive");
  auto& s = r.s;
  auto& served = r.served;
  boost::asio::thread_pool pool(1);
  // A TTL well above the 1.5 s the server is away: under load its shutdown and restart take seconds
  // more, and the client rightly reports the lease lost once its TTL has run out without a renewal.
  const lease_id id = s->grant(9s).value().id;
  std::atomic<int> renewals{0};
  std::atomic<int> lost{0};
  auto ka = s->start_keep_alive(id, pool.get_executor(), [&](boost::system::error_code ec, const lease_keep_alive_response& resp) {
              if (ec == errc::lease_not_found) {
                ++lost;
              } else if (!ec && resp.id == id && resp.ttl == 9) {
                ++renewals;
              }
            }).value();
  REQUIRE(eventually([&] { return renewals >= 2; }));  // the first at once, the next 3 s later

  served.srv->shutdown();
  served.srv.reset();
  std::this_thread::sleep_for(1500ms);  // renewals fail meanwhile: not lost, its TTL has not run out
  CHECK(lost == 0);
  served.srv = server::start(served.backend, {.listen = {r.sock}}).value();
  const int before = renewals;
  REQUIRE(eventually([&] { return renewals >= before + 2; }));
  CHECK(lost == 0);

  // Gone on the server: reported at the next renewal, once.
  served.backend->revoke(id).value();
  REQUIRE(eventually([&] { return lost == 1; }));
  std::this_thread::sleep_for(1500ms);
  CHECK(lost == 1);

  // Out of reach for longer than its TTL: lost.
  const lease_id id2 = s->grant(3s).value().id;
  std::atomic<int> lost2{0};
  auto ka2 = s->start_keep_alive(id2, pool.get_executor(), [&](boost::system::error_code ec, const lease_keep_alive_response&) {
               if (ec == errc::lease_not_found) ++lost2;
             }).value();
  served.srv->shutdown();
  const auto down = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return lost2 == 1; }, 10s));
  CHECK(std::chrono::steady_clock::now() - down >= 1s);  // not before its TTL since the last renewal ran out
  ka.reset();
  ka2.reset();
}

TEST_CASE("remote: reads are retried within their deadline while the server restarts, and writes are not", "[remote]") {
  const std::string dir = temp_dir("retry");
  const std::string sock = "unix:" + dir + "/grpc.sock";
  auto served = serve({}, sock);
  auto s = connect_to(served.endpoint);
  s->put("k", "v").value();
  served.srv->shutdown();
  served.srv.reset();
  auto put = s->put("k", "w");
  REQUIRE_FALSE(put);
  CHECK(put.error() == boost::system::errc::resource_unavailable_try_again);
  auto restart = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(300ms);
    served.srv = server::start(served.backend, {.listen = {sock}}).value();
  });
  auto got = s->get("k");  // retried until the server is back
  restart.get();
  REQUIRE(got);
  CHECK(got.value().kvs.at(0).value == "v");
  s.reset();
  std::filesystem::remove_all(dir);
}

TEST_CASE("remote: calls fail over to the next endpoint", "[remote]") {
  auto served = serve({});
  remote_options o;
  o.endpoints = {"http://127.0.0.1:" + std::to_string(free_port()), served.endpoint};
  auto s = connect(o).value();
  s->put("k", "v").value();
  CHECK(s->get("k").value().kvs.size() == 1);
  boost::asio::thread_pool pool(1);
  collector c;
  auto w = s->watch("k", {}, pool.get_executor(), c.handler()).value();
  s->put("k", "w").value();
  CHECK(eventually([&] { return c.text() == "PUT k@3 "; }));
  remote_options none;
  none.endpoints = {"http://127.0.0.1:" + std::to_string(free_port())};
  none.dial_timeout = 300ms;
  CHECK(connect(none).error() == boost::system::errc::timed_out);
  none.endpoints = {"ftp://x"};
  CHECK(connect(none).error() == errc::invalid_argument);
}

TEST_CASE("remote on etcd: leases on etcd's clock: kept alive past their TTL, then expiring", "[remote][lease][etcd]") {
  auto etcd = etcd_process::start();
  auto s = connect_to(etcd->endpoint());
  auto g = s->grant(2s).value();
  CHECK(g.ttl >= 2);
  s->put("held", "v", {.lease = g.id}).value();
  boost::asio::thread_pool pool(1);
  std::atomic<int> renewals{0};
  auto ka = s->start_keep_alive(g.id, pool.get_executor(), [&](boost::system::error_code ec, const lease_keep_alive_response&) {
              if (!ec) ++renewals;
            }).value();
  std::this_thread::sleep_for(std::chrono::seconds(g.ttl + 2));
  CHECK(renewals >= 2);
  CHECK(s->get("held").value().kvs.size() == 1);
  auto ttl = s->time_to_live(g.id, {.keys = true}).value();
  CHECK(ttl.ttl > 0);
  CHECK(ttl.keys == std::vector<std::string>{"held"});
  ka->cancel();
  CHECK(eventually([&] { return s->get("held").value().kvs.empty(); }, std::chrono::seconds(g.ttl + 10)));
  CHECK(s->time_to_live(g.id).value().ttl == -1);
  CHECK(s->keep_alive_once(g.id).error() == errc::lease_not_found);
}

TEST_CASE("remote on etcd: a watcher resumes after etcd restarts, with no gap and no duplicate", "[remote][watch][etcd]") {
  auto etcd = etcd_process::start();
  auto s = connect_to(etcd->endpoint());
  boost::asio::thread_pool pool(1);
  collector c;
  auto w = s->watch(prefix("k"), {}, pool.get_executor(), c.handler()).value();
  s->put("k2", "v").value();
  REQUIRE(eventually([&] { return c.text() == "PUT k2@2 "; }));
  etcd->restart();
  REQUIRE(eventually([&] { return s->get("k3").has_value(); }));  // back (a write is not repeated: it may have applied)
  s->put("k3", "v").value();
  REQUIRE(eventually([&] { return c.text() == "PUT k2@2 PUT k3@3 "; }));
}

TEST_CASE("remote on etcd: close() and destroying watchers return promptly while etcd is stopped (SIGSTOP)",
          "[remote][etcd]") {
  auto etcd = etcd_process::start();
  auto s = connect_to(etcd->endpoint());
  boost::asio::thread_pool pool(1);
  collector c;
  auto w = s->watch("k", {}, pool.get_executor(), c.handler()).value();
  auto w2 = s->watch("j", {}, pool.get_executor(), c.handler()).value();
  const lease_id id = s->grant(10s).value().id;
  auto ka = s->start_keep_alive(id, pool.get_executor(), [](boost::system::error_code, const lease_keep_alive_response&) {}).value();
  etcd->signal(SIGSTOP);
  const auto start = std::chrono::steady_clock::now();
  w2.reset();
  s->close();
  w.reset();
  ka.reset();
  s.reset();
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  etcd->signal(SIGCONT);
}

TEST_CASE("remote: pull mode, progress requests and snapshots work as in-process", "[remote][watch]") {
  auto served = serve({});
  auto s = connect_to(served.endpoint);
  boost::asio::thread_pool pool(1);
  auto w = s->watch("k", {}, pool.get_executor()).value();
  auto next = w->async_next(boost::asio::use_future);
  s->put("k", "v").value();
  REQUIRE(next.wait_for(10s) == std::future_status::ready);
  auto r = next.get();
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kv.value == "v");
  CHECK(r.watch_id == w->id());
  // A progress request is answered with the current revision.
  s->put("other", "x").value();
  w->request_progress();
  auto progress = w->async_next(boost::asio::use_future);
  REQUIRE(progress.wait_for(10s) == std::future_status::ready);
  auto p = progress.get();
  CHECK(p.is_progress_notify());
  CHECK(p.header.revision == 3);
  // cancel() ends a pending pull.
  auto pending = w->async_next(boost::asio::use_future);
  w->cancel();
  REQUIRE(pending.wait_for(10s) == std::future_status::ready);
  CHECK_THROWS(pending.get());
  // The server's snapshot, written whole.
  const std::string dir = temp_dir("snapshot");
  s->save_snapshot(dir + "/snap.db").value();
  CHECK(std::filesystem::file_size(dir + "/snap.db") > 0);
  CHECK_FALSE(std::filesystem::exists(dir + "/snap.db.part"));
  std::filesystem::remove_all(dir);
}
