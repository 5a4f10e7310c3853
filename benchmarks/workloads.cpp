// The workload runner: the standard workloads on an in-memory store, one JSON line each.
//
//   leasekv_workloads [--keys N] [--ranges N] [--seed S]
//
// Workloads (defaults: 1,000,000 keys, 10,000 ranges):
//   put        put N new keys /registry/pods/%08d in shuffled order, 64-byte values
//   overwrite  put every key again, in another shuffled order
//   get        get every key in random order
//   range100   R ranges of 100 consecutive keys at random starting points
//   memory     heap bytes per key after `put` (key, value, index and version overhead, all in)
#include <leasekv/leasekv.hpp>

#include <fmt/core.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using bench_clock = std::chrono::steady_clock;

std::size_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

std::string pod_key(std::size_t i) { return fmt::format("/registry/pods/{:08d}", i); }

void report(std::string_view name, std::size_t ops, bench_clock::duration d) {
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  fmt::print("{{\"workload\":\"{}\",\"ops\":{},\"ns_per_op\":{:.1f},\"ops_per_sec\":{:.0f}}}\n", name, ops,
             ns / static_cast<double>(ops), static_cast<double>(ops) * 1e9 / ns);
  std::fflush(stdout);
}

std::size_t arg(int argc, char** argv, std::string_view flag, std::size_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == flag) return static_cast<std::size_t>(std::strtoull(argv[i + 1], nullptr, 10));
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = arg(argc, argv, "--keys", 1000000);
  const std::size_t ranges = arg(argc, argv, "--ranges", 10000);
  std::mt19937_64 rng(arg(argc, argv, "--seed", 42));

  std::vector<std::string> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = pod_key(i);
  const std::string value(64, 'v');
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});

  const std::size_t heap_before = heap_in_use();
  auto store = leasekv::store::open({}).value();

  std::shuffle(order.begin(), order.end(), rng);
  auto t0 = bench_clock::now();
  for (std::size_t i : order) store->put(keys[i], value).value();
  report("put", n, bench_clock::now() - t0);
  const std::size_t heap_after = heap_in_use();

  std::shuffle(order.begin(), order.end(), rng);
  t0 = bench_clock::now();
  for (std::size_t i : order) store->put(keys[i], value).value();
  report("overwrite", n, bench_clock::now() - t0);

  std::shuffle(order.begin(), order.end(), rng);
  std::size_t found = 0;
  t0 = bench_clock::now();
  for (std::size_t i : order) found += store->get(keys[i]).value().kvs.size();
  report("get", n, bench_clock::now() - t0);
  if (found != n) {
    fmt::print(stderr, "get found {} of {} keys\n", found, n);
    return EXIT_FAILURE;
  }

  std::uniform_int_distribution<std::size_t> start(0, n > 100 ? n - 100 : 0);
  std::size_t seen = 0;
  t0 = bench_clock::now();
  for (std::size_t r = 0; r < ranges; ++r) {
    const std::size_t s = start(rng);
    seen += store->range(leasekv::key_range(keys[s], pod_key(s + 100))).value().kvs.size();
  }
  report("range100", ranges, bench_clock::now() - t0);
  if (seen != ranges * std::min<std::size_t>(100, n)) {
    fmt::print(stderr, "ranges returned {} kvs\n", seen);
    return EXIT_FAILURE;
  }

  // Memory after `put` (one version per key), measured before the overwrites added history.
  fmt::print("{{\"workload\":\"memory\",\"keys\":{},\"bytes_per_key\":{:.1f}}}\n", n,
             static_cast<double>(heap_after - heap_before) / static_cast<double>(n));

  // And after compacting the overwrite history away, which must bring it back down.
  store->compact(store->revision()).value();
  fmt::print("{{\"workload\":\"memory_after_compaction\",\"keys\":{},\"bytes_per_key\":{:.1f}}}\n", n,
             static_cast<double>(heap_in_use() - heap_before) / static_cast<double>(n));
  return EXIT_SUCCESS;
}
