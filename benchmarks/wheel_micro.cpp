// The timing wheel against a binary heap (an indexed min-heap, so that it too can renew and cancel), at
// 1,000,000 timers with lease-like deadlines (seconds to an hour, in milliseconds).
//   renew:  move a random timer to now + its TTL (what a keep-alive does)
//   expire: advance through every deadline, popping each timer (what the expiry loop does)
#include "lease/timing_wheel.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace {

using leasekv::lease::timing_wheel;
using leasekv::lease::wheel_timer;

constexpr std::size_t timers = 1000000;

class indexed_heap {
 public:
  explicit indexed_heap(std::size_t n) : pos_(n, npos) {}
  void push(std::size_t id, std::int64_t deadline) {
    pos_[id] = heap_.size();
    heap_.push_back({deadline, id});
    up(heap_.size() - 1);
  }
  void update(std::size_t id, std::int64_t deadline) {
    const std::size_t i = pos_[id];
    const bool earlier = deadline < heap_[i].deadline;
    heap_[i].deadline = deadline;
    if (earlier) {
      up(i);
    } else {
      down(i);
    }
  }
  bool empty() const { return heap_.empty(); }
  std::int64_t top_deadline() const { return heap_[0].deadline; }
  std::size_t pop() {
    const std::size_t id = heap_[0].id;
    swap_at(0, heap_.size() - 1);
    heap_.pop_back();
    pos_[id] = npos;
    if (!heap_.empty()) down(0);
    return id;
  }

 private:
  struct node {
    std::int64_t deadline;
    std::size_t id;
  };
  static constexpr std::size_t npos = ~std::size_t{0};
  void swap_at(std::size_t a, std::size_t b) {
    std::swap(heap_[a], heap_[b]);
    pos_[heap_[a].id] = a;
    pos_[heap_[b].id] = b;
  }
  void up(std::size_t i) {
    while (i > 0 && heap_[(i - 1) / 2].deadline > heap_[i].deadline) {
      swap_at(i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
  }
  void down(std::size_t i) {
    for (;;) {
      std::size_t m = i;
      const std::size_t l = 2 * i + 1;
      const std::size_t r = l + 1;
      if (l < heap_.size() && heap_[l].deadline < heap_[m].deadline) m = l;
      if (r < heap_.size() && heap_[r].deadline < heap_[m].deadline) m = r;
      if (m == i) return;
      swap_at(i, m);
      i = m;
    }
  }
  std::vector<node> heap_;
  std::vector<std::size_t> pos_;
};

std::vector<std::int64_t> ttls() {
  std::mt19937_64 rng(5);
  std::vector<std::int64_t> out(timers);
  for (auto& t : out) t = 1000 + static_cast<std::int64_t>(rng() % 3'600'000);
  return out;
}

void bm_wheel_renew(benchmark::State& state) {
  const auto ttl = ttls();
  std::vector<wheel_timer> ts(timers);
  timing_wheel w;
  for (std::size_t i = 0; i < timers; ++i) w.schedule(ts[i], ttl[i]);
  std::mt19937_64 rng(9);
  for (auto _ : state) {
    const std::size_t i = rng() % timers;
    w.reschedule(ts[i], ttl[i]);
  }
}
BENCHMARK(bm_wheel_renew);

void bm_heap_renew(benchmark::State& state) {
  const auto ttl = ttls();
  indexed_heap h(timers);
  for (std::size_t i = 0; i < timers; ++i) h.push(i, ttl[i]);
  std::mt19937_64 rng(9);
  for (auto _ : state) {
    const std::size_t i = rng() % timers;
    h.update(i, ttl[i] + static_cast<std::int64_t>(rng() % 1000));
  }
}
BENCHMARK(bm_heap_renew);

void bm_wheel_schedule_and_expire_all(benchmark::State& state) {
  const auto ttl = ttls();
  std::vector<wheel_timer> ts(timers);
  std::vector<wheel_timer*> fired;
  fired.reserve(timers);
  for (auto _ : state) {
    timing_wheel w;
    for (std::size_t i = 0; i < timers; ++i) w.schedule(ts[i], ttl[i]);
    std::size_t n = 0;
    while (w.advance(4'000'000, fired)) {
      n += fired.size();
      fired.clear();
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * timers));
}
BENCHMARK(bm_wheel_schedule_and_expire_all)->Unit(benchmark::kMillisecond);

void bm_heap_schedule_and_expire_all(benchmark::State& state) {
  const auto ttl = ttls();
  for (auto _ : state) {
    indexed_heap h(timers);
    for (std::size_t i = 0; i < timers; ++i) h.push(i, ttl[i]);
    std::size_t n = 0;
    while (!h.empty()) {
      h.pop();
      ++n;
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * timers));
}
BENCHMARK(bm_heap_schedule_and_expire_all)->Unit(benchmark::kMillisecond);

}  // namespace
