// The lease tutorial's steps, done with the leasekv library: put /tmp/pid = 2187, read it back, and show
// the revisions as etcd would.
#include <leasekv/leasekv.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <exception>

int main() try {
  auto store = leasekv::store::open({}).value();
  fmt::print("opened an in-memory store at revision {}\n", store->revision());

  auto put = store->put("/tmp/pid", "2187").value();
  fmt::print("put /tmp/pid = 2187 at revision {}\n", put.header.revision);

  auto got = store->get("/tmp/pid").value();
  for (const auto& kv : got.kvs) {
    fmt::print("get /tmp/pid -> {} (create_revision {}, mod_revision {}, version {}, lease {})\n", kv.value,
               kv.create_revision, kv.mod_revision, kv.version, kv.lease);
  }
  fmt::print("store revision {}\n", got.header.revision);
  return EXIT_SUCCESS;
} catch (const std::exception& e) {
  fmt::print(stderr, "lease_tutorial: {}\n", e.what());
  return EXIT_FAILURE;
}
