// The conformance model runs (tests/conformance/model_runs.hpp) on the remote backend: against
// leasekv-server in this process (leases on its manual clock), and against a real etcd 3.4 process on
// loopback (no lease model there: leases run on etcd's real clock; remote_test.cpp has a few real-time
// lease cases). Fewer operations than in-process: each is a round trip, and each seed a fresh server.
#include "remote/backends.hpp"

#include <catch2/catch.hpp>

using namespace leasekv;
using namespace leasekv::testing;

TEST_CASE("remote conformance: random kv operations on leasekv-server answer exactly as the reference model",
          "[remote][conformance]") {
  run_kv_model(open_on_leasekv_server, {.seeds = {1, 2}, .ops_per_seed = 3000, .min_compactions = 20, .min_errors = 300});
}

TEST_CASE("remote conformance: random lease operations on leasekv-server answer exactly as the reference model",
          "[remote][conformance][lease]") {
  run_lease_model(open_on_leasekv_server, {.seeds = {1, 2}, .ops_per_seed = 3000, .whole_seconds = true,
                                           .min_expiries = 20, .min_renewals = 20});
}

TEST_CASE("remote conformance: watchers on leasekv-server receive exactly the writes' events", "[remote][conformance][watch]") {
  run_watch_model(open_on_leasekv_server, {.seeds = {1, 2, 3}});
}

TEST_CASE("remote conformance: random kv operations on etcd 3.4 answer exactly as the reference model",
          "[remote][conformance][etcd]") {
  run_kv_model(open_on_etcd, {.seeds = {1, 2}, .ops_per_seed = 1500, .min_compactions = 10, .min_errors = 150,
                              .ignore_in_txn = false});
}

TEST_CASE("remote conformance: watchers on etcd 3.4 receive exactly the writes' events", "[remote][conformance][watch][etcd]") {
  run_watch_model(open_on_etcd, {.seeds = {1, 2}});
}
