// The key index: every key's history, newest first, and two indexes over the keys.
//
// A key is one key_entry (its bytes inline) pointing at a chain of key_versions, newest first. A version
// is a put (version >= 1, with its value inline) or a tombstone (version == 0) that ends a generation.
// Versions are immutable once linked, so readers walk a chain without copying it.
//
// Worked example (compare etcd's keyIndex comment). Key "foo" is put at 1.0, 2.0, deleted at 3.0, put at
// 4.0 and 5.0:
//
//   entry "foo" -> [5.0 v2 create 4] -> [4.0 v1 create 4] -> [3.0 tombstone] -> [2.0 v2 create 1]
//                  -> [1.0 v1 create 1]
//
//   read at 5 or 4: the newest version with main <= rev: v2 / v1 of the second generation;
//   read at 3: the tombstone: "foo" does not exist; read at 2: v2 of the first generation.
//
// Compacting at revision R keeps, per key, every version newer than R plus the newest version <= R,
// unless that one is a tombstone; a key left with no version leaves the index:
//
//   compact(2): [5.0] -> [4.0] -> [3.0 tombstone] -> [2.0]              (1.0 freed)
//   compact(3): [5.0] -> [4.0]                                            (3.0 tombstone freed too)
//   compact(6): [5.0]
//   and after a delete at 6.0, compact(6) frees the whole entry.
//
// The indexes: hash_index (here) finds one key in O(1) (put, get, delete of one key); ordered_index
// (ordered_index.hpp) keeps the keys sorted for ranges.
//
// Thread safety: none here; kv_store's caller holds the store's lock.
#pragma once

#include "base/memory.hpp"
#include "mvcc/revision.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv::mvcc {

// A version of a key, its value inline after it. A key's first version since its creation (the one a put
// of a new key makes: create revision = its own, version 1) is 32 bytes and its value; any other version,
// and a tombstone, carries its create revision and version too, 16 bytes more. At a million keys of one
// version each that is 16 MB less memory, all of it freshly faulted in when the keys are put.
struct key_version {
  key_version* older = nullptr;  // owned: the rest of the chain
  std::int64_t mod_main = 0;
  std::int64_t lease = 0;
  std::uint32_t value_size = 0;

  revision rev() const { return {mod_main, sub_ & ~first_flag}; }
  std::int64_t create_revision() const { return first() ? mod_main : extra()[0]; }  // 0 for a tombstone
  std::int64_t version() const { return first() ? 1 : extra()[1]; }                 // 0 for a tombstone
  bool tombstone() const { return version() == 0; }
  std::string_view value() const { return {data() + (first() ? 0 : extra_bytes), value_size}; }
  // Starts loading every field (through a later version's create revision and version), not the value.
  void prefetch_fields() const {
    __builtin_prefetch(this);
    __builtin_prefetch(data() + extra_bytes - 1);
  }

  // Allocates a version with `value` stored inline from `a`. Free it with destroy() on the same arena.
  static key_version* make(base::node_arena& a, revision rev, std::int64_t create_revision, std::int64_t version,
                           std::int64_t lease, std::string_view value);
  static key_version* make_tombstone(base::node_arena& a, revision rev);
  static void destroy(base::node_arena& a, key_version* v) noexcept;
  // Frees `v` and every version older than it.
  static void destroy_chain(base::node_arena& a, key_version* v) noexcept;

 private:
  static constexpr std::uint32_t first_flag = std::uint32_t{1} << 31;
  static constexpr std::size_t extra_bytes = 2 * sizeof(std::int64_t);
  bool first() const { return (sub_ & first_flag) != 0; }
  const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  const std::int64_t* extra() const { return reinterpret_cast<const std::int64_t*>(this + 1); }
  std::size_t bytes() const { return sizeof(key_version) + (first() ? 0 : extra_bytes) + value_size; }

  std::uint32_t sub_ = 0;  // the sub-revision; first_flag: the key's first version (no create revision
                           // and version stored)
};
static_assert(sizeof(key_version) == 32);

struct key_entry {
  key_version* head = nullptr;  // owned: newest version first
  std::uint32_t hash = 0;
  std::uint32_t key_size = 0;

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }

  // The newest version with main revision <= rev, or null if there is none. A tombstone is returned as
  // such: the caller decides what "deleted" means.
  const key_version* at(std::int64_t rev) const {
    const key_version* v = head;
    while (v != nullptr && v->mod_main > rev) v = v->older;
    return v;
  }
  // The live version at rev: a put, or null if the key did not exist then.
  const key_version* live_at(std::int64_t rev) const {
    const key_version* v = at(rev);
    return (v == nullptr || v->tombstone()) ? nullptr : v;
  }

  static key_entry* make(base::node_arena& a, std::string_view key, std::uint32_t hash);
  // Frees the entry and its whole chain.
  static void destroy(base::node_arena& a, key_entry* e) noexcept;
};

std::uint32_t hash_key(std::string_view key) noexcept;

// Open addressing with linear probing, at most 3/4 full. A slot holds a key_entry pointer with 16 bits of
// the key's hash in the pointer's unused top bits, so a probe skips non-matching slots without touching
// their entries (a cache miss each). Where pointers use those bits, tagging turns itself off.
class hash_index {
 public:
  explicit hash_index(bool huge_pages = true);
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
  // Faults a new table's pages in while rebuild() fills it (see rebuild); made with the first table of
  // two huge pages or more.
  std::unique_ptr<base::prefaulter> prefaulter_;
};

}  // namespace leasekv::mvcc
