#include "lease/timing_wheel.hpp"

#include <bit>

namespace leasekv::lease {
namespace {

constexpr int bits_per_level = 6;
constexpr std::int8_t due_level = timing_wheel::levels;  // marks a timer on the overdue list

constexpr int shift(int level) { return bits_per_level * level; }

}  // namespace

void timing_wheel::link(wheel_timer& t, int level, int slot) {
  wheel_timer*& head = level == due_level ? due_ : heads_[level][slot];
  t.level = static_cast<std::int8_t>(level);
  t.slot = static_cast<std::uint8_t>(slot);
  t.prev = nullptr;
  t.next = head;
  if (head != nullptr) head->prev = &t;
  head = &t;
  if (level != due_level) occupied_[level] |= std::uint64_t{1} << slot;
}

void timing_wheel::place(wheel_timer& t) {
  const std::int64_t d = t.deadline;
  if (d <= now_) {
    link(t, due_level, 0);
    return;
  }
  for (int level = 0; level < levels; ++level) {
    const std::int64_t v = d >> shift(level);
    if (v - (now_ >> shift(level)) < slots) {
      link(t, level, static_cast<int>(v & (slots - 1)));
      return;
    }
  }
  // Beyond the top level's reach: park in its farthest slot; it is placed again when that slot cascades.
  const std::int64_t far = (now_ >> shift(levels - 1)) + (slots - 1);
  link(t, levels - 1, static_cast<int>(far & (slots - 1)));
}

void timing_wheel::schedule(wheel_timer& t, std::int64_t deadline) {
  t.deadline = deadline;
  place(t);
  ++size_;
}

void timing_wheel::cancel(wheel_timer& t) {
  if (!t.scheduled()) return;
  if (t.prev != nullptr) {
    t.prev->next = t.next;
  } else if (t.level == due_level) {
    due_ = t.next;
  } else {
    heads_[t.level][t.slot] = t.next;
    if (t.next == nullptr) occupied_[t.level] &= ~(std::uint64_t{1} << t.slot);
  }
  if (t.next != nullptr) t.next->prev = t.prev;
  t.prev = t.next = nullptr;
  t.level = -1;
  --size_;
}

std::optional<std::int64_t> timing_wheel::next_at(int level) const {
  const std::uint64_t map = occupied_[level];
  if (map == 0) return std::nullopt;
  const std::int64_t p = now_ >> shift(level);
  // Slots hold positions p+1 .. p+63; rotate so that position p+1 is bit 0.
  const int r = static_cast<int>((p + 1) & (slots - 1));
  const int i = std::countr_zero(std::rotr(map, r));
  return (p + 1 + i) << shift(level);
}

std::optional<std::int64_t> timing_wheel::next_event() const {
  if (due_ != nullptr) return now_;
  std::optional<std::int64_t> best;
  for (int level = 0; level < levels; ++level) {
    const auto at = next_at(level);
    if (at && (!best || *at < *best)) best = at;
  }
  return best;
}

void timing_wheel::cascade(int level, int slot) {
  wheel_timer* t = heads_[level][slot];
  heads_[level][slot] = nullptr;
  occupied_[level] &= ~(std::uint64_t{1} << slot);
  while (t != nullptr) {
    wheel_timer* next = t->next;
    place(*t);
    t = next;
  }
}

std::optional<std::int64_t> timing_wheel::advance(std::int64_t target, std::vector<wheel_timer*>& fired) {
  auto take = [&](wheel_timer*& head) {
    wheel_timer* t = head;
    head = nullptr;
    while (t != nullptr) {
      wheel_timer* next = t->next;
      if (t->deadline > now_) {
        place(*t);  // extended while it waited here: it is due later
      } else {
        t->prev = t->next = nullptr;
        t->level = -1;
        --size_;
        fired.push_back(t);
      }
      t = next;
    }
  };
  for (;;) {
    if (due_ != nullptr) {
      take(due_);
      return now_;
    }
    const auto event = next_event();
    if (!event || *event > target) {
      if (target > now_) now_ = target;
      return std::nullopt;
    }
    now_ = *event;
    for (int level = levels - 1; level >= 1; --level) {
      if ((now_ & ((std::int64_t{1} << shift(level)) - 1)) != 0) continue;
      const int slot = static_cast<int>((now_ >> shift(level)) & (slots - 1));
      if (heads_[level][slot] != nullptr) cascade(level, slot);
    }
    const int slot0 = static_cast<int>(now_ & (slots - 1));
    if (heads_[0][slot0] != nullptr) {
      occupied_[0] &= ~(std::uint64_t{1} << slot0);
      take(heads_[0][slot0]);
    }
    take(due_);  // cascaded timers due exactly now
    if (!fired.empty()) return now_;
  }
}

}  // namespace leasekv::lease
