// The hash index: finds one key's entry (key_index.hpp) in O(1), for put, get and delete of one key,
// and the hash it finds it by (hash_key).
//
// Thread safety: none; kv_store's caller holds the store's lock.
#pragma once

#include "mvcc/key_index.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace leasekv::base {
class prefaulter;
}

namespace leasekv::mvcc {

// The hash of a key, as key_entry::hash holds it: the index takes a slot from its top bits and a tag
// from all 32.
std::uint32_t hash_key(std::string_view key) noexcept;

// Open addressing with linear probing, at most 3/4 full. A slot holds a key_entry pointer with 16 bits of
// the key's hash in the pointer's unused top bits, so a probe skips non-matching slots without touching
// their entries (a cache miss each). Where pointers use those bits, tagging turns itself off.
class hash_index {
 public:
  // huge_pages: see options::huge_pages. `prefault`, if not null, faults a growing table's pages in while
  // it is filled (see rebuild). REQUIRES: it outlives the index.
  explicit hash_index(bool huge_pages = true, base::prefaulter* prefault = nullptr);
  ~hash_index();
  hash_index(const hash_index&) = delete;
  hash_index& operator=(const hash_index&) = delete;

  key_entry* find(std::string_view key, std::uint32_t hash) const;
  // Starts loading the slot where a search for `hash` begins.
  void prefetch(std::uint32_t hash) const { __builtin_prefetch(slots_ + home(hash, capacity_)); }
  // The first entry of `hash`'s probe run whose tag matches, likely (not surely) the one with the key; or
  // null when the run has none, so the key is surely absent. Reads slots only.
  const key_entry* candidate(std::uint32_t hash) const;
  // REQUIRES: no entry with e's key is present.
  void insert(key_entry* e);
  // REQUIRES: e is present.
  void erase(const key_entry* e);
  std::size_t size() const { return size_; }

 private:
  static constexpr int tag_shift = 48;
  static constexpr std::uintptr_t pointer_mask = (std::uintptr_t{1} << tag_shift) - 1;
  std::uintptr_t tag_of(std::uint32_t hash) const {
    // Mixed so that entries sharing a probe run (equal low bits) still get different tags.
    return tagging_ ? std::uintptr_t{(hash * 0x9E3779B1u) >> 16} << tag_shift : 0;
  }
  static key_entry* entry_of(std::uintptr_t slot) { return reinterpret_cast<key_entry*>(slot & pointer_mask); }
  static std::size_t home(std::uint32_t hash, std::size_t capacity);
  // The first entry of `hash`'s probe run whose tag matches and for which match(entry) holds, or null.
  template <class Match>
  key_entry* probe(std::uint32_t hash, Match match) const;
  // Puts `e` in the first free slot from `i` on (its home in `slots`).
  void place_at(std::uintptr_t* slots, std::size_t capacity, std::size_t i, key_entry* e) const;
  void rebuild(std::size_t capacity);
  // Asks prefaulter_ for a new table's pages after its first (tables of two huge pages and more).
  void prefault(void* table, std::size_t bytes);
  // Frees slots_, first taking back whatever was asked of prefaulter_ for it.
  void free_table() noexcept;

  // A region of its own (huge pages once it is 2 MiB), so a probe costs one cache miss and no TLB miss.
  std::uintptr_t* slots_ = nullptr;  // 0: empty
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  bool huge_pages_ = true;
  bool tagging_ = sizeof(void*) == 8;
  // Faults a new table's pages in while rebuild() fills it (see prefault); not owned, null: none.
  base::prefaulter* prefaulter_ = nullptr;
};

}  // namespace leasekv::mvcc
