// The key index (etcd's keyIndex): every key's history, newest first.
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
// Two indexes point at entries: hash_index (hash_index.hpp) finds one key in O(1) (put, get, delete of
// one key); ordered_index (ordered_index.hpp) keeps the keys sorted for ranges.
//
// Thread safety: none here; kv_store's caller holds the store's lock.
#pragma once

#include "base/node_arena.hpp"
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
  std::uint32_t hash = 0;  // hash_key(key()) (hash_index.hpp)
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

}  // namespace leasekv::mvcc
