// The puts a store holds back (docs/design.md, "Puts in a row"): a buffer of their keys, values and
// leases, in order, that applies them to the kv store together (mvcc::kv_store::apply_puts), each exactly
// as it would have been applied at once. What a put must be to be held back is here (may_hold); when
// the store holds puts back and when it applies them is the store's to decide (embedded_store::impl::can_defer,
// apply_deferred).
//
// Thread safety: none; the store's lock guards it.
#pragma once

#include "leasekv/types.hpp"
#include "mvcc/kv_store.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv::detail {

class held_back_puts {
 public:
  // The most puts held at once: as many as apply_puts loads together.
  static constexpr std::size_t capacity = mvcc::kv_store::put_batch;
  // A put whose key and value together are larger is never held back.
  static constexpr std::size_t max_put_bytes = 4096;

  // Whether a put may be held back as far as the put itself goes: it returns nothing read from the
  // store (prev_kv), reads nothing from its key (ignore_value, ignore_lease), and is small.
  static bool may_hold(std::string_view key, std::string_view value, const put_options& o) {
    return !o.prev_kv && !o.ignore_value && !o.ignore_lease && key.size() + value.size() <= max_put_bytes;
  }

  bool empty() const { return puts_.empty(); }
  std::size_t size() const { return puts_.size(); }
  bool full() const { return puts_.size() == capacity; }
  // What applying them will add to kv_store::bytes(), for quota checks.
  std::uint64_t bytes() const { return data_.size() + puts_.size() * mvcc::kv_store::version_overhead; }

  // Holds a put back, after those held already. REQUIRES: !full().
  void add(std::string_view key, std::string_view value, lease_id lease) {
    puts_.push_back({static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(value.size()), lease});
    data_.append(key).append(value);
  }

  // Applies the held puts in order, each in a write group of its own, calling committed() after each
  // group ends; then none is held. If a put or committed() throws (out of memory), the puts applied
  // before it are no longer held, the rest stay held for the next try, and the exception propagates.
  template <class Committed>
  void apply(mvcc::kv_store& kv, Committed&& committed);

 private:
  // Fills `out` with the held puts, in order (viewing data_); returns how many.
  std::size_t view(std::array<mvcc::pending_put, capacity>& out) const;
  // Forgets the first n held puts.
  void drop_front(std::size_t n);

  struct held_put {
    std::uint32_t key_size;
    std::uint32_t value_size;
    lease_id lease;
  };
  std::vector<held_put> puts_;
  std::string data_;  // the held puts' keys and values, back to back, in order
};

template <class Committed>
void held_back_puts::apply(mvcc::kv_store& kv, Committed&& committed) {
  std::array<mvcc::pending_put, capacity> batch;
  const std::size_t n = view(batch);
  std::size_t applied = 0;
  try {
    kv.apply_puts(std::span(batch.data(), n), [&] {
      committed();
      ++applied;
    });
  } catch (...) {
    drop_front(applied);
    throw;
  }
  puts_.clear();
  data_.clear();
}

}  // namespace leasekv::detail
