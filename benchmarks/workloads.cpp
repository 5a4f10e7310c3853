// The workload runner: the standard workloads on an in-memory store, one JSON line each.
//
//   leasekv_workloads [--keys N] [--ranges N] [--leases N] [--storm-leases N] [--storm-keys N] [--seed S]
//                     [--watch-events N] [--durable-puts N] [--durable-keys N] [--dir D]
//                     [--opens N] [--huge-pages 0|1] [--only kv|lease|watch|durable|compare|catchup]
//                     [--catchup-revisions N,N,...]
//
// --only compare runs the workloads benchmarks/etcd/compare.sh pairs with etcd's: kv, lease, storm, open_empty.
//
// Workloads (defaults: 1,000,000 keys, 10,000 ranges, 1,000,000 leases, a storm of 10,000 x 10):
//   put        put N new keys /registry/pods/%08d in shuffled order, 64-byte values
//   overwrite  put every key again, in another shuffled order
//   get        get every key in random order
//   range100   R ranges of 100 consecutive keys at random starting points, read with range_view (keys and
//              values copied into one buffer per response); range100_strings: the same with range (a
//              std::string per key and per value)
//   memory     resident bytes per key after `put` (key, value, index and version overhead, all in);
//              memory_after_compaction: after the overwrite and a compaction of its history
//   grant / renew / revoke   L leases (TTL 1 h, ids chosen by the store); renew and revoke in random order
//   storm      S leases with K keys each, all due at the same millisecond on the real clock: the time
//              from the deadline until the last key is gone, and a concurrent writer's put latency
//              (p50 / p99 / max) while the storm is processed
//   watch_fanout_W  events per second delivered to W = 1, 100, 1,000 watchers of one prefix (callbacks
//              on one delivery thread), from the first put until the last event is handled
//   put_idle_watchers  put latency with no watcher, and with 1,000 idle watchers of other keys
//              (single keys, and prefixes)
//   durable_put_<policy>_<T>  puts per second into a data directory (--dir, default under /tmp) with sync
//              per write and group commit, from T = 1, 4, 16 threads
//   catchup_<N>  one watcher replays N revisions of history (--catchup-revisions, default 200,000 and
//              2,000,000; puts of 64-byte values to 1,000 keys, from revision 1) while a writer keeps putting
//              other keys: the writer's put latency (p50 / p99 / max) during the replay and (p99 / max) as
//              long again after it (the watcher live), the replay's time, and resident memory before and at
//              its peak during the replay (the writer's puts add some)
//   open_empty the time to open an empty in-memory store, averaged over --opens N (1,000)
//   open_durable   the time to open a data directory holding K keys (--durable-keys, default 1,000,000),
//              and its bytes on disk per key
#include <leasekv/leasekv.hpp>

#include <boost/asio/io_context.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using bench_clock = std::chrono::steady_clock;

// Resident memory: the heap and the store's own mappings (arena regions and tables on huge pages) alike.
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long size = 0;
  unsigned long resident = 0;
  const bool ok = f != nullptr && std::fscanf(f, "%lu %lu", &size, &resident) == 2;
  if (f != nullptr) std::fclose(f);
  return ok ? static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

// --huge-pages 0 opens the in-memory stores with options::huge_pages off.
bool huge_pages = true;
leasekv::options memory_options() {
  leasekv::options o;
  o.tuning.huge_pages = huge_pages;
  return o;
}

std::string pod_key(std::size_t i) { return fmt::format("/registry/pods/{:08d}", i); }

// Makes the key /registry/pods/%08d of i in a buffer of its own, for the kv workloads. A table of a
// million std::strings read in shuffled order would add two cache misses per operation (the string, then
// its bytes) that are the harness's, not the store's: ~450 ns on this machine, more than a put's own.
class pod_key_maker {
 public:
  std::string_view operator()(std::size_t i) {
    for (std::size_t d = size - 1; d >= prefix; --d, i /= 10) buf_[d] = static_cast<char>('0' + i % 10);
    return {buf_, size};
  }

 private:
  static constexpr std::size_t prefix = 15;  // "/registry/pods/"
  static constexpr std::size_t size = prefix + 8;
  char buf_[size + 1] = "/registry/pods/00000000";
};

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

std::string_view arg_text(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return {};
}

