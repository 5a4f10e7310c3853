// The conformance model runs, as functions of the store they run on: the embedded store
// (conformance_tests), and the remote backend against leasekv-server and against real etcd
// (remote_tests). Each opens a fresh store (at revision 1) per seed through `open`.
#pragma once

#include <leasekv/leasekv.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>

namespace leasekv::testing {

// A store for one model run, and what serves it (a server, a process), kept alive with it. `clk` is the
// manual clock leases run on, or null (real time: no lease model then).
struct opened_store {
  std::shared_ptr<manual_clock> clk;
  std::shared_ptr<void> keep;   // destroyed after `s`
  std::unique_ptr<store> s;
};
using store_opener = std::function<opened_store(options)>;

struct kv_model_run {
  std::initializer_list<std::uint32_t> seeds;
  int ops_per_seed = 10000;
  int min_compactions = 100;  // the run exercised what it claims to
  int min_errors = 1000;
  bool ignore_in_txn = true;  // false on etcd 3.4, which panics on some such txns (kv_model.cpp)
};
void run_kv_model(const store_opener& open, const kv_model_run& run);

struct lease_model_run {
  std::initializer_list<std::uint32_t> seeds;
  int ops_per_seed = 5000;
  // TTLs in whole seconds, and time_to_live compared in whole seconds: etcd's wire has no milliseconds.
  bool whole_seconds = false;
  int min_expiries = 100;
  int min_renewals = 100;
};
void run_lease_model(const store_opener& open, const lease_model_run& run);

// Random puts, deletes and compactions while watchers of random ranges, start revisions and options
// come and go; every watcher must receive exactly the events the writes made in its range from its start
// revision on (or be cancelled with compact_revision when it starts below the compacted revision).
struct watch_model_run {
  std::initializer_list<std::uint32_t> seeds;
  int ops_per_seed = 400;
};
void run_watch_model(const store_opener& open, const watch_model_run& run);

}  // namespace leasekv::testing
