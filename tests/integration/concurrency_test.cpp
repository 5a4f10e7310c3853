// Several threads mixing writes, reads and compaction on one store. Every read must be one consistent
// snapshot: the two keys a txn always writes together are seen with the same value and revision, and
// revisions never go backwards. Runs under ThreadSanitizer in CI.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace leasekv;

TEST_CASE("concurrency: readers always see whole transactions while writers and compaction run", "[concurrency]") {
  auto s = store::open().value();
  const std::int64_t first = s->txn().then(op::put("x/a", "0"), op::put("x/b", "0")).commit().value().header.revision;
  constexpr int writes_per_writer = 2000;
  constexpr int reads_per_reader = 4000;
  std::atomic<int> failures{0};
  std::atomic<int> historical_reads{0};
  std::vector<std::thread> threads;

  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < writes_per_writer; ++i) {
        const std::string v = std::to_string(w) + ":" + std::to_string(i);
        auto r = s->txn().then(op::put("x/a", v), op::put("x/b", v), op::put("y/" + std::to_string(i % 50), v)).commit();
        if (!r) failures++;
        if (i % 100 == 0 && !s->delete_range(prefix("y/"))) failures++;
      }
    });
  }
  for (int rd = 0; rd < 2; ++rd) {
    threads.emplace_back([&] {
      std::int64_t last = 0;
      for (int i = 0; i < reads_per_reader; ++i) {
        range_options o;
        if (i % 4 == 0) o.revision = std::max(first, s->revision() - 3);  // x/ exists from `first` on
        auto r = s->range(prefix("x/"), o);
        if (!r) {
          if (r.error() != errc::compacted) failures++;
          continue;
        }
        if (o.revision != 0) historical_reads++;
        const auto& kvs = r.value().kvs;
        if (kvs.size() != 2 || kvs[0].value != kvs[1].value || kvs[0].mod_revision != kvs[1].mod_revision) failures++;
        if (r.value().header.revision < last) failures++;
        last = r.value().header.revision;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 200; ++i) {
      const auto rev = s->revision() - 10;
      auto r = s->compact(rev);
      if (!r && r.error() != errc::compacted) failures++;
      std::this_thread::yield();
    }
  });
  for (auto& t : threads) t.join();

  CHECK(failures == 0);
  CHECK(historical_reads > 0);
  CHECK(s->get("x/a").value().kvs.at(0).version == 2 * writes_per_writer + 1);
}

TEST_CASE("concurrency: a put that returned is seen by every read that starts after it, held back or not", "[concurrency]") {
  // Puts in a row are held back and applied when the lock is next taken for anything else (a reader
  // takes it exclusively to apply them). A reader told of a put's revision must find that put.
  auto s = store::open({.tuning = {.hold_back_puts_from_keys = 0}}).value();
  constexpr int puts = 5000;
  std::atomic<std::int64_t> acknowledged{0};
  std::atomic<int> acknowledged_key{-1};
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> checked{0};
  std::atomic<int> overlapped{0};  // checks of a put after the first: made while the writer was putting
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (int i = 0; i < puts; ++i) {
      // After the first put, wait until the readers have checked it twice: they surely overlap the rest.
      if (i == 1) {
        while (checked.load() < 2) std::this_thread::yield();
      }
      // Halfway, wait until a reader has checked a later put: on a loaded machine the writer could
      // otherwise finish every put before a reader is scheduled again, and nothing overlapped.
      if (i == puts / 2) {
        while (overlapped.load() == 0) std::this_thread::yield();
      }
      auto r = s->put("k/" + std::to_string(i), std::to_string(i));
      if (!r) {
        failures++;
        continue;
      }
      acknowledged_key.store(i, std::memory_order_relaxed);
      acknowledged.store(r.value().header.revision, std::memory_order_release);
    }
    done = true;
  });
  for (int rd = 0; rd < 2; ++rd) {
    threads.emplace_back([&] {
      while (!done.load()) {
        const std::int64_t rev = acknowledged.load(std::memory_order_acquire);
        const int key = acknowledged_key.load(std::memory_order_relaxed);
        if (key < 0) continue;
        if (s->revision() < rev) failures++;
        auto got = s->get("k/" + std::to_string(key));
        // `key` was acknowledged no earlier than `rev` (its index is stored before the revision), and
        // each key is put once: its one version is at `rev` or later.
        if (!got || got.value().kvs.size() != 1 || got.value().kvs[0].mod_revision < rev) failures++;
        checked++;
        if (key > 0) overlapped++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  // checked >= 2 and overlapped > 0 hold by construction: the writer waits for both.
  CHECK(s->revision() == 1 + puts);
  CHECK(s->range(prefix("k/")).value().count == puts);
}