double micros(bench_clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

int lease_workloads(std::size_t n, std::mt19937_64& rng) {
  using namespace std::chrono_literals;
  auto store = leasekv::store::open(memory_options()).value();
  std::vector<leasekv::lease_id> ids;
  ids.reserve(n);
  auto t0 = bench_clock::now();
  for (std::size_t i = 0; i < n; ++i) ids.push_back(store->grant(1h).value().id);
  report("grant", n, bench_clock::now() - t0);

  std::shuffle(ids.begin(), ids.end(), rng);
  t0 = bench_clock::now();
  for (auto id : ids) store->keep_alive_once(id).value();
  report("renew", n, bench_clock::now() - t0);

  std::shuffle(ids.begin(), ids.end(), rng);
  t0 = bench_clock::now();
  for (auto id : ids) store->revoke(id).value();
  report("revoke", n, bench_clock::now() - t0);
  return EXIT_SUCCESS;
}

int storm(std::size_t leases, std::size_t keys_per_lease) {
  using namespace std::chrono_literals;
  auto store = leasekv::store::open(memory_options()).value();
  const auto clk = leasekv::clock::system();
  // Every lease is due at the same instant: each TTL is measured from the moment it is granted.
  const auto due = clk->now() + 2s + std::chrono::milliseconds(leases / 10);
  std::vector<leasekv::lease_id> pending;
  for (std::size_t l = 0; l < leases; ++l) {
    const auto ttl = std::chrono::ceil<std::chrono::milliseconds>(due - clk->now());
    const auto id = pending.emplace_back(store->grant(ttl).value().id);
    for (std::size_t k = 0; k < keys_per_lease; ++k) {
      store->put(fmt::format("/storm/{:06d}/{:02d}", l, k), "v", {.lease = id}).value();
    }
  }

  // A writer that keeps putting while the storm is processed.
  std::atomic<bool> stop{false};
  std::vector<std::pair<bench_clock::time_point, bench_clock::duration>> samples;
  samples.reserve(1 << 20);
  std::thread writer([&] {
    std::size_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const auto start = bench_clock::now();
      store->put(fmt::format("/writer/{}", i++ % 1000), "x").value();
      const auto end = bench_clock::now();
      // Only puts near the storm are kept: a vector of every put since the setup would outgrow its
      // reserve, and copying it would stall the writer itself in the middle of the storm.
      if (end >= due - 100ms) samples.emplace_back(start, end - start);
    }
  });
  // Done when every storm lease is gone (each check is O(1), so polling does not disturb the writer).
  while (!pending.empty()) {
    if (store->time_to_live(pending.back()).value().ttl == -1) {
      pending.pop_back();
    } else {
      std::this_thread::sleep_for(50us);
    }
  }
  const auto done = clk->now();
  stop = true;
  writer.join();
  const auto left = store->range(leasekv::prefix("/storm/"), {.count_only = true}).value().count;
  std::vector<double> during;
  for (const auto& [start, d] : samples) {
    if (start <= done && start + d >= due) during.push_back(micros(d));  // every put the storm overlapped
  }
  std::sort(during.begin(), during.end());
  auto pct = [&](double p) { return during.empty() ? 0.0 : during[static_cast<std::size_t>(p * static_cast<double>(during.size() - 1))]; };
  fmt::print("{{\"workload\":\"storm\",\"leases\":{},\"keys\":{},\"done_after_deadline_ms\":{:.2f},"
             "\"keys_left\":{},\"writer_puts_during\":{},\"writer_p50_us\":{:.1f},\"writer_p99_us\":{:.1f},"
             "\"writer_max_us\":{:.1f}}}\n",
             leases, leases * keys_per_lease, std::chrono::duration<double, std::milli>(done - due).count(), left,
             during.size(), pct(0.5), pct(0.99), during.empty() ? 0.0 : during.back());
  return left == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int open_empty(std::size_t n) {
  bench_clock::duration total{};
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = bench_clock::now();
    auto store = leasekv::store::open(memory_options()).value();
    total += bench_clock::now() - t0;
    if (store->revision() != 1) return EXIT_FAILURE;
  }
  report("open_empty", n, total);
  return EXIT_SUCCESS;
}

std::uint64_t dir_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file() ? e.file_size() : 0;
  return n;
}

