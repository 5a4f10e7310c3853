// Key entries for tests of the indexes (mvcc/hash_index, mvcc/ordered_index): made from one arena and
// freed with it, as kv_store makes and frees them.
#pragma once

#include "base/node_arena.hpp"
#include "mvcc/hash_index.hpp"
#include "mvcc/key_index.hpp"

#include <cstring>
#include <string>
#include <unordered_set>

namespace leasekv::testing {

// Owns entries for the duration of a test.
struct key_entries {
  base::node_arena arena;
  std::unordered_set<mvcc::key_entry*> all;
  mvcc::key_entry* make(const std::string& k) { return *all.insert(mvcc::key_entry::make(arena, k, mvcc::hash_key(k))).first; }
  // Frees an entry the index no longer holds, as kv_store does, zeroing its key first: an index that
  // kept it (as a high key, say) would then misplace keys even where no sanitizer watches.
  void retire(mvcc::key_entry* e) {
    std::memset(const_cast<char*>(e->key().data()), 0, e->key().size());
    all.erase(e);
    mvcc::key_entry::destroy(arena, e);
  }
  ~key_entries() {
    for (auto* e : all) mvcc::key_entry::destroy(arena, e);
  }
};

}  // namespace leasekv::testing
