// leasekv::mutex in process, on the embedded in-memory store with the real clock: lock hand-off latency
// and contended lock throughput, one JSON line each, in the shape benchmarks/recipes/clientv3/main.go prints for
// clientv3's Mutex over gRPC (run.sh runs both).
//
//   lock_bench handoff ROUNDS        two sessions pass the lock back and forth (a thread each)
//   lock_bench throughput N SECONDS  N contenders (a session and a thread each) lock and unlock
//
// Hand-off latency: from just before the holder's unlock() to the moment the waiter's lock() returns.
#include <leasekv/leasekv.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

double pct(const std::vector<double>& sorted, double p) {
  return sorted.empty() ? 0 : sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))];
}

void handoff(int rounds) {
  auto store = leasekv::store::open({}).value();
  auto s0 = leasekv::session::open(*store, {.ttl = 30s}).value();
  auto s1 = leasekv::session::open(*store, {.ttl = 30s}).value();
  leasekv::mutex m0(*s0, "/bench-handoff"), m1(*s1, "/bench-handoff");
  leasekv::mutex* ms[2] = {&m0, &m1};
  std::vector<double> samples;
  int holder = 0;
  ms[holder]->lock().value();
  for (int i = 0; i < rounds; ++i) {
    const int waiter = 1 - holder;
    auto got = std::async(std::launch::async, [&] {
      ms[waiter]->lock().value();
      return clock_type::now();
    });
    while (store->range(leasekv::prefix("/bench-handoff/"), {.count_only = true}).value().count != 2) std::this_thread::yield();
    std::this_thread::sleep_for(2ms);  // the waiter's watch is set up (as main.go waits)
    const auto start = clock_type::now();
    ms[holder]->unlock().value();
    const auto end = got.get();
    samples.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    holder = waiter;
  }
  std::sort(samples.begin(), samples.end());
  std::printf("{\"bench\":\"handoff\",\"p50_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,\"rounds\":%d}\n", pct(samples, 0.5),
              pct(samples, 0.9), pct(samples, 0.99), rounds);
}

void throughput(int n, double seconds) {
  auto store = leasekv::store::open({}).value();
  std::vector<std::unique_ptr<leasekv::session>> sessions;
  for (int i = 0; i < n; ++i) sessions.push_back(leasekv::session::open(*store, {.ttl = 30s}).value());
  std::atomic<long> total{0};
  std::atomic<int> holders{0};
  const auto start = clock_type::now();
  const auto deadline = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      leasekv::mutex m(*sessions[static_cast<std::size_t>(i)], "/bench-throughput");
      while (clock_type::now() < deadline) {
        m.lock().value();
        if (holders.fetch_add(1) != 0) {
          std::fprintf(stderr, "two holders at once\n");
          std::abort();
        }
        holders.fetch_sub(1);
        m.unlock().value();
        total.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  std::printf("{\"bench\":\"throughput\",\"contenders\":%d,\"locks\":%ld,\"locks_per_s\":%.1f}\n", n, total.load(),
              static_cast<double>(total.load()) / elapsed);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "handoff") {
    handoff(std::atoi(argv[2]));
  } else if (argc >= 4 && std::string(argv[1]) == "throughput") {
    throughput(std::atoi(argv[2]), std::atof(argv[3]));
  } else {
    std::fprintf(stderr, "usage: lock_bench handoff ROUNDS | lock_bench throughput N SECONDS\n");
    return 2;
  }
  return 0;
}