int durable_workloads(const std::string& base, std::size_t puts, std::size_t keys) {
  const std::string value(64, 'v');
  for (const auto policy : {leasekv::sync_policy::per_write, leasekv::sync_policy::group_commit}) {
    for (const int threads : {1, 4, 16}) {
      const std::string dir = base + "/puts";
      std::filesystem::remove_all(dir);
      auto store = leasekv::store::open({.data_dir = dir, .sync = policy}).value();
      const std::size_t per_thread = std::max<std::size_t>(1, puts / static_cast<std::size_t>(threads));
      const auto t0 = bench_clock::now();
      std::vector<std::thread> ts;
      for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
          for (std::size_t i = 0; i < per_thread; ++i) store->put(fmt::format("/t{}/{:08d}", t, i), value).value();
        });
      }
      for (auto& t : ts) t.join();
      const double secs = std::chrono::duration<double>(bench_clock::now() - t0).count();
      const std::size_t n = per_thread * static_cast<std::size_t>(threads);
      fmt::print("{{\"workload\":\"durable_put_{}_{}\",\"threads\":{},\"puts\":{},\"puts_per_sec\":{:.0f}}}\n",
                 policy == leasekv::sync_policy::per_write ? "per_write" : "group_commit", threads, threads, n,
                 static_cast<double>(n) / secs);
      std::fflush(stdout);
    }
  }
  const std::string dir = base + "/open";
  std::filesystem::remove_all(dir);
  {
    auto store = leasekv::store::open({.data_dir = dir, .sync = leasekv::sync_policy::none}).value();
    for (std::size_t i = 0; i < keys; ++i) store->put(pod_key(i), value).value();
  }
  const auto t0 = bench_clock::now();
  auto store = leasekv::store::open({.data_dir = dir}).value();
  const auto d = bench_clock::now() - t0;
  if (store->revision() != static_cast<std::int64_t>(keys) + 1) return EXIT_FAILURE;
  fmt::print("{{\"workload\":\"open_durable\",\"keys\":{},\"open_ms\":{:.1f},\"disk_bytes_per_key\":{:.1f}}}\n", keys,
             std::chrono::duration<double, std::milli>(d).count(),
             static_cast<double>(dir_bytes(dir)) / static_cast<double>(keys));
  store.reset();
  std::filesystem::remove_all(base);
  return EXIT_SUCCESS;
}

int watch_workloads(std::size_t scale) {
  for (const std::size_t watchers : {std::size_t{1}, std::size_t{100}, std::size_t{1000}}) {
    auto store = leasekv::store::open(memory_options()).value();
    boost::asio::io_context ioc;
    auto work = boost::asio::make_work_guard(ioc);
    std::atomic<std::size_t> delivered{0};
    std::vector<std::unique_ptr<leasekv::watcher>> ws;
    for (std::size_t w = 0; w < watchers; ++w) {
      ws.push_back(store->watch(leasekv::prefix("/fan/"), {}, ioc.get_executor(), [&](const leasekv::watch_response& r) {
        delivered.fetch_add(r.events.size(), std::memory_order_relaxed);
      }).value());
    }
    const std::size_t puts = std::max<std::size_t>(100, scale / watchers);
    const std::size_t expected = puts * watchers;
    std::thread delivery([&] { ioc.run(); });
    const std::string value(64, 'v');
    const auto t0 = bench_clock::now();
    for (std::size_t i = 0; i < puts; ++i) store->put(fmt::format("/fan/{:08d}", i % 1000), value).value();
    while (delivered.load(std::memory_order_relaxed) < expected) std::this_thread::yield();
    const auto d = bench_clock::now() - t0;
    ws.clear();
    work.reset();
    delivery.join();
    const double secs = std::chrono::duration<double>(d).count();
    fmt::print("{{\"workload\":\"watch_fanout_{}\",\"watchers\":{},\"puts\":{},\"events_delivered\":{},"
               "\"events_per_sec\":{:.0f}}}\n",
               watchers, watchers, puts, expected, static_cast<double>(expected) / secs);
    std::fflush(stdout);
  }

  auto put_latency = [&](const char* name, int idle_kind) {
    auto store = leasekv::store::open(memory_options()).value();
    boost::asio::io_context ioc;
    std::vector<std::unique_ptr<leasekv::watcher>> ws;
    for (int w = 0; idle_kind != 0 && w < 1000; ++w) {
      const std::string k = fmt::format("/idle/{:04d}", w);
      ws.push_back(store->watch(idle_kind == 1 ? leasekv::key_range(k) : leasekv::prefix(k + "/"), {},
                                ioc.get_executor(), [](const leasekv::watch_response&) {}).value());
    }
    const std::string value(64, 'v');
    const std::size_t n = std::max<std::size_t>(1000, scale / 10);
    const auto t0 = bench_clock::now();
    for (std::size_t i = 0; i < n; ++i) store->put(fmt::format("/busy/{:08d}", i % 10000), value).value();
    report(name, n, bench_clock::now() - t0);
  };
  put_latency("put_no_watchers", 0);
  put_latency("put_1000_idle_key_watchers", 1);
  put_latency("put_1000_idle_prefix_watchers", 2);
  return EXIT_SUCCESS;
}

