// The lessor: leases, their attached keys, and their expiry on a timing wheel.
//
// It knows nothing of the MVCC store: revoking a lease hands its keys to a key_deleter (the store), which
// deletes them at one revision. Attachments are updated by the store from each write group's changes
// (attach/detach), exactly as etcd's mvcc write txn does; the leases and their ids are kept in a
// lease_table (lease_table.hpp).
//
// Revoking, in three steps, as etcd's lessor does: the lease's keys are copied; the deleter deletes them
// (and, as after any delete, the store detaches them from the lease, which is still whole); then the
// lease is erased. The deleter is the only call out of the lessor, and nothing is half done around it.
//
// Time: deadlines are clock time points; the wheel counts ticks of `tick` from `origin`. A deadline is
// rounded up to a tick and a wheel advance to `now` is rounded down, so a lease never expires before its
// deadline and at most one tick after it (given a driver that advances on time).
//
// Thread safety: none; the store serializes access under its lock.
#pragma once

#include "leasekv/clock.hpp"
#include "leasekv/error.hpp"
#include "leasekv/lease.hpp"
#include "leasekv/types.hpp"
#include "lease/lease_table.hpp"
#include "lease/timing_wheel.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace leasekv::lease {

// What the lessor needs from the store.
class key_deleter {
 public:
  // Deletes `keys` (all attached to lease `id`, in no order) at one revision, and records the revoke.
  // Called with the store's lock held, by lessor::revoke (and by renew, which revokes an expired lease).
  // It may reorder `keys`. During the call the lease is exactly as before the revoke: granted, its keys
  // attached, its timer as it was; the deleter may call the lessor (the store detaches the keys it
  // deletes, as after any delete), and revoke looks the lease up again afterwards. On failure nothing
  // changed and the lease stays.
  virtual result<void> delete_lease_keys(lease_id id, std::vector<key_ref>& keys) = 0;

 protected:
  ~key_deleter() = default;
};

class lessor {
 public:
  lessor(key_deleter& deleter, clock::time_point origin, clock::duration tick, std::chrono::milliseconds min_ttl,
         bool huge_pages = true);
  lessor(const lessor&) = delete;
  lessor& operator=(const lessor&) = delete;

  // Grants lease `id` (non-zero) for `ttl` from `now`. TTLs below the minimum are raised to it. Fails with
  // lease_exists, lease_ttl_too_large (above max_lease_ttl) or invalid_argument (ttl <= 0 with no minimum).
  result<const lease_record*> grant(lease_id id, std::chrono::milliseconds ttl, clock::time_point now);

  // Deletes the lease's keys (one revision, through the key_deleter), then the lease: the keys are copied
  // and handed to the deleter while the lease is still whole, and the lease is erased once the deleter
  // succeeded. If it fails, its error is returned and the lease stays, with the keys still attached, due
  // at its deadline or, if that is less than a second away, in a second. Fails with lease_not_found.
  result<void> revoke(lease_id id);

  // Restores the full TTL from `now`, and sets `*before` (if given) to the deadline it replaced. A lease
  // whose deadline has passed is revoked here instead and the call fails with lease_not_found: an expired
  // lease is never resurrected.
  result<const lease_record*> renew(lease_id id, clock::time_point now, clock::time_point* before = nullptr);

  // Replaying the log: a lease as it was granted (with its deadline), a renewal's new deadline, and a
  // lease that was revoked (its keys' deletions are replayed by the store).
  result<void> restore(lease_id id, std::chrono::milliseconds ttl, clock::time_point expires_at);
  void set_deadline(lease_id id, clock::time_point expires_at);
  void forget(lease_id id);

  const lease_record* find(lease_id id) const { return leases_.find(id); }
  // See lease_table::prefetch: callers may call it before taking the lock that guards the lessor.
  void prefetch(lease_id id) const { leases_.prefetch(id); }
  std::size_t size() const { return leases_.size(); }
  // A new lease id, unused, non-zero and positive, that finds its lease fastest; `random` picks most of
  // its bits.
  lease_id new_id(std::uint64_t random);

  // Attachment bookkeeping; unknown leases are ignored.
  void attach(lease_id id, key_ref key);
  void detach(lease_id id, key_ref key);

  // Every lease, soonest deadline first (ties by id).
  std::vector<const lease_record*> by_deadline() const;

  // When the wheel next has something to do (an expiry or a cascade), or nullopt if no lease exists.
  std::optional<clock::time_point> next_event() const;

  // Pops the leases whose deadlines passed by `now`, earliest tick first: appends their ids to `due` (by
  // deadline, then id) and returns true, or returns false when none is due up to `now`. They stay granted until revoked.
  bool pop_due(clock::time_point now, std::vector<lease_id>& due);

 private:
  std::int64_t ticks_ceil(clock::time_point t) const;
  std::int64_t ticks_floor(clock::time_point t) const;

  key_deleter& deleter_;
  const clock::time_point origin_;
  const clock::duration tick_;
  const std::chrono::milliseconds min_ttl_;
  timing_wheel wheel_;
  lease_table leases_;
  std::vector<wheel_timer*> fired_;  // scratch for pop_due
};

}  // namespace leasekv::lease
