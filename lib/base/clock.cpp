// The one file that reads the real clocks. Everything else asks an injected leasekv::clock.
#include "leasekv/clock.hpp"

#include <algorithm>
#include <limits>

namespace leasekv {

namespace {

class system_clock_impl final : public clock {
 public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall_now() const noexcept override { return std::chrono::system_clock::now(); }
};

}  // namespace

std::shared_ptr<clock> clock::system() {
  static const std::shared_ptr<clock> instance = std::make_shared<system_clock_impl>();
  return instance;
}

struct manual_clock::listener {
  std::mutex mu;  // held while fn runs
  std::function<void(time_point)> fn;
  bool active = true;
};

manual_clock::manual_clock(std::chrono::system_clock::time_point wall_start) : wall_start_(wall_start) {}

std::chrono::system_clock::time_point manual_clock::wall_now() const noexcept {
  using wall = std::chrono::system_clock;
  const auto elapsed = std::chrono::duration_cast<wall::duration>(duration(now_ns_.load(std::memory_order_acquire)));
  wall::rep out = 0;
  if (__builtin_add_overflow(wall_start_.time_since_epoch().count(), elapsed.count(), &out)) {
    out = std::numeric_limits<wall::rep>::max();
  }
  return wall::time_point(wall::duration(out));
}

void manual_clock::advance(duration d) {
  if (d.count() > 0) {
    // Saturates at the clock's end (~292 years) rather than wrapping into the past.
    std::int64_t cur = now_ns_.load(std::memory_order_acquire);
    std::int64_t next = 0;
    do {
      if (__builtin_add_overflow(cur, d.count(), &next)) next = std::numeric_limits<std::int64_t>::max();
    } while (!now_ns_.compare_exchange_weak(cur, next, std::memory_order_acq_rel));
  }
  const time_point t = now();
  std::vector<std::shared_ptr<listener>> live;
  {
    std::lock_guard lock(mu_);
    std::erase_if(listeners_, [](const std::weak_ptr<listener>& w) { return w.expired(); });
    for (const auto& w : listeners_) {
      if (auto l = w.lock()) live.push_back(std::move(l));
    }
  }
  for (const auto& l : live) {
    std::lock_guard lock(l->mu);
    if (l->active) l->fn(t);
  }
}

std::unique_ptr<manual_clock::subscription> manual_clock::subscribe(std::function<void(time_point)> fn) {
  auto l = std::make_shared<listener>();
  l->fn = std::move(fn);
  {
    std::lock_guard lock(mu_);
    listeners_.push_back(l);
  }
  return std::unique_ptr<subscription>(new subscription(std::move(l)));
}

manual_clock::subscription::~subscription() {
  std::lock_guard lock(l_->mu);
  l_->active = false;
  l_->fn = nullptr;
}

}  // namespace leasekv