// The percentile p (0..1) of sorted samples.
double percentile(const std::vector<double>& sorted, double p) {
  return sorted.empty() ? 0.0 : sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))];
}

int catchup(std::size_t revisions) {
  auto store = leasekv::store::open(memory_options()).value();
  const std::string value(64, 'v');
  for (std::size_t i = 0; i < revisions; ++i) store->put(fmt::format("/hist/{:04d}", i % 1000), value).value();
  const std::size_t resident_before = resident_bytes();

  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread delivery([&] { ioc.run(); });
  std::atomic<bool> stop{false};
  std::atomic<int> phase{0};  // 1: during the replay; 2: as long again after it, the watcher live and idle
  std::vector<double> during;
  std::vector<double> after;
  during.reserve(1 << 22);
  after.reserve(1 << 22);
  std::thread writer([&] {
    std::size_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const auto start = bench_clock::now();
      store->put(fmt::format("/writer/{:04d}", i++ % 1000), "x").value();
      const auto d = bench_clock::now() - start;
      auto& v = phase.load(std::memory_order_relaxed) == 1 ? during : after;
      if (phase.load(std::memory_order_relaxed) != 0 && v.size() < v.capacity()) v.push_back(micros(d));
    }
  });

  std::atomic<std::size_t> delivered{0};
  const auto t0 = bench_clock::now();
  phase = 1;
  auto w = store->watch(leasekv::prefix("/hist/"), {.start_revision = 1}, ioc.get_executor(),
                        [&](const leasekv::watch_response& r) { delivered.fetch_add(r.events.size(), std::memory_order_relaxed); })
               .value();
  std::size_t resident_peak = resident_before;
  while (delivered.load(std::memory_order_relaxed) < revisions) {
    resident_peak = std::max(resident_peak, resident_bytes());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto d = bench_clock::now() - t0;
  phase = 2;
  std::this_thread::sleep_for(d);
  stop = true;
  writer.join();
  w.reset();
  work.reset();
  delivery.join();
  std::sort(during.begin(), during.end());
  std::sort(after.begin(), after.end());
  fmt::print("{{\"workload\":\"catchup_{}\",\"revisions\":{},\"replay_ms\":{:.1f},\"writer_puts_during\":{},"
             "\"writer_p50_us\":{:.1f},\"writer_p99_us\":{:.1f},\"writer_max_us\":{:.1f},"
             "\"writer_after_p99_us\":{:.1f},\"writer_after_max_us\":{:.1f},"
             "\"rss_before_mb\":{:.1f},\"rss_peak_mb\":{:.1f}}}\n",
             revisions, revisions, std::chrono::duration<double, std::milli>(d).count(), during.size(),
             percentile(during, 0.5), percentile(during, 0.99), during.empty() ? 0.0 : during.back(),
             percentile(after, 0.99), after.empty() ? 0.0 : after.back(),
             static_cast<double>(resident_before) / 1e6, static_cast<double>(resident_peak) / 1e6);
  std::fflush(stdout);
  return delivered.load() == revisions ? EXIT_SUCCESS : EXIT_FAILURE;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view only = arg_text(argc, argv, "--only");
  huge_pages = arg(argc, argv, "--huge-pages", 1) != 0;
  std::mt19937_64 lease_rng(arg(argc, argv, "--seed", 42));
  const std::size_t watch_scale = arg(argc, argv, "--watch-events", 2000000);
  if (only == "watch") return watch_workloads(watch_scale);
  if (only == "catchup") {
    std::string list(arg_text(argc, argv, "--catchup-revisions"));
    if (list.empty()) list = "200000,2000000";
    for (std::size_t at = 0; at < list.size();) {
      const std::size_t comma = std::min(list.find(',', at), list.size());
      if (catchup(std::strtoull(list.substr(at, comma - at).c_str(), nullptr, 10)) != EXIT_SUCCESS) return EXIT_FAILURE;
      at = comma + 1;
    }
    return EXIT_SUCCESS;
  }
  std::string dir(arg_text(argc, argv, "--dir"));
  if (dir.empty()) dir = (std::filesystem::temp_directory_path() / fmt::format("leasekv-bench-{}", ::getpid())).string();
  const std::size_t durable_puts = arg(argc, argv, "--durable-puts", 4000);
  const std::size_t durable_keys = arg(argc, argv, "--durable-keys", 1000000);
  if (only == "durable") return durable_workloads(dir, durable_puts, durable_keys);
  if (only == "lease") {
    if (lease_workloads(arg(argc, argv, "--leases", 1000000), lease_rng) != EXIT_SUCCESS) return EXIT_FAILURE;
    return storm(arg(argc, argv, "--storm-leases", 10000), arg(argc, argv, "--storm-keys", 10));
  }
  const std::size_t n = arg(argc, argv, "--keys", 1000000);
  const std::size_t ranges = arg(argc, argv, "--ranges", 10000);
  std::mt19937_64 rng(arg(argc, argv, "--seed", 42));

  pod_key_maker key;
  const std::string value(64, 'v');
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});

  const std::size_t resident_before = resident_bytes();
  auto store = leasekv::store::open(memory_options()).value();

  std::shuffle(order.begin(), order.end(), rng);
  auto t0 = bench_clock::now();
  for (std::size_t i : order) store->put(key(i), value).value();
  // A read applies the puts the store still holds back (store::put defers up to 32 in a row), so the
  // time covers every put applied.
  store->revision();
  report("put", n, bench_clock::now() - t0);
  const std::size_t resident_after = resident_bytes();

  std::shuffle(order.begin(), order.end(), rng);
  t0 = bench_clock::now();
  for (std::size_t i : order) store->put(key(i), value).value();
  store->revision();
  report("overwrite", n, bench_clock::now() - t0);

  std::shuffle(order.begin(), order.end(), rng);
  std::size_t found = 0;
  t0 = bench_clock::now();
  for (std::size_t i : order) found += store->get(key(i)).value().kvs.size();
  report("get", n, bench_clock::now() - t0);
  if (found != n) {
    fmt::print(stderr, "get found {} of {} keys\n", found, n);
    return EXIT_FAILURE;
  }

  // Ranges both ways: range_view (the keys and values in one buffer per response, what a program reading
  // many keys uses) and range (a std::string each).
  std::uniform_int_distribution<std::size_t> start(0, n > 100 ? n - 100 : 0);
  for (const bool strings : {false, true}) {
    std::size_t seen = 0;
    t0 = bench_clock::now();
    for (std::size_t r = 0; r < ranges; ++r) {
      const std::size_t s = start(rng);
      const leasekv::key_range kr(pod_key(s), pod_key(s + 100));
      seen += strings ? store->range(kr).value().kvs.size() : store->range_view(kr).value().kvs.size();
    }
    report(strings ? "range100_strings" : "range100", ranges, bench_clock::now() - t0);
    if (seen != ranges * std::min<std::size_t>(100, n)) {
      fmt::print(stderr, "ranges returned {} kvs\n", seen);
      return EXIT_FAILURE;
    }
  }

  // Memory after `put` (one version per key), measured before the overwrites added history.
  fmt::print("{{\"workload\":\"memory\",\"keys\":{},\"bytes_per_key\":{:.1f}}}\n", n,
             static_cast<double>(resident_after - resident_before) / static_cast<double>(n));

  // And after compacting the overwrite history away, which must bring it back down.
  store->compact(store->revision()).value();
  fmt::print("{{\"workload\":\"memory_after_compaction\",\"keys\":{},\"bytes_per_key\":{:.1f}}}\n", n,
             static_cast<double>(resident_bytes() - resident_before) / static_cast<double>(n));
  if (only == "kv") return EXIT_SUCCESS;
  store.reset();
  if (lease_workloads(arg(argc, argv, "--leases", 1000000), lease_rng) != EXIT_SUCCESS) return EXIT_FAILURE;
  if (storm(arg(argc, argv, "--storm-leases", 10000), arg(argc, argv, "--storm-keys", 10)) != EXIT_SUCCESS) {
    return EXIT_FAILURE;
  }
  if (open_empty(arg(argc, argv, "--opens", 1000)) != EXIT_SUCCESS) return EXIT_FAILURE;
  if (only == "compare") return EXIT_SUCCESS;  // what benchmarks/etcd pairs with etcd's workloads
  if (watch_workloads(watch_scale) != EXIT_SUCCESS) return EXIT_FAILURE;
  return durable_workloads(dir, durable_puts, durable_keys);
}
