// Time arithmetic that saturates instead of overflowing. A deadline is a steady time_point in int64
// nanoseconds (~292 years); a lease's TTL may be 285 years and a clock may run far ahead (a manual clock
// advanced by years, a skewed clock), so `now + ttl` can pass the limit. Past it, signed arithmetic is
// undefined behaviour; these clamp to the representable range, where "max" reads as "never".
#pragma once

#include "leasekv/clock.hpp"

#include <chrono>
#include <cstdint>
#include <limits>

namespace leasekv::base {

// `d` in the clock's nanoseconds, clamped to what they can hold.
template <class Rep, class Period>
constexpr clock::duration saturating_duration(std::chrono::duration<Rep, Period> d) {
  using ns = clock::duration;
  constexpr auto hi = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(ns::max());
  constexpr auto lo = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(ns::min());
  if (d >= hi) return ns::max();
  if (d <= lo) return ns::min();
  return std::chrono::duration_cast<ns>(d);
}

// t + d, clamped to the clock's range.
constexpr clock::time_point saturating_add(clock::time_point t, clock::duration d) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(t.time_since_epoch().count(), d.count(), &out)) {
    out = d.count() > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return clock::time_point(clock::duration(out));
}

// a - b, clamped to the duration's range.
constexpr clock::duration saturating_sub(clock::time_point a, clock::time_point b) {
  std::int64_t out = 0;
  if (__builtin_sub_overflow(a.time_since_epoch().count(), b.time_since_epoch().count(), &out)) {
    out = a > b ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return clock::duration(out);
}

}  // namespace leasekv::base
