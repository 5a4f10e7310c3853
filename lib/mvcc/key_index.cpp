#include "mvcc/key_index.hpp"

#include <algorithm>
#include <functional>
#include <new>

namespace leasekv::mvcc {

key_version* key_version::make(base::node_arena& a, revision rev, std::int64_t create_revision,
                               std::int64_t version, std::int64_t lease, std::string_view value) {
  void* mem = a.allocate(sizeof(key_version) + value.size());
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

key_version* key_version::make_tombstone(base::node_arena& a, revision rev) { return make(a, rev, 0, 0, 0, {}); }

void key_version::destroy(base::node_arena& a, key_version* v) noexcept {
  const std::size_t bytes = sizeof(key_version) + v->value_size;
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

std::uint32_t hash_key(std::string_view key) noexcept {
  const std::size_t h = std::hash<std::string_view>{}(key);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

// ---- hash_index ----

hash_index::hash_index(bool huge_pages) : huge_pages_(huge_pages) { rebuild(16); }

hash_index::~hash_index() { base::free_region(slots_, capacity_ * sizeof(std::uintptr_t)); }

// Capacities are not powers of two (they grow by half), so a million keys take 1.35M slots rather than
// 2M: a slot's home is the hash scaled to the capacity (Lemire's multiply-shift), not a mask of it.
std::size_t hash_index::home(std::uint32_t hash, std::size_t capacity) {
  return static_cast<std::size_t>((std::uint64_t{hash} * capacity) >> 32);
}

key_entry* hash_index::find(std::string_view key, std::uint32_t hash) const {
  const std::uintptr_t tag = tag_of(hash);
  const std::size_t n = capacity_;
  for (std::size_t i = home(hash, n);; i = i + 1 == n ? 0 : i + 1) {
    const std::uintptr_t slot = slots_[i];
    if (slot == 0) return nullptr;
    if ((slot & ~pointer_mask) != tag) continue;
    key_entry* e = entry_of(slot);
    if (e->hash == hash && e->key() == key) return e;
  }
}

void hash_index::place(std::uintptr_t* slots, std::size_t capacity, key_entry* e) const {
  std::size_t i = home(e->hash, capacity);
  while (slots[i] != 0) i = i + 1 == capacity ? 0 : i + 1;
  slots[i] = reinterpret_cast<std::uintptr_t>(e) | tag_of(e->hash);
}

void hash_index::rebuild(std::size_t capacity) {
  auto* fresh = static_cast<std::uintptr_t*>(base::allocate_region(capacity * sizeof(std::uintptr_t), huge_pages_));
  std::fill_n(fresh, capacity, std::uintptr_t{0});
  // Placing an entry reads its hash, a miss per entry: load them 16 slots ahead so that many are in
  // flight at once rather than one after another.
  constexpr std::size_t ahead = 16;
  for (std::size_t i = 0; i < capacity_; ++i) {
    if (i + ahead < capacity_ && slots_[i + ahead] != 0) __builtin_prefetch(entry_of(slots_[i + ahead]));
    if (slots_[i] != 0) place(fresh, capacity, entry_of(slots_[i]));
  }
  if (slots_ != nullptr) base::free_region(slots_, capacity_ * sizeof(std::uintptr_t));
  slots_ = fresh;
  capacity_ = capacity;
}

void hash_index::insert(key_entry* e) {
  if (tagging_ && (reinterpret_cast<std::uintptr_t>(e) & ~pointer_mask) != 0) {
    tagging_ = false;  // this platform's pointers use the top bits: store them untagged
    rebuild(capacity_);
  }
  if ((size_ + 1) * 4 > capacity_ * 3) rebuild(capacity_ + capacity_ / 2);  // load <= 3/4
  place(slots_, capacity_, e);
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

// ---- ordered_index ----

namespace {
bool key_less(const key_entry* e, std::string_view key) { return e->key() < key; }

std::size_t common_prefix(std::string_view a, std::string_view b) {
  const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return static_cast<std::size_t>(ia - a.begin());
}
}  // namespace

std::uint64_t ordered_index::head_of(std::string_view key, std::size_t offset) {
  unsigned char bytes[8] = {};
  if (offset < key.size()) std::memcpy(bytes, key.data() + offset, std::min<std::size_t>(8, key.size() - offset));
  std::uint64_t h = 0;
  for (unsigned char b : bytes) h = (h << 8) | b;
  return h;
}

std::size_t ordered_index::chunk_for(std::string_view key) const {
  // The first chunk whose last key is >= key: the only chunk that can hold the lower bound.
  return static_cast<std::size_t>(
      std::lower_bound(last_keys_.begin(), last_keys_.end(), key,
                       [](const std::string& last, std::string_view k) { return std::string_view(last) < k; }) -
      last_keys_.begin());
}

std::size_t ordered_index::search(std::size_t c, std::string_view key) const {
  const chunk& ch = chunks_[c];
  const std::string_view prefix = std::string_view(last_keys_[c]).substr(0, ch.offset);
  if (!key.starts_with(prefix)) return key < prefix ? 0 : ch.entries.size();
  const std::uint64_t h = head_of(key, ch.offset);
  const auto lo = std::lower_bound(ch.heads.begin(), ch.heads.end(), h);
  auto hi = lo;
  while (hi != ch.heads.end() && *hi == h) ++hi;
  const auto first = static_cast<std::ptrdiff_t>(lo - ch.heads.begin());
  if (hi == lo) return static_cast<std::size_t>(first);
  // Keys whose heads equal this one's: only their bytes decide.
  const auto it = std::lower_bound(ch.entries.begin() + first, ch.entries.begin() + (hi - ch.heads.begin()), key, key_less);
  return static_cast<std::size_t>(it - ch.entries.begin());
}

void ordered_index::rehead(std::size_t c, std::size_t offset) {
  chunk& ch = chunks_[c];
  ch.offset = offset;
  const std::size_t n = ch.entries.size();
  // The entries lie anywhere in memory: keep several loads in flight.
  for (std::size_t i = 0; i < n; ++i) {
    if (i + 8 < n) __builtin_prefetch(ch.entries[i + 8]);
    ch.heads[i] = head_of(ch.entries[i]->key(), offset);
  }
}

void ordered_index::tighten(std::size_t c) {
  const chunk& ch = chunks_[c];
  const std::size_t prefix = common_prefix(ch.entries.front()->key(), ch.entries.back()->key());
  if (prefix > ch.offset) rehead(c, prefix);
}

ordered_index::position ordered_index::lower_bound(std::string_view key) const {
  const std::size_t c = chunk_for(key);
  if (c == chunks_.size()) return end();
  return {c, search(c, key)};
}

std::size_t ordered_index::distance(position a, position b) const {
  if (a.chunk == b.chunk) return b.slot - a.slot;
  std::size_t n = chunks_[a.chunk].entries.size() - a.slot + b.slot;
  for (std::size_t c = a.chunk + 1; c < b.chunk; ++c) n += chunks_[c].entries.size();
  return n;
}

void ordered_index::insert(key_entry* e) {
  ++size_;
  const std::string_view key = e->key();
  if (chunks_.empty()) {
    chunks_.push_back({{head_of(key, key.size())}, {e}, key.size()});
    last_keys_.emplace_back(key);
    return;
  }
  std::size_t c = chunk_for(key);
  if (c == chunks_.size()) c = chunks_.size() - 1;  // larger than every key: append to the last chunk
  chunk& ch = chunks_[c];
  const auto at = static_cast<std::ptrdiff_t>(search(c, key));
  const std::size_t shared = common_prefix(key, std::string_view(last_keys_[c]).substr(0, ch.offset));
  ch.entries.insert(ch.entries.begin() + at, e);
  ch.heads.insert(ch.heads.begin() + at, head_of(key, ch.offset));
  if (static_cast<std::size_t>(at) + 1 == ch.entries.size()) last_keys_[c].assign(key);
  if (shared < ch.offset) rehead(c, shared);  // the key lies outside the chunk's prefix: shorten it
  if (ch.entries.size() > max_chunk) {
    const auto half = static_cast<std::ptrdiff_t>(ch.entries.size() / 2);
    chunk upper{{ch.heads.begin() + half, ch.heads.end()}, {ch.entries.begin() + half, ch.entries.end()}, ch.offset};
    ch.entries.resize(static_cast<std::size_t>(half));
    ch.entries.shrink_to_fit();
    ch.heads.resize(static_cast<std::size_t>(half));
    ch.heads.shrink_to_fit();
    const auto pos = static_cast<std::ptrdiff_t>(c);
    last_keys_.insert(last_keys_.begin() + pos, std::string(ch.entries.back()->key()));
    chunks_.insert(chunks_.begin() + pos + 1, std::move(upper));  // `ch` is invalid from here on
    tighten(c);
    tighten(c + 1);
  }
}

void ordered_index::erase(const key_entry* e) {
  // Erasing keeps every offset valid: the keys left still share the prefix.
  const position p = lower_bound(e->key());
  chunk& ch = chunks_[p.chunk];
  ch.entries.erase(ch.entries.begin() + static_cast<std::ptrdiff_t>(p.slot));
  ch.heads.erase(ch.heads.begin() + static_cast<std::ptrdiff_t>(p.slot));
  const auto pos = static_cast<std::ptrdiff_t>(p.chunk);
  if (ch.entries.empty()) {
    chunks_.erase(chunks_.begin() + pos);
    last_keys_.erase(last_keys_.begin() + pos);
  } else if (p.slot == ch.entries.size()) {
    last_keys_[p.chunk].assign(ch.entries.back()->key());
  }
  --size_;
}

}  // namespace leasekv::mvcc
