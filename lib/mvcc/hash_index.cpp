#include "mvcc/hash_index.hpp"

#include "base/prefaulter.hpp"
#include "base/region.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <new>

namespace leasekv::mvcc {

// 8 bytes at a time, each folded in with a multiply, then splitmix64's finalizer so that every bit of
// the result depends on every bit of the key: the index uses the top bits for a slot (home) and a
// product of all 32 for a slot's tag. ~55 instructions for a 23-byte key; std::hash took ~100.
std::uint32_t hash_key(std::string_view key) noexcept {
  constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = k ^ key.size();
  const char* p = key.data();
  std::size_t n = key.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * k;
    h ^= h >> 32;
  }
  if (n > 0) {  // the last 1-7 bytes, without a loop over them
    std::uint64_t w;
    if (key.size() >= 8) {
      std::memcpy(&w, key.data() + key.size() - 8, 8);  // overlaps bytes already folded in: shift them out
      if constexpr (std::endian::native == std::endian::little) {
        w >>= 8 * (8 - n);
      } else {
        w <<= 8 * (8 - n);
      }
    } else if (n >= 4) {
      std::uint32_t a;
      std::uint32_t b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      w = std::uint64_t{b} << 32 | a;
    } else {
      const auto byte = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
      w = byte(0) << 16 | byte(n / 2) << 8 | byte(n - 1);
    }
    h = (h ^ w) * k;
  }
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  h ^= h >> 31;
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

hash_index::hash_index(bool huge_pages, base::prefaulter* prefault) : huge_pages_(huge_pages), prefaulter_(prefault) {
  rebuild(16);
}

hash_index::~hash_index() { free_table(); }

// Capacities are not powers of two (they grow by half), so a million keys take 1.35M slots rather than
// 2M: a slot's home is the hash scaled to the capacity (Lemire's multiply-shift), not a mask of it.
std::size_t hash_index::home(std::uint32_t hash, std::size_t capacity) {
  return static_cast<std::size_t>((std::uint64_t{hash} * capacity) >> 32);
}

template <class Match>
key_entry* hash_index::probe(std::uint32_t hash, Match match) const {
  const std::uintptr_t tag = tag_of(hash);
  const std::size_t n = capacity_;
  for (std::size_t i = home(hash, n);; i = i + 1 == n ? 0 : i + 1) {
    const std::uintptr_t slot = slots_[i];
    if (slot == 0) return nullptr;
    if ((slot & ~pointer_mask) == tag && match(*entry_of(slot))) return entry_of(slot);
  }
}

key_entry* hash_index::find(std::string_view key, std::uint32_t hash) const {
  return probe(hash, [&](const key_entry& e) { return e.hash == hash && e.key() == key; });
}

const key_entry* hash_index::candidate(std::uint32_t hash) const {
  return probe(hash, [](const key_entry&) { return true; });  // the entry itself is not read
}

void hash_index::place_at(std::uintptr_t* slots, std::size_t capacity, std::size_t i, key_entry* e) const {
  while (slots[i] != 0) i = i + 1 == capacity ? 0 : i + 1;
  slots[i] = reinterpret_cast<std::uintptr_t>(e) | tag_of(e->hash);
}

void hash_index::rebuild(std::size_t capacity) {
  const std::size_t bytes = capacity * sizeof(std::uintptr_t);
  auto* fresh = static_cast<std::uintptr_t*>(base::allocate_region(bytes, huge_pages_));
  if (!base::region_is_zeroed(bytes)) std::fill_n(fresh, capacity, std::uintptr_t{0});
  prefault(fresh, bytes);
  // Placing an entry reads its hash and writes a random slot of the new table: two cache misses, which
  // batches of entries take in three passes so that the misses of a pass overlap (a million keys: the
  // rebuilds before the last place two million entries).
  constexpr std::size_t batch = 64;
  std::array<key_entry*, batch> entries;
  std::array<std::size_t, batch> homes;
  for (std::size_t i = 0; i < capacity_;) {
    std::size_t n = 0;
    for (; i < capacity_ && n < batch; ++i) {
      if (slots_[i] == 0) continue;
      entries[n] = entry_of(slots_[i]);
      __builtin_prefetch(entries[n++]);
    }
    for (std::size_t k = 0; k < n; ++k) {
      homes[k] = home(entries[k]->hash, capacity);
      __builtin_prefetch(fresh + homes[k], 1);
    }
    for (std::size_t k = 0; k < n; ++k) place_at(fresh, capacity, homes[k], entries[k]);
  }
  if (slots_ != nullptr) free_table();
  slots_ = fresh;
  capacity_ = capacity;
}

// The placing in rebuild() writes the new table almost in order (homes grow with the hash, and the old
// table is read in order). The first write to each page
// faults it in: zeroing 2 MiB, and on a VM whose host takes freed memory back, a host fault as long again
// as the placing. The prefaulter takes the pages after the first, in order, and so stays ahead of the
// placing; where it cannot start, or there is none (options::prefault_memory off), the placing faults
// them in itself.
void hash_index::prefault(void* table, std::size_t bytes) {
  constexpr std::size_t page = base::huge_page_size;
  if (prefaulter_ == nullptr || bytes < 2 * page) return;
  try {
    for (std::size_t off = page; off < bytes; off += page) {
      prefaulter_->request(static_cast<char*>(table) + off, std::min(page, bytes - off));
    }
  } catch (const std::bad_alloc&) {
    // The pages not asked for are faulted in as they are written.
  }
}

void hash_index::free_table() noexcept {
  const std::size_t bytes = capacity_ * sizeof(std::uintptr_t);
  if (prefaulter_ != nullptr && bytes >= 2 * base::huge_page_size) prefaulter_->forget(slots_, bytes);  // see prefault
  base::free_region(slots_, bytes);
}

void hash_index::insert(key_entry* e) {
  if (tagging_ && (reinterpret_cast<std::uintptr_t>(e) & ~pointer_mask) != 0) {
    tagging_ = false;  // this platform's pointers use the top bits: store them untagged
    rebuild(capacity_);
  }
  if ((size_ + 1) * 4 > capacity_ * 3) rebuild(capacity_ + capacity_ / 2);  // load <= 3/4
  place_at(slots_, capacity_, home(e->hash, capacity_), e);
  ++size_;
}

void hash_index::erase(const key_entry* e) {
  const std::size_t n = capacity_;
  auto next = [n](std::size_t i) { return i + 1 == n ? 0 : i + 1; };
  std::size_t i = home(e->hash, n);
  while (entry_of(slots_[i]) != e) i = next(i);
  // Backward-shift deletion: move later members of the probe run into the hole so lookups that pass
  // over it still find them.
  std::size_t hole = i;
  for (std::size_t j = next(i); slots_[j] != 0; j = next(j)) {
    const std::size_t h = home(entry_of(slots_[j])->hash, n);
    // slots_[j] may move into the hole iff its home is not cyclically within (hole, j].
    const bool home_in_range = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (!home_in_range) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
  --size_;
}

}  // namespace leasekv::mvcc
