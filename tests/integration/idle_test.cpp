// A store with nothing it can do keeps its timer quiet. A read-only store holding a lease whose deadline
// has passed cannot revoke it (the writer does), and its expiry timer used to re-arm at that same instant
// for ever: a core spent spinning (2 s of CPU in 2 s). The timer runs on an io_context this test owns, so
// the test counts the handlers it ran in a tenth of a second: the real clock is the thing under test.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "store/expiry_driver.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include <unistd.h>

using namespace leasekv;
using namespace std::chrono_literals;

TEST_CASE("idle: a read-only store with an overdue lease does not spin its timer", "[idle][concurrency]") {
  const auto dir = std::filesystem::temp_directory_path() / ("leasekv-idle-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    // The manual clock's wall time starts on 2026-01-01: a 10 s lease granted then is long overdue now.
    options w;
    w.data_dir = dir.string();
    w.clock = std::make_shared<manual_clock>();
    auto writer = store::open(w).value();
    const auto l = writer->grant(10s).value().id;
    writer->put("/tmp/pid", "2187", {.lease = l}).value();
  }
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  options r;
  r.data_dir = dir.string();
  r.read_only = true;
  r.executor = ioc.get_executor();
  auto reader = store::open(r).value();
  CHECK(reader->get("/tmp/pid").value().kvs.size() == 1);  // the writer revokes it, not the reader
  const std::size_t handlers = ioc.run_for(100ms);
  CHECK(handlers < 20);
  CHECK(reader->leases().value().leases.size() == 1);
  reader.reset();
  work.reset();
  ioc.run();
  std::filesystem::remove_all(dir);
}

TEST_CASE("idle: an event the expiry driver's processing leaves due is retried 10 ms later, not at once", "[idle][concurrency]") {
  // E.g. a writer whose disk failed cannot record a revoke, so the lease stays due.
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  const leasekv::clock& real = *leasekv::clock::system();
  const auto stuck = real.now() - 1ms;
  int calls = 0;
  detail::expiry_driver driver(
      ioc.get_executor(), [&](leasekv::clock::time_point) { ++calls; }, [&] { return std::optional(stuck); }, real);
  ioc.run_for(100ms);
  CHECK(calls >= 1);
  CHECK(calls <= 12);  // every 10 ms at most: 10 in the window, give or take the edges
  driver.stop();
  work.reset();
  ioc.run();
}
