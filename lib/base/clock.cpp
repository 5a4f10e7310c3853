// The one file that reads the real clocks. Everything else asks an injected leasekv::clock.
#include "leasekv/clock.hpp"

#include <algorithm>

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
  return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           duration(now_ns_.load(std::memory_order_acquire)));
}

void manual_clock::advance(duration d) {
  if (d.count() > 0) now_ns_.fetch_add(d.count(), std::memory_order_acq_rel);
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
  return std::make_unique<subscription>(std::move(l));
}

manual_clock::subscription::~subscription() {
  std::lock_guard lock(l_->mu);
  l_->active = false;
  l_->fn = nullptr;
}

}  // namespace leasekv
