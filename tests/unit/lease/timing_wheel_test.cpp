// Its randomized cases run their fixed seeds and one fresh seed each (support/seeds.hpp); a failure
// prints the seed, and LEASEKV_TEST_SEED=<seed> replays it.
#include <catch2/catch.hpp>

#include "lease/timing_wheel.hpp"
#include "support/seeds.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <vector>

using leasekv::lease::timing_wheel;
using leasekv::lease::wheel_timer;

namespace {

// Drains everything due up to `target`, returning (tick, timer) pairs in firing order.
std::vector<std::pair<std::int64_t, wheel_timer*>> drain(timing_wheel& w, std::int64_t target) {
  std::vector<std::pair<std::int64_t, wheel_timer*>> out;
  std::vector<wheel_timer*> fired;
  while (auto tick = w.advance(target, fired)) {
    for (auto* t : fired) out.emplace_back(*tick, t);
    fired.clear();
  }
  return out;
}

}  // namespace

TEST_CASE("timing wheel: fires exactly at the deadline and not one tick before", "[wheel]") {
  timing_wheel w;
  wheel_timer t;
  w.schedule(t, 5000);
  CHECK(drain(w, 4999).empty());
  CHECK(w.now() == 4999);
  auto fired = drain(w, 5000);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].first == 5000);
  CHECK_FALSE(t.scheduled());
  CHECK(w.size() == 0);
}

TEST_CASE("timing wheel: the documented cascade example lands on tick 5000", "[wheel]") {
  timing_wheel w;
  wheel_timer t;
  w.schedule(t, 5000);
  CHECK(t.level == 2);
  CHECK(t.slot == 1);
  CHECK(w.next_event() == 4096);
  CHECK(drain(w, 4096).empty());
  CHECK(t.level == 1);
  CHECK(t.slot == 14);
  CHECK(drain(w, 4992).empty());
  CHECK(t.level == 0);
  CHECK(t.slot == 8);
  CHECK(drain(w, 10000).size() == 1);
}

TEST_CASE("timing wheel: an idle wheel jumps to the next event instead of stepping", "[wheel]") {
  timing_wheel w(1000);
  CHECK_FALSE(w.next_event());
  wheel_timer t;
  w.schedule(t, 1000 + 3600 * 1000);  // an hour of milliseconds ahead
  // The number of stops before it fires is bounded by the levels, not by the hour's 3.6M ticks.
  int stops = 0;
  std::vector<wheel_timer*> fired;
  while (auto e = w.next_event()) {
    ++stops;
    w.advance(*e, fired);
  }
  CHECK(fired.size() == 1);
  CHECK(stops <= 2 * timing_wheel::levels);
}

TEST_CASE("timing wheel: deadlines as far as 9e9 seconds of milliseconds are kept", "[wheel]") {
  timing_wheel w;
  wheel_timer far;
  const std::int64_t deadline = 9'000'000'000LL * 1000;
  w.schedule(far, deadline);
  CHECK(drain(w, deadline - 1).empty());
  CHECK(drain(w, deadline).size() == 1);
}

TEST_CASE("timing wheel: overdue timers fire at the next advance", "[wheel]") {
  timing_wheel w(100);
  wheel_timer t;
  w.schedule(t, 50);
  CHECK(w.next_event() == 100);
  auto fired = drain(w, 100);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].first == 100);
}

TEST_CASE("timing wheel: cancel and reschedule are honoured", "[wheel]") {
  timing_wheel w;
  wheel_timer a, b, c;
  w.schedule(a, 10);
  w.schedule(b, 10);
  w.schedule(c, 20);
  w.cancel(b);
  w.cancel(b);  // idempotent
  w.reschedule(c, 5);
  auto fired = drain(w, 100);
  REQUIRE(fired.size() == 2);
  CHECK(fired[0] == std::make_pair(std::int64_t{5}, &c));
  CHECK(fired[1] == std::make_pair(std::int64_t{10}, &a));
}

TEST_CASE("timing wheel: extend moves a deadline later without moving the timer until its slot comes", "[wheel]") {
  timing_wheel w;
  wheel_timer t;
  w.schedule(t, 100);
  const auto level = t.level;
  const auto slot = t.slot;
  w.extend(t, 10000);
  CHECK(t.level == level);
  CHECK(t.slot == slot);
  CHECK(drain(w, 9999).empty());
  CHECK(t.scheduled());
  auto fired = drain(w, 10000);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].first == 10000);
}

TEST_CASE("timing wheel: random schedules, cancels, extensions and renewals fire in deadline order like a multimap", "[wheel]") {
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({3})));
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  timing_wheel w;
  std::vector<wheel_timer> timers(2000);
  std::map<wheel_timer*, std::int64_t> model;  // scheduled timer -> deadline
  std::int64_t now = 0;
  std::vector<wheel_timer*> fired;
  for (int step = 0; step < 20000; ++step) {
    wheel_timer* t = &timers[rng() % timers.size()];
    const int what = static_cast<int>(rng() % 10);
    if (what < 2 && t->scheduled()) {
      const std::int64_t later = model[t] + static_cast<std::int64_t>(rng() % 100000);
      w.extend(*t, later);
      model[t] = later;
    } else if (what < 5) {
      // Spread deadlines over every level: up to ~2^40 ticks ahead.
      const std::int64_t ahead = static_cast<std::int64_t>(rng() % (std::uint64_t{1} << (rng() % 40)));
      w.reschedule(*t, now + ahead);
      model[t] = now + ahead;
    } else if (what < 6) {
      w.cancel(*t);
      model.erase(t);
    } else {
      const std::int64_t target = now + static_cast<std::int64_t>(rng() % 5000);
      std::int64_t last = now;
      while (auto tick = w.advance(target, fired)) {
        REQUIRE(*tick >= last);
        last = *tick;
        for (auto* f : fired) {
          REQUIRE(model.count(f) == 1);
          REQUIRE(model[f] <= *tick);
          REQUIRE((model[f] == *tick || model[f] <= now));  // on time, or was already overdue
          model.erase(f);
        }
        fired.clear();
      }
      now = target;
      // Nothing due was left behind.
      for (const auto& [timer, deadline] : model) REQUIRE(deadline > now);
    }
    REQUIRE(w.size() == model.size());
  }
}
