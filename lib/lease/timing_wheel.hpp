// A hierarchical hashed timing wheel: 8 levels of 64 slots; a slot at level L spans 64^L ticks, so the
// wheel reaches 64^8 = 2^48 ticks ahead (8,900 years of milliseconds).
//
// Timers are intrusive (a wheel_timer lives inside its owner) and sit in doubly linked slot lists, so
// schedule, cancel and reschedule are O(1) and nothing is ever re-sorted; extend() (a later deadline) is
// O(1) without touching any list. A timer is placed at the lowest
// level whose slot for its deadline lies within 64 slots ahead; when time reaches a higher-level slot,
// its timers cascade to lower levels (each timer moves at most 7 times in its life). A 64-bit occupancy
// map per level finds the next non-empty slot in O(levels), so an idle wheel jumps straight to the next
// time anything is due instead of stepping tick by tick.
//
// Example: now = 0, a timer due at tick 5,000 goes to level 2 (64^2 = 4,096 <= 5,000 < 64^3), slot
// (5,000 >> 12) & 63 = 1. At tick 4,096 that slot cascades: 5,000 - 4,096 = 904 ticks remain, so the
// timer moves to level 1, slot (5,000 >> 6) & 63 = 14; at tick 4,992 it cascades to level 0, slot
// 5,000 & 63 = 8, and fires at tick 5,000.
//
// Thread safety: none; the owner serializes access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace leasekv::lease {

struct wheel_timer {
  wheel_timer* prev = nullptr;
  wheel_timer* next = nullptr;
  std::int64_t deadline = 0;  // in ticks
  std::int8_t level = -1;     // -1: not scheduled
  std::uint8_t slot = 0;
  bool scheduled() const { return level >= 0; }
};

class timing_wheel {
 public:
  static constexpr int levels = 8;
  static constexpr int slots = 64;

  // A wheel whose time starts at `now` (ticks).
  explicit timing_wheel(std::int64_t now = 0) : now_(now) {}
  timing_wheel(const timing_wheel&) = delete;
  timing_wheel& operator=(const timing_wheel&) = delete;

  std::int64_t now() const { return now_; }
  std::size_t size() const { return size_; }

  // Schedules `t` at `deadline`. A deadline at or before now() fires at the next advance.
  // REQUIRES: !t.scheduled().
  void schedule(wheel_timer& t, std::int64_t deadline);
  // Unschedules `t`; a no-op if it is not scheduled.
  void cancel(wheel_timer& t);
  // Moves `t` to a new deadline (schedules it if it was not).
  void reschedule(wheel_timer& t, std::int64_t deadline) {
    cancel(t);
    schedule(t, deadline);
  }
  // Moves a scheduled `t` to a later deadline lazily: only the deadline is written; the timer stays in
  // its slot and is placed again when that slot comes up. A keep-alive's renewal touches no list.
  // REQUIRES: t.scheduled() and deadline >= t.deadline.
  void extend(wheel_timer& t, std::int64_t deadline) { t.deadline = deadline; }

  // The earliest tick at which advance() has something to do (fire or cascade), or nullopt if the wheel
  // is empty. Never earlier than now() + 1 unless a timer is already due.
  std::optional<std::int64_t> next_event() const;

  // Advances time to the earliest tick <= `target` at which timers are due, unschedules those timers and
  // appends them to `fired` (all share that deadline tick, or are overdue). Returns that tick, or nullopt
  // when nothing is due up to `target`, in which case now() == target afterwards. Call it in a loop to
  // process timers in deadline order; timers scheduled between calls are honoured in order too.
  std::optional<std::int64_t> advance(std::int64_t target, std::vector<wheel_timer*>& fired);

 private:
  void link(wheel_timer& t, int level, int slot);
  void place(wheel_timer& t);
  void cascade(int level, int slot);
  // Ticks from now_ to the next non-empty slot start at `level`, or nullopt.
  std::optional<std::int64_t> next_at(int level) const;

  std::int64_t now_;
  std::size_t size_ = 0;
  wheel_timer* heads_[levels][slots] = {};
  std::uint64_t occupied_[levels] = {};
  wheel_timer* due_ = nullptr;  // overdue timers (deadline <= now_ when scheduled)
};

}  // namespace leasekv::lease
