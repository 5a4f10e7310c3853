// What the recipes' tests share: an in-memory store on the manual clock, sessions on it, and an
// io_context the test drives (the async steps run there, so each test decides when they happen).
#pragma once

#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace recipe_test {

using namespace std::chrono_literals;

struct fixture {
  std::shared_ptr<leasekv::manual_clock> clk = std::make_shared<leasekv::manual_clock>();
  std::unique_ptr<leasekv::store> s = leasekv::store::open({.clock = clk}).value();
  boost::asio::io_context ioc;

  std::unique_ptr<leasekv::session> session(std::chrono::milliseconds ttl = 10s,
                                            boost::asio::any_io_executor ex = {}) {
    return leasekv::session::open(*s, {.ttl = ttl, .executor = std::move(ex)}).value();
  }

  // Runs the io_context's handlers until `done` holds. Waits for handlers posted from other threads, but
  // fails (rather than hangs) if none comes for 10 s: the recipe is stuck.
  void drive(const std::function<bool()>& done) {
    while (!done()) {
      ioc.restart();
      if (ioc.run_one_for(10s) == 0 && !done()) FAIL("nothing more happened");
    }
  }
  // Runs every handler that is ready now, and those they post.
  void settle() {
    ioc.restart();
    ioc.poll();
  }

  std::int64_t count(const std::string& prefix) {
    return s->range(leasekv::prefix(prefix), {.count_only = true}).value().count;
  }
};

// A completion that records its error code.
struct outcome {
  std::optional<boost::system::error_code> ec;
  bool done() const { return ec.has_value(); }
  auto handler() {
    return [this](boost::system::error_code e) { ec = e; };
  }
};

}  // namespace recipe_test
