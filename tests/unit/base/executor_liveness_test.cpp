#include <catch2/catch.hpp>

#include "base/executor_liveness.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <optional>

using leasekv::base::context_liveness;

TEST_CASE("executor liveness: one object per context, alive until the context is destroyed", "[base]") {
  std::shared_ptr<context_liveness> a;
  {
    boost::asio::io_context ioc;
    a = context_liveness::of(ioc.get_executor());
    CHECK(a == context_liveness::of(ioc));
    CHECK(a->alive());
    int ran = 0;
    CHECK(a->run_if_alive([&] { boost::asio::post(ioc, [&] { ++ran; }); }));
    ioc.run();
    CHECK(ran == 1);
  }
  CHECK_FALSE(a->alive());
  bool called = false;
  CHECK_FALSE(a->run_if_alive([&] { called = true; }));
  CHECK_FALSE(called);
  auto late = a->on_shutdown([&] { called = true; });  // kept nowhere: the shutdown is over
  CHECK_FALSE(called);
}

TEST_CASE("executor liveness: cleanups run once at shutdown, before the scheduler goes, and can drop counted work", "[base]") {
  auto ioc = std::make_unique<boost::asio::io_context>();
  auto live = context_liveness::of(ioc->get_executor());
  // Work counted on the context, as a pending operation's guard holds it: releasing it after the
  // context is gone would touch freed memory (ASan reports it); the cleanup releases it in time.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work(ioc->get_executor());
  int runs = 0;
  auto reg = live->on_shutdown([&] {
    ++runs;
    CHECK_FALSE(live->alive());
    work.reset();
  });
  int dropped_runs = 0;
  {
    auto dropped = live->on_shutdown([&] { ++dropped_runs; });
  }
  ioc.reset();
  CHECK(runs == 1);
  CHECK(dropped_runs == 0);
  CHECK_FALSE(work.has_value());
  reg.reset();  // after the shutdown: nothing left to undo
}

TEST_CASE("executor liveness: a thread pool's repeated shutdown runs each cleanup once", "[base]") {
  int runs = 0;
  std::shared_ptr<context_liveness> live;
  context_liveness::registration reg;
  {
    boost::asio::thread_pool pool(1);
    live = context_liveness::of(pool.get_executor());
    reg = live->on_shutdown([&] { ++runs; });
    pool.join();
  }
  CHECK(runs == 1);
  CHECK_FALSE(live->alive());
}
