#include "lease/lessor.hpp"

#include <algorithm>
#include <string>

namespace leasekv::lease {
lessor::lessor(key_deleter& deleter, clock::time_point origin, clock::duration tick, std::chrono::milliseconds min_ttl)
    : deleter_(deleter), origin_(origin), tick_(tick.count() > 0 ? tick : std::chrono::milliseconds(1)), min_ttl_(min_ttl) {}

std::int64_t lessor::ticks_ceil(clock::time_point t) const {
  const auto d = (t - origin_).count();
  const auto k = tick_.count();
  return d >= 0 ? (d + k - 1) / k : -((-d) / k);
}

std::int64_t lessor::ticks_floor(clock::time_point t) const {
  const auto d = (t - origin_).count();
  const auto k = tick_.count();
  return d >= 0 ? d / k : -((-d + k - 1) / k);
}

result<const lease_record*> lessor::grant(lease_id id, std::chrono::milliseconds ttl, clock::time_point now) {
  if (id == no_lease) return errc::lease_not_found;  // etcd's lessor refuses id 0 the same way
  if (ttl > max_lease_ttl) return errc::lease_ttl_too_large;
  if (ttl < min_ttl_) ttl = min_ttl_;
  if (ttl.count() <= 0) {
    set_last_error_detail("lease TTL must be positive, got " + std::to_string(ttl.count()) + " ms");
    return errc::invalid_argument;
  }
  if (leases_.count(id) != 0) return errc::lease_exists;
  auto rec = std::make_unique<lease_record>();
  rec->id = id;
  rec->ttl = ttl;
  rec->expires_at = now + ttl;
  wheel_.schedule(*rec, ticks_ceil(rec->expires_at));
  const lease_record* out = rec.get();
  leases_.emplace(id, std::move(rec));
  return out;
}

result<void> lessor::revoke(lease_id id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return errc::lease_not_found;
  lease_record& rec = *it->second;
  wheel_.cancel(rec);
  std::vector<std::string> keys(rec.keys.begin(), rec.keys.end());
  std::sort(keys.begin(), keys.end());
  auto deleted = deleter_.delete_lease_keys(id, keys);  // detaches them through the store's change handling
  if (!deleted) {
    // Not recorded (a failed write): the lease stays, due at its own deadline or, if that has passed,
    // again in a second, when the write may succeed.
    if (auto again = leases_.find(id); again != leases_.end() && !again->second->scheduled()) {
      const std::int64_t retry = wheel_.now() + std::max<std::int64_t>(1, std::chrono::nanoseconds(std::chrono::seconds(1)) / tick_);
      wheel_.schedule(*again->second, std::max(ticks_ceil(again->second->expires_at), retry));
    }
    return deleted.error();
  }
  leases_.erase(id);  // `it` may be stale: the deleter called back into us
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<const lease_record*> lessor::renew(lease_id id, clock::time_point now) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return errc::lease_not_found;
  lease_record& rec = *it->second;
  if (rec.expires_at <= now) {
    BOOST_OUTCOME_TRYV(revoke(id));
    return errc::lease_not_found;
  }
  rec.expires_at = now + rec.ttl;
  const std::int64_t tick = ticks_ceil(rec.expires_at);
  if (tick >= rec.deadline) {
    wheel_.extend(rec, tick);  // the usual case: renewals only move deadlines later
  } else {
    wheel_.reschedule(rec, tick);
  }
  return &rec;
}

result<void> lessor::restore(lease_id id, std::chrono::milliseconds ttl, clock::time_point expires_at) {
  if (leases_.count(id) != 0) return errc::lease_exists;
  auto rec = std::make_unique<lease_record>();
  rec->id = id;
  rec->ttl = std::max(ttl, min_ttl_);
  rec->expires_at = expires_at;
  wheel_.schedule(*rec, ticks_ceil(expires_at));
  leases_.emplace(id, std::move(rec));
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

void lessor::set_deadline(lease_id id, clock::time_point expires_at) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  it->second->expires_at = expires_at;
  wheel_.reschedule(*it->second, ticks_ceil(expires_at));
}

void lessor::forget(lease_id id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  wheel_.cancel(*it->second);
  leases_.erase(it);
}

const lease_record* lessor::find(lease_id id) const {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : it->second.get();
}

void lessor::attach(lease_id id, std::string_view key) {
  if (auto it = leases_.find(id); it != leases_.end()) it->second->keys.emplace(key);
}

void lessor::detach(lease_id id, std::string_view key) {
  if (auto it = leases_.find(id); it != leases_.end()) it->second->keys.erase(std::string(key));
}

std::vector<const lease_record*> lessor::by_deadline() const {
  std::vector<const lease_record*> out;
  out.reserve(leases_.size());
  for (const auto& [id, rec] : leases_) out.push_back(rec.get());
  std::sort(out.begin(), out.end(), [](const lease_record* a, const lease_record* b) {
    return a->expires_at != b->expires_at ? a->expires_at < b->expires_at : a->id < b->id;
  });
  return out;
}

std::optional<clock::time_point> lessor::next_event() const {
  const auto tick = wheel_.next_event();
  if (!tick) return std::nullopt;
  return origin_ + tick_ * *tick;
}

bool lessor::pop_due(clock::time_point now, std::vector<lease_id>& due) {
  fired_.clear();
  if (!wheel_.advance(ticks_floor(now), fired_)) return false;
  // Deterministic order within a tick: by deadline, then id.
  std::sort(fired_.begin(), fired_.end(), [](const wheel_timer* x, const wheel_timer* y) {
    const auto* a = static_cast<const lease_record*>(x);
    const auto* b = static_cast<const lease_record*>(y);
    return a->expires_at != b->expires_at ? a->expires_at < b->expires_at : a->id < b->id;
  });
  for (wheel_timer* t : fired_) due.push_back(static_cast<lease_record*>(t)->id);
  return true;
}

}  // namespace leasekv::lease
