#include "lease/lease_table.hpp"

#include "base/region.hpp"

#include <new>

namespace leasekv::lease {

lease_id lease_table::id_of(std::uint32_t slot, std::uint64_t random) {
  std::uint32_t upper = static_cast<std::uint32_t>(random >> 33);  // 31 bits: the id stays positive
  if (upper == 0) upper = 1;
  return static_cast<lease_id>((std::uint64_t{upper} << 32) | (slot ^ slot_mask(upper)));
}

lease_table::~lease_table() {
  for (std::size_t c = 0; c < chunk_count_; ++c) {
    lease_record* recs = chunks_[c].load(std::memory_order_relaxed);
    const std::size_t n = std::size_t{first_chunk} << c;
    for (std::size_t i = 0; i < n; ++i) recs[i].~lease_record();
    base::free_region(recs, n * sizeof(lease_record));
  }
}

void lease_table::prefetch(lease_id id) const {
  static_assert(static_cast<std::size_t>(std::bit_width(UINT32_MAX / first_chunk + 1)) - 1 < max_chunks);
  const auto [c, at] = locate(slot_of(id));  // so c < max_chunks for every slot
  if (const lease_record* recs = chunks_[c].load(std::memory_order_relaxed)) __builtin_prefetch(recs + at, 1);
}

void lease_table::extend_to(std::uint32_t slots) {
  // The chunks so far hold first_chunk * (2^chunk_count_ - 1) slots.
  while (first_chunk * ((std::size_t{1} << chunk_count_) - 1) < slots) {
    if (chunk_count_ == max_chunks) throw std::bad_alloc();
    const std::size_t n = std::size_t{first_chunk} << chunk_count_;
    const std::size_t bytes = n * sizeof(lease_record);
    static_assert(alignof(lease_record) <= 64);  // what allocate_region promises
    void* mem = base::allocate_region(bytes, huge_pages_);
    auto* recs = static_cast<lease_record*>(mem);
    for (std::size_t i = 0; i < n; ++i) new (recs + i) lease_record;
    chunks_[chunk_count_++].store(recs, std::memory_order_relaxed);
  }
  while (used_ < slots) free_.push_back(used_++);
}

std::uint32_t lease_table::next_free() {
  while (!free_.empty() && slot(free_.back()).id != no_lease) free_.pop_back();  // taken since by its own id
  if (free_.empty()) extend_to(used_ + 1);
  return free_.back();
}

lease_record* lease_table::find_elsewhere(lease_id id) const {
  if (elsewhere_.empty()) return nullptr;
  const auto it = elsewhere_.find(id);
  return it == elsewhere_.end() ? nullptr : &slot(it->second);
}

lease_id lease_table::id_for_next(std::uint64_t random) { return id_of(next_free(), random); }

lease_record& lease_table::insert(lease_id id) {
  std::uint32_t i = slot_of(id);
  // An id takes the slot it names if that is free. New slots are made for it only just past the used
  // ones: caller ids name random slots, and a looser bound (say, twice what is used) would let the
  // table grow a little with each one that lands inside it, geometrically, until it fills memory.
  const bool own = i < used_ ? slot(i).id == no_lease : i < std::uint64_t{used_} + 64;
  if (own) {
    if (i >= used_) extend_to(i + 1);
  } else {
    i = next_free();
    elsewhere_.emplace(id, i);
  }
  lease_record& r = slot(i);
  r.id = id;
  ++size_;
  return r;
}

void lease_table::erase(lease_record& rec) {
  std::uint32_t i = slot_of(rec.id);
  if (i >= used_ || &slot(i) != &rec) {
    const auto it = elsewhere_.find(rec.id);
    i = it->second;
    elsewhere_.erase(it);
  }
  rec.id = no_lease;
  rec.ttl = std::chrono::milliseconds(0);
  rec.keys.reset();
  free_.push_back(i);
  --size_;
}

}  // namespace leasekv::lease
