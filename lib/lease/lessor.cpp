#include "lease/lessor.hpp"

#include "base/time_math.hpp"

#include <algorithm>
#include <memory>
#include <string>

namespace leasekv::lease {

lessor::lessor(key_deleter& deleter, clock::time_point origin, clock::duration tick, std::chrono::milliseconds min_ttl,
               bool huge_pages)
    : deleter_(deleter),
      origin_(origin),
      tick_(tick.count() > 0 ? tick : std::chrono::milliseconds(1)),
      min_ttl_(min_ttl),
      leases_(huge_pages) {}

// Rounded without `d + k - 1`, which overflows for a deadline saturated at the clock's end.
std::int64_t lessor::ticks_ceil(clock::time_point t) const {
  const auto d = base::saturating_sub(t, origin_).count();
  const auto k = tick_.count();
  const auto q = d / k;
  return d % k > 0 ? q + 1 : q;
}

std::int64_t lessor::ticks_floor(clock::time_point t) const {
  const auto d = base::saturating_sub(t, origin_).count();
  const auto k = tick_.count();
  const auto q = d / k;
  return d % k < 0 ? q - 1 : q;
}

result<const lease_record*> lessor::grant(lease_id id, std::chrono::milliseconds ttl, clock::time_point now) {
  if (id == no_lease) return errc::lease_not_found;  // etcd's lessor refuses id 0 the same way
  if (ttl > max_lease_ttl) return errc::lease_ttl_too_large;
  if (ttl < min_ttl_) ttl = min_ttl_;
  if (ttl.count() <= 0) {
    return error(errc::invalid_argument, "lease TTL must be positive, got " + std::to_string(ttl.count()) + " ms");
  }
  if (leases_.find(id) != nullptr) return errc::lease_exists;
  lease_record& rec = leases_.insert(id);
  rec.ttl = ttl;
  rec.expires_at = base::saturating_add(now, ttl);
  wheel_.schedule(rec, ticks_ceil(rec.expires_at));
  return &rec;
}

lease_id lessor::new_id(std::uint64_t random) {
  for (;;) {
    const lease_id id = leases_.id_for_next(random);
    if (leases_.find(id) == nullptr) return id;  // else a caller chose this id: try other upper bits
    random = random * 6364136223846793005ull + 1442695040888963407ull;
  }
}

result<void> lessor::revoke(lease_id id) {
  const lease_record* rec = leases_.find(id);
  if (rec == nullptr) return errc::lease_not_found;
  // 1. Copy the keys; the lease stays whole while they are deleted.
  std::vector<key_ref> keys;
  if (rec->keys) keys.assign(rec->keys->begin(), rec->keys->end());
  // 2. Delete them. The store detaches each deleted key from the lease on the way, as after any delete.
  auto deleted = deleter_.delete_lease_keys(id, keys);
  lease_record* after = leases_.find(id);  // again: the deleter may have called the lessor
  if (!deleted) {
    // Not recorded (a failed write): the lease stays with its keys, due at its own deadline or, if that
    // is sooner, in a second, when the write may succeed.
    if (after != nullptr) {
      const std::int64_t retry = wheel_.now() + std::max<std::int64_t>(1, std::chrono::nanoseconds(std::chrono::seconds(1)) / tick_);
      wheel_.reschedule(*after, std::max(ticks_ceil(after->expires_at), retry));
    }
    return deleted.error();
  }
  // 3. Erase the lease.
  if (after != nullptr) {
    wheel_.cancel(*after);
    leases_.erase(*after);
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<const lease_record*> lessor::renew(lease_id id, clock::time_point now, clock::time_point* before) {
  lease_record* found = leases_.find(id);
  if (found == nullptr) return errc::lease_not_found;
  lease_record& rec = *found;
  if (rec.expires_at <= now) {
    BOOST_OUTCOME_TRYV(revoke(id));
    return errc::lease_not_found;
  }
  if (before != nullptr) *before = rec.expires_at;
  rec.expires_at = base::saturating_add(now, rec.ttl);
  const std::int64_t tick = ticks_ceil(rec.expires_at);
  if (tick >= rec.deadline) {
    wheel_.extend(rec, tick);  // the usual case: renewals only move deadlines later
  } else {
    wheel_.reschedule(rec, tick);
  }
  return &rec;
}

result<void> lessor::restore(lease_id id, std::chrono::milliseconds ttl, clock::time_point expires_at) {
  if (leases_.find(id) != nullptr) return errc::lease_exists;
  lease_record& rec = leases_.insert(id);
  rec.ttl = std::max(ttl, min_ttl_);
  rec.expires_at = expires_at;
  wheel_.schedule(rec, ticks_ceil(expires_at));
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

void lessor::set_deadline(lease_id id, clock::time_point expires_at) {
  lease_record* rec = leases_.find(id);
  if (rec == nullptr) return;
  rec->expires_at = expires_at;
  wheel_.reschedule(*rec, ticks_ceil(expires_at));
}

void lessor::forget(lease_id id) {
  lease_record* rec = leases_.find(id);
  if (rec == nullptr) return;
  wheel_.cancel(*rec);
  leases_.erase(*rec);
}

void lessor::attach(lease_id id, key_ref key) {
  lease_record* rec = leases_.find(id);
  if (rec == nullptr) return;
  if (!rec->keys) rec->keys = std::make_unique<key_set>();
  rec->keys->insert(key);
}

void lessor::detach(lease_id id, key_ref key) {
  lease_record* rec = leases_.find(id);
  if (rec == nullptr || !rec->keys) return;
  rec->keys->erase(key);
}

std::vector<const lease_record*> lessor::by_deadline() const {
  std::vector<const lease_record*> out;
  out.reserve(leases_.size());
  leases_.for_each([&](const lease_record& rec) { out.push_back(&rec); });
  std::sort(out.begin(), out.end(), [](const lease_record* a, const lease_record* b) {
    return a->expires_at != b->expires_at ? a->expires_at < b->expires_at : a->id < b->id;
  });
  return out;
}

std::optional<clock::time_point> lessor::next_event() const {
  const auto tick = wheel_.next_event();
  if (!tick) return std::nullopt;
  // Ticks reach further than the clock's nanoseconds: a tick past them is "never" for the clock.
  if (*tick > clock::duration::max() / tick_) return clock::time_point::max();
  return base::saturating_add(origin_, tick_ * *tick);
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
