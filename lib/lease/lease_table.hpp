// The lease table: every lease's record (lease_record), by id, and the encoding of the ids the lessor
// chooses, each naming its record's slot.
//
// Thread safety: none; the lessor's owner serializes access (prefetch() excepted: see there).
#pragma once

#include "leasekv/clock.hpp"
#include "leasekv/types.hpp"
#include "lease/timing_wheel.hpp"

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace leasekv::mvcc {
struct key_entry;
}

namespace leasekv::lease {

// A key attached to a lease is named by the store's index entry for it, which the lessor never reads: the
// store keeps an entry while its key is alive, and a key leaves its lease (detach) when it is deleted or
// put without it. So a revoke hands the store its keys' entries, with no string to copy, hash or look up.
using key_ref = const mvcc::key_entry*;
using key_set = std::unordered_set<key_ref>;

// A lease is its own wheel timer, so a fired timer leads straight back to its lease. Everything a renewal
// reads or writes (the timer, id, TTL, deadline) shares one cache line; the attached keys live
// elsewhere and only once there are any.
struct alignas(64) lease_record : wheel_timer {
  lease_id id = no_lease;            // no_lease: a free slot of the lease table
  std::chrono::milliseconds ttl{0};  // granted (after the minimum-TTL raise)
  clock::time_point expires_at;      // the deadline; the wheel holds it rounded up to a tick
  std::unique_ptr<key_set> keys;     // attached keys, or null for none
};
static_assert(sizeof(void*) != 8 || sizeof(lease_record) == 64, "a lease record is one cache line");

// The leases, by id, in slots that never move. An id the lessor chooses names its slot (see
// lease_table::id_of), so finding it is one slot read; other ids (chosen by callers, or restored where
// their slot was taken) are found through a small hash map. Slots live in chunks that double in size (64,
// 128, ...); chunks of 2 MiB and more ask for transparent huge pages (unless told not to), so a million
// leases cost no TLB misses.
class lease_table {
 public:
  explicit lease_table(bool huge_pages = true) : huge_pages_(huge_pages) {}
  lease_table(const lease_table&) = delete;
  lease_table& operator=(const lease_table&) = delete;
  ~lease_table();

  lease_record* find(lease_id id) const {
    // The usual case inline (a renewal's one lookup): an id naming its own slot.
    if (const std::uint32_t i = slot_of(id); i < used_) {
      if (lease_record& r = slot(i); r.id == id && id != no_lease) return &r;
    }
    return find_elsewhere(id);
  }
  // Starts loading the slot `id` names into the cache. Safe without the owner's lock and for any id: it
  // reads nothing but chunk pointers, which never change once set.
  void prefetch(lease_id id) const;
  // A fresh id naming the slot the next insert() without a slot of its own would take; `random` picks
  // its upper bits. It may collide with a caller-chosen id: check with find().
  lease_id id_for_next(std::uint64_t random);
  // REQUIRES: find(id) == nullptr. Returns the new lease's slot, with only `id` set.
  lease_record& insert(lease_id id);
  // REQUIRES: rec is in the table. Frees its slot.
  void erase(lease_record& rec);
  std::size_t size() const { return size_; }
  std::size_t slots() const { return used_; }  // slots ever handed out

  template <class F>
  void for_each(F&& f) const {
    for (std::uint32_t i = 0; i < used_; ++i) {
      if (const lease_record& r = slot(i); r.id != no_lease) f(r);
    }
  }

 private:
  static constexpr std::uint32_t first_chunk = 64;
  // The lower half of an id the table chose is its slot, masked by a function of the upper half, so ids
  // look random rather than counting.
  static std::uint32_t slot_mask(std::uint32_t upper) {
    return static_cast<std::uint32_t>((upper * 0x9E3779B97F4A7C15ull) >> 32);
  }
  static std::uint32_t slot_of(lease_id id) {
    const auto bits = static_cast<std::uint64_t>(id);
    return static_cast<std::uint32_t>(bits) ^ slot_mask(static_cast<std::uint32_t>(bits >> 32));
  }
  static lease_id id_of(std::uint32_t slot, std::uint64_t random);
  // Chunk c holds slots [first_chunk * (2^c - 1), first_chunk * (2^(c+1) - 1)): returns chunk, index in it.
  static std::pair<std::size_t, std::size_t> locate(std::uint32_t i) {
    const auto c = static_cast<std::size_t>(std::bit_width(i / first_chunk + 1) - 1);
    return {c, i - first_chunk * ((std::size_t{1} << c) - 1)};
  }
  lease_record& slot(std::uint32_t i) const {
    const auto [c, at] = locate(i);
    return chunks_[c].load(std::memory_order_relaxed)[at];
  }
  lease_record* find_elsewhere(lease_id id) const;  // find() past its own slot
  std::uint32_t next_free();
  void extend_to(std::uint32_t slots);  // makes slots [0, slots) exist

  static constexpr std::size_t max_chunks = 27;  // 64 * (2^27 - 1) slots: more than ids can name
  std::array<std::atomic<lease_record*>, max_chunks> chunks_{};  // chunk c holds first_chunk << c slots
  std::size_t chunk_count_ = 0;
  std::uint32_t used_ = 0;             // slots [0, used_) have been handed out at least once
  std::size_t size_ = 0;
  std::vector<std::uint32_t> free_;  // freed slots; an entry may since have been taken by its own id
  std::unordered_map<lease_id, std::uint32_t> elsewhere_;  // ids not in the slot they name
  bool huge_pages_ = true;
};

}  // namespace leasekv::lease
