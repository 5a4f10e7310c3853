// The kv, lease and watch model runs (model_runs.hpp) on the embedded store. tests/remote runs them on
// the remote backend against leasekv-server and against real etcd.
#include "conformance/model_runs.hpp"

#include <catch2/catch.hpp>

using namespace leasekv;
using namespace leasekv::testing;

namespace {

opened_store open_embedded(options o) {
  opened_store out;
  out.clk = std::make_shared<manual_clock>();
  o.clock = out.clk;
  out.s = store::open(std::move(o)).value();
  return out;
}

}  // namespace

TEST_CASE("conformance: 100,000 random kv operations answer exactly as the reference model", "[conformance]") {
  run_kv_model(open_embedded, {.seeds = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}});
}

TEST_CASE("conformance: 50,000 random lease operations answer exactly as the reference model", "[conformance][lease]") {
  run_lease_model(open_embedded, {.seeds = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}});
}

TEST_CASE("conformance: watchers of random ranges and start revisions receive exactly the writes' events",
          "[conformance][watch]") {
  run_watch_model(open_embedded, {.seeds = {1, 2, 3, 4, 5}});
}
