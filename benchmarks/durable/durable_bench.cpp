// Durable puts, leasekv beside RocksDB, in one run on one disk (issue 23).
//
//   leasekv_durable_bench [--dir D] [--seconds S] [--rounds R] [--threads 1,4,16,64]
//                         [--engines group_commit,rocksdb,per_write,raw] [--json]
//
// Each engine through its public API: leasekv opened with sync_policy::group_commit (or per_write), and
// RocksDB 7.8 with its write-ahead log on and WriteOptions::sync = true (its own group commit). Keys
// /registry/pods/%08d in shuffled order (every put a new key), values 64 random bytes, T threads putting
// for S seconds into a fresh directory under D (default: build/durable-bench, on the disk of the build).
// For each thread count the engines take turns, R rounds; the table gives the median and the range over
// the rounds of: puts/s, latency p50 / p99 / max (µs), records per fdatasync (puts over the syncs of
// the log files) and bytes written per put (everything the engine appended to any file, counted by a
// wrapper around each engine's file layer: leasekv's env, RocksDB's FileSystem). `raw` is the bound: one
// thread appending a 100-byte record and calling fdatasync, as fast as it can.
#include "durable/engines.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using bench_clock = std::chrono::steady_clock;
using durable_bench::engine;
using durable_bench::io_counters;

struct run_result {
  double puts_per_sec = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
  double per_sync = 0;
  double bytes_per_put = 0;
};

struct workload {
  std::vector<std::string> keys;    // shuffled
  std::vector<std::string> values;  // 64 random bytes each
};

workload make_workload(std::size_t n) {
  workload w;
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(42);
  std::shuffle(order.begin(), order.end(), rng);
  w.keys.reserve(n);
  char buf[32];
  for (std::size_t i : order) {
    std::snprintf(buf, sizeof buf, "/registry/pods/%08zu", i);
    w.keys.emplace_back(buf);
  }
  w.values.resize(4096);
  for (auto& v : w.values) {
    v.resize(64);
    for (auto& c : v) c = static_cast<char>(rng());
  }
  return w;
}

double percentile(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return static_cast<double>(sorted[i]) / 1000.0;
}

run_result run(engine& e, const workload& w, int threads, double seconds) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::vector<std::uint32_t>> lat(static_cast<std::size_t>(threads));
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      auto& mine = lat[static_cast<std::size_t>(t)];
      mine.reserve(1 << 16);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
        const auto t0 = bench_clock::now();
        e.put(w.keys[i % w.keys.size()], w.values[i % w.values.size()]);
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(bench_clock::now() - t0).count();
        mine.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(ns, UINT32_MAX)));
      }
    });
  }
  const io_counters before = e.counters();
  const auto t0 = bench_clock::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& t : ts) t.join();
  const double secs = std::chrono::duration<double>(bench_clock::now() - t0).count();
  const io_counters after = e.counters();
  std::vector<std::uint32_t> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  run_result r;
  const auto n = static_cast<double>(all.size());
  r.puts_per_sec = n / secs;
  r.p50_us = percentile(all, 0.50);
  r.p99_us = percentile(all, 0.99);
  r.max_us = all.empty() ? 0 : static_cast<double>(all.back()) / 1000.0;
  const auto syncs = static_cast<double>(after.log_syncs - before.log_syncs);
  r.per_sync = syncs > 0 ? n / syncs : 0;
  r.bytes_per_put = n > 0 ? static_cast<double>(after.bytes - before.bytes) / n : 0;
  return r;
}

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> out;
  std::size_t at = 0;
  while (at <= s.size()) {
    const std::size_t comma = std::min(s.find(',', at), s.size());
    out.push_back(std::atoi(s.substr(at, comma - at).c_str()));
    at = comma + 1;
  }
  return out;
}

std::vector<std::string> parse_names(const std::string& s) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= s.size()) {
    const std::size_t comma = std::min(s.find(',', at), s.size());
    out.push_back(s.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

std::string fmt_range(std::vector<double> v, int decimals) {
  std::sort(v.begin(), v.end());
  const double med = v[v.size() / 2];
  if (v.size() == 1) return fmt::format("{:.{}f}", med, decimals);
  return fmt::format("{:.{}f} ({:.{}f}–{:.{}f})", med, decimals, v.front(), decimals, v.back(), decimals);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "build/durable-bench";
  double seconds = 3;
  int rounds = 3;
  std::string thread_list = "1,4,16,64";
  std::string engine_list = "group_commit,rocksdb,per_write,raw";
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") dir = val();
    else if (a == "--seconds") seconds = std::atof(val().c_str());
    else if (a == "--rounds") rounds = std::atoi(val().c_str());
    else if (a == "--threads") thread_list = val();
    else if (a == "--engines") engine_list = val();
    else if (a == "--json") json = true;
    else {
      fmt::print(stderr, "unknown argument {}\n", a);
      return 2;
    }
  }
  const workload w = make_workload(4'000'000);
  const auto engines = parse_names(engine_list);
  std::map<std::pair<int, std::string>, std::vector<run_result>> results;
  for (const int threads : parse_ints(thread_list)) {
    for (int round = 0; round < rounds; ++round) {
      for (const auto& name : engines) {
        if (name == "raw" && threads != 1) continue;
        const std::string path = dir + "/" + name;
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(dir);
        auto e = durable_bench::make_engine(name, path);
        if (!e) {
          fmt::print(stderr, "unknown engine {}\n", name);
          return 2;
        }
        const run_result r = run(*e, w, threads, seconds);
        e.reset();
        std::filesystem::remove_all(path);
        results[{threads, name}].push_back(r);
        if (json) {
          fmt::print("{{\"engine\":\"{}\",\"threads\":{},\"round\":{},\"puts_per_sec\":{:.0f},\"p50_us\":{:.1f},"
                     "\"p99_us\":{:.1f},\"max_us\":{:.1f},\"records_per_sync\":{:.2f},\"bytes_per_put\":{:.1f}}}\n",
                     name, threads, round, r.puts_per_sec, r.p50_us, r.p99_us, r.max_us, r.per_sync, r.bytes_per_put);
          std::fflush(stdout);
        }
      }
    }
  }
  fmt::print("\n| engine | threads | puts/s | p50 µs | p99 µs | max µs | records / fdatasync | bytes / put |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const int threads : parse_ints(thread_list)) {
    for (const auto& name : engines) {
      auto it = results.find({threads, name});
      if (it == results.end()) continue;
      auto col = [&](auto f) {
        std::vector<double> v;
        for (const auto& r : it->second) v.push_back(f(r));
        return v;
      };
      fmt::print("| {} | {} | {} | {} | {} | {} | {} | {} |\n", name, threads,
                 fmt_range(col([](const run_result& r) { return r.puts_per_sec; }), 0),
                 fmt_range(col([](const run_result& r) { return r.p50_us; }), 0),
                 fmt_range(col([](const run_result& r) { return r.p99_us; }), 0),
                 fmt_range(col([](const run_result& r) { return r.max_us; }), 0),
                 fmt_range(col([](const run_result& r) { return r.per_sync; }), 1),
                 fmt_range(col([](const run_result& r) { return r.bytes_per_put; }), 0));
    }
  }
  return EXIT_SUCCESS;
}
