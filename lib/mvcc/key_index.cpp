#include "mvcc/key_index.hpp"

#include <algorithm>
#include <functional>
#include <new>

namespace leasekv::mvcc {

key_version* key_version::make(revision rev, std::int64_t create_revision, std::int64_t version,
                               std::int64_t lease, std::string_view value) {
  void* mem = ::operator new(sizeof(key_version) + value.size());
  auto* v = new (mem) key_version;
  v->mod_main = rev.main;
  v->mod_sub = static_cast<std::uint32_t>(rev.sub);
  v->create_revision = create_revision;
  v->version = version;
  v->lease = lease;
  v->value_size = static_cast<std::uint32_t>(value.size());
  if (!value.empty()) std::memcpy(v + 1, value.data(), value.size());
  return v;
}

key_version* key_version::make_tombstone(revision rev) { return make(rev, 0, 0, 0, {}); }

void key_version::destroy(key_version* v) noexcept {
  v->~key_version();
  ::operator delete(v);
}

void key_version::destroy_chain(key_version* v) noexcept {
  while (v != nullptr) {
    key_version* older = v->older;
    destroy(v);
    v = older;
  }
}

key_entry* key_entry::make(std::string_view key, std::uint32_t hash) {
  void* mem = ::operator new(sizeof(key_entry) + key.size());
  auto* e = new (mem) key_entry;
  e->hash = hash;
  e->key_size = static_cast<std::uint32_t>(key.size());
  if (!key.empty()) std::memcpy(e + 1, key.data(), key.size());
  return e;
}

void key_entry::destroy(key_entry* e) noexcept {
  key_version::destroy_chain(e->head);
  e->~key_entry();
  ::operator delete(e);
}

std::uint32_t hash_key(std::string_view key) noexcept {
  const std::size_t h = std::hash<std::string_view>{}(key);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

// ---- hash_index ----

hash_index::hash_index() : slots_(16, nullptr), mask_(15) {}

key_entry* hash_index::find(std::string_view key, std::uint32_t hash) const {
  for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
    key_entry* e = slots_[i];
    if (e == nullptr) return nullptr;
    if (e->hash == hash && e->key() == key) return e;
  }
}

void hash_index::insert(key_entry* e) {
  if ((size_ + 1) * 8 > slots_.size() * 7) grow();
  std::size_t i = e->hash & mask_;
  while (slots_[i] != nullptr) i = (i + 1) & mask_;
  slots_[i] = e;
  ++size_;
}

void hash_index::erase(const key_entry* e) {
  std::size_t i = e->hash & mask_;
  while (slots_[i] != e) i = (i + 1) & mask_;
  // Backward-shift deletion: move later members of the probe run into the hole so lookups that pass
  // over it still find them.
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask_; slots_[j] != nullptr; j = (j + 1) & mask_) {
    const std::size_t home = slots_[j]->hash & mask_;
    // slots_[j] may move into the hole iff its home is not cyclically within (hole, j].
    const bool home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_range) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = nullptr;
  --size_;
}

void hash_index::grow() {
  std::vector<key_entry*> old(slots_.size() * 2, nullptr);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (key_entry* e : old) {
    if (e == nullptr) continue;
    std::size_t i = e->hash & mask_;
    while (slots_[i] != nullptr) i = (i + 1) & mask_;
    slots_[i] = e;
  }
}

// ---- ordered_index ----

namespace {
bool key_less(const key_entry* e, std::string_view key) { return e->key() < key; }
}  // namespace

std::size_t ordered_index::chunk_for(std::string_view key) const {
  // The first chunk whose last key is >= key: the only chunk that can hold the lower bound.
  std::size_t lo = 0;
  std::size_t hi = chunks_.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (chunks_[mid].back()->key() < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

ordered_index::position ordered_index::lower_bound(std::string_view key) const {
  const std::size_t c = chunk_for(key);
  if (c == chunks_.size()) return end();
  const auto& chunk = chunks_[c];
  const auto it = std::lower_bound(chunk.begin(), chunk.end(), key, key_less);
  return {c, static_cast<std::size_t>(it - chunk.begin())};
}

void ordered_index::insert(key_entry* e) {
  ++size_;
  if (chunks_.empty()) {
    chunks_.emplace_back().push_back(e);
    return;
  }
  std::size_t c = chunk_for(e->key());
  if (c == chunks_.size()) c = chunks_.size() - 1;  // larger than every key: append to the last chunk
  auto& chunk = chunks_[c];
  chunk.insert(std::lower_bound(chunk.begin(), chunk.end(), e->key(), key_less), e);
  if (chunk.size() > max_chunk) {
    std::vector<key_entry*> upper(chunk.begin() + static_cast<std::ptrdiff_t>(chunk.size() / 2), chunk.end());
    chunk.resize(chunk.size() / 2);
    chunk.shrink_to_fit();
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(upper));
  }
}

void ordered_index::erase(const key_entry* e) {
  const position p = lower_bound(e->key());
  auto& chunk = chunks_[p.chunk];
  chunk.erase(chunk.begin() + static_cast<std::ptrdiff_t>(p.slot));
  if (chunk.empty()) chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(p.chunk));
  --size_;
}

}  // namespace leasekv::mvcc
