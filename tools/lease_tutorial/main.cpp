// The lease tutorial's steps, done with the leasekv library: grant a lease, put /tmp/pid = 2187 on it,
// read it back, show its time-to-live and attached keys, then watch it expire.
//
//   lease_tutorial [--ttl SECONDS] [--manual-clock]
//
// By default the store runs on the real clock and the program waits for the lease to expire (the store's
// timer deletes the key); --manual-clock advances a manual clock instead and finishes at once.
#include <leasekv/leasekv.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

using namespace std::chrono_literals;

int main(int argc, char** argv) try {
  long ttl_seconds = 5;
  bool manual = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
      ttl_seconds = std::strtol(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--manual-clock") == 0) {
      manual = true;
    } else {
      fmt::print(stderr, "usage: lease_tutorial [--ttl SECONDS] [--manual-clock]\n");
      return 2;
    }
  }
  auto manual_clock = std::make_shared<leasekv::manual_clock>();
  leasekv::options opts;
  if (manual) opts.clock = manual_clock;
  auto store = leasekv::store::open(opts).value();
  fmt::print("opened an in-memory store at revision {} ({} clock)\n", store->revision(), manual ? "manual" : "real");

  auto lease = store->grant(std::chrono::seconds(ttl_seconds)).value();
  fmt::print("lease {:016x} granted with TTL({}s)\n", lease.id, lease.ttl);

  auto put = store->put("/tmp/pid", "2187", {.lease = lease.id}).value();
  fmt::print("put /tmp/pid = 2187 on the lease at revision {}\n", put.header.revision);

  auto got = store->get("/tmp/pid").value();
  for (const auto& kv : got.kvs) {
    fmt::print("get /tmp/pid -> {} (create_revision {}, mod_revision {}, version {}, lease {:016x})\n", kv.value,
               kv.create_revision, kv.mod_revision, kv.version, kv.lease);
  }

  auto ttl = store->time_to_live(lease.id, {.keys = true}).value();
  std::string keys;
  for (const auto& k : ttl.keys) keys += (keys.empty() ? "" : " ") + k;
  fmt::print("lease {:016x} granted with TTL({}s), remaining({}s), attached keys([{}])\n", lease.id, ttl.granted_ttl,
             ttl.ttl, keys);
  fmt::print("leases: {}\n", store->leases().value().leases.size());

  // Wait (or advance) until the lease has expired and its key is gone.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(ttl_seconds) + 5s;
  std::int64_t shown = ttl.ttl;
  while (!store->get("/tmp/pid").value().kvs.empty()) {
    if (manual) {
      manual_clock->advance(1s);
    } else {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the lease did not expire in time");
      std::this_thread::sleep_for(100ms);
    }
    auto left = store->time_to_live(lease.id).value();
    if (left.ttl >= 0 && left.ttl != shown) fmt::print("  remaining({}s)\n", shown = left.ttl);
  }
  fmt::print("lease {:016x} expired: /tmp/pid is gone (get returns {} keys), store revision {}\n", lease.id,
             store->get("/tmp/pid").value().count, store->revision());
  fmt::print("time-to-live now says remaining {} (unknown lease), leases: {}\n", store->time_to_live(lease.id).value().ttl,
             store->leases().value().leases.size());
  return EXIT_SUCCESS;
} catch (const std::exception& e) {
  fmt::print(stderr, "lease_tutorial: {}\n", e.what());
  return EXIT_FAILURE;
}
