#include <leasekv/leasekv.hpp>

#include <cstdio>

int main() {
  auto store = leasekv::store::open({}).value();
  const auto put = store->put("/tmp/pid", "2187").value();
  const auto got = store->get("/tmp/pid").value();
  if (put.header.revision != 2 || got.kvs.size() != 1 || got.kvs[0].value != "2187") {
    std::puts("consumer: unexpected answer");
    return 1;
  }
  std::puts("consumer: ok");
  return 0;
}
