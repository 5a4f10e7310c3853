// Micro-benchmarks of single operations on a store of 100,000 keys.
#include <leasekv/leasekv.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr std::size_t keys = 100000;

std::string key(std::size_t i) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "/registry/pods/%08zu", i);
  return buf;
}

std::unique_ptr<leasekv::store> filled() {
  auto s = leasekv::store::open({}).value();
  const std::string v(64, 'v');
  for (std::size_t i = 0; i < keys; ++i) s->put(key(i), v).value();
  return s;
}

void bm_put_overwrite(benchmark::State& state) {
  auto s = filled();
  const std::string v(64, 'w');
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s->put(key(i++ % keys), v));
  }
}
BENCHMARK(bm_put_overwrite);

void bm_get(benchmark::State& state) {
  auto s = filled();
  std::mt19937 rng(1);
  std::vector<std::string> probe(4096);
  for (auto& p : probe) p = key(rng() % keys);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s->get(probe[i++ % probe.size()]));
  }
}
BENCHMARK(bm_get);

void bm_range(benchmark::State& state) {
  auto s = filled();
  const auto width = static_cast<std::size_t>(state.range(0));
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t start = (i++ * 7919) % (keys - width);
    benchmark::DoNotOptimize(s->range(leasekv::key_range(key(start), key(start + width))));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * width));
}
BENCHMARK(bm_range)->Arg(1)->Arg(100)->Arg(1000);

void bm_txn_cas(benchmark::State& state) {
  auto s = filled();
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string k = key(i++ % keys);
    benchmark::DoNotOptimize(s->txn()
                                 .when(leasekv::compare::mod_revision(k) > 0)
                                 .then(leasekv::op::put(k, "x"))
                                 .commit());
  }
}
BENCHMARK(bm_txn_cas);

void bm_open_empty(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(leasekv::store::open({}));
  }
}
BENCHMARK(bm_open_empty);

}  // namespace
