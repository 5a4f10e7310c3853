#include "mvcc/key_index.hpp"

#include <cstring>
#include <new>

namespace leasekv::mvcc {

key_version* key_version::make(base::node_arena& a, revision rev, std::int64_t create_revision,
                               std::int64_t version, std::int64_t lease, std::string_view value) {
  // A sub-revision counts the changes of one write (a txn's ops, a revoked lease's keys): far below 2^31,
  // which would take billions of keys in memory.
  const bool first = version == 1 && create_revision == rev.main;
  void* mem = a.allocate(sizeof(key_version) + (first ? 0 : extra_bytes) + value.size());
  auto* v = new (mem) key_version;
  v->mod_main = rev.main;
  v->sub_ = static_cast<std::uint32_t>(rev.sub) | (first ? first_flag : 0);
  v->lease = lease;
  v->value_size = static_cast<std::uint32_t>(value.size());
  char* at = reinterpret_cast<char*>(v + 1);
  if (!first) {
    const std::int64_t extra[2] = {create_revision, version};
    std::memcpy(at, extra, extra_bytes);
    at += extra_bytes;
  }
  if (!value.empty()) std::memcpy(at, value.data(), value.size());
  return v;
}

key_version* key_version::make_tombstone(base::node_arena& a, revision rev) { return make(a, rev, 0, 0, 0, {}); }

void key_version::destroy(base::node_arena& a, key_version* v) noexcept {
  const std::size_t bytes = v->bytes();
  v->~key_version();
  a.deallocate(v, bytes);
}

void key_version::destroy_chain(base::node_arena& a, key_version* v) noexcept {
  while (v != nullptr) {
    key_version* older = v->older;
    destroy(a, v);
    v = older;
  }
}

key_entry* key_entry::make(base::node_arena& a, std::string_view key, std::uint32_t hash) {
  void* mem = a.allocate(sizeof(key_entry) + key.size());
  auto* e = new (mem) key_entry;
  e->hash = hash;
  e->key_size = static_cast<std::uint32_t>(key.size());
  if (!key.empty()) std::memcpy(e + 1, key.data(), key.size());
  return e;
}

void key_entry::destroy(base::node_arena& a, key_entry* e) noexcept {
  key_version::destroy_chain(a, e->head);
  const std::size_t bytes = sizeof(key_entry) + e->key_size;
  e->~key_entry();
  a.deallocate(e, bytes);
}

}  // namespace leasekv::mvcc
