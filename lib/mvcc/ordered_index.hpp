// The keys in sorted order, for ranges: a B+-tree of 1 KiB nodes searched by 8-byte heads.
//
// Leaves hold up to 60 entries and are linked in key order; inner nodes hold up to 40 children, each
// with its high key: the largest key of the child's subtree, as a pointer to that key's entry. A search
// goes down from the root to the first child whose high key is >= the key, so it needs no separator
// strings of its own.
//
// Every node keeps the bytes that all its keys (a leaf's entries, an inner node's high keys) share, its
// prefix (up to 44 bytes, inline in the node's first cache line), and beside each key the next 8 bytes of
// it as a big-endian number, its head, all heads together in one array. A search loads a node's heads at
// once (8 cache lines at most, fetched in parallel), binary-searches them and reads a key's own bytes
// only where heads are equal. A key that does not start with the prefix sorts before or after the whole
// node. So each level of the tree costs about one cache miss and no miss on other keys' entries, and an
// insert moves at most 60 slots.
//
// Worked example: a leaf holding /registry/pods/00001200 .. /registry/pods/00001259 has the prefix
// "/registry/pods/000012" (offset 21), and the head of /registry/pods/00001234 is the bytes "34" then six
// zero bytes. Inserting /registry/pods/00001300 at its end shortens the prefix to "/registry/pods/0000"
// (offset 19) and recomputes its heads; splitting it later lengthens each half's prefix again.
//
// Nodes come from an arena of their own. A leaf under a quarter full after an erase merges with a sibling
// when the two fit in three quarters of a leaf; an emptied leaf, and an inner node left without children,
// is freed. Inner nodes are not merged: there are ~30 times fewer of them.
//
// Thread safety: none; kv_store's caller holds the store's lock.
#pragma once

#include "base/node_arena.hpp"
#include "mvcc/key_index.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace leasekv::mvcc {

class ordered_index {
  struct leaf;

 public:
  // A slot of a leaf. Valid until the index next changes.
  struct position {
    const leaf* node = nullptr;  // null: end()
    std::size_t slot = 0;
    friend bool operator==(const position&, const position&) = default;
  };

  // huge_pages and `prefault`: as for the node arena its nodes come from (base/node_arena.hpp).
  explicit ordered_index(bool huge_pages = true, base::prefaulter* prefault = nullptr) : arena_(huge_pages, prefault) {}
  ordered_index(const ordered_index&) = delete;
  ordered_index& operator=(const ordered_index&) = delete;

  // The first key >= `key`, or end().
  position lower_bound(std::string_view key) const;
  position begin() const { return {first_, 0}; }
  position end() const { return {}; }
  key_entry* at(position p) const { return p.node->entries[p.slot]; }
  void next(position& p) const {
    if (++p.slot == p.node->head.count) {
      p.node = p.node->next;
      p.slot = 0;
    }
  }

  // The number of keys in [a, b). REQUIRES: a is not after b. O(leaves between them).
  std::size_t distance(position a, position b) const;

  // A search for one key taken a level per call, so that a caller can take many keys down together and
  // have their cache misses overlap (kv_store::prefetch_puts): each descend() reads the node the call
  // before it started loading, and starts loading the next.
  struct descent {
    const void* node = nullptr;
    std::size_t level = 0;   // 1 at a leaf, 2 just above the leaves, ...
    bool past_end = false;   // the key sorts after every key of some node on the way
  };
  descent start_descent() const { return {root_, height_}; }
  // Steps `d` one level down toward where `key` is or would be inserted, and starts loading the node it
  // reaches (for a leaf, its header and heads). Returns whether there is a level left below it.
  bool descend(descent& d, std::string_view key) const;

  // Where a descent for a key ended, so that insert() of that key need not go down the tree again: the
  // leaf the key belongs in, if the key sorts before that leaf's last key (so the leaf's high keys up the
  // tree need no update). Inserts only ever split a leaf's keys between it and new leaves after it, so the
  // hint stays good while no node is freed (by erase()); insert() checks that, and that the key still
  // sorts before the leaf's last key (else the leaf was split: it goes down from the root).
  struct hint {
    const void* leaf = nullptr;
    std::uint64_t frees = 0;  // nodes freed before the descent
  };
  hint hint_of(const descent& d) const {
    return d.node != nullptr && d.level == 1 && !d.past_end ? hint{d.node, frees_} : hint{};
  }
  // Starts loading the hint's leaf, whole, shortly before insert() uses it: a descent loads only a leaf's
  // header and heads (for 32 descents at once, the whole leaves were more misses than could be in flight),
  // and by the time a batch's later inserts come to theirs, even those lines have often gone. Without it
  // the insert's move of the entries after its slot waits on them.
  static void prefetch(hint where) {
    if (where.leaf != nullptr) prefetch_lines(where.leaf, node_bytes);
  }

  // REQUIRES: no entry with e's key is present; `where` is empty or hint_of() a descent for e's key.
  // Strong guarantee: if it throws (bad_alloc), the index is as it was.
  void insert(key_entry* e, hint where);
  void insert(key_entry* e);
  // REQUIRES: e is present.
  void erase(const key_entry* e);
  std::size_t size() const { return size_; }
  // The height of the tree: 0 when empty, 1 when the root is a leaf.
  std::size_t height() const { return height_; }
  // The nodes it holds (leaves and inner nodes), node_bytes each.
  std::size_t nodes() const { return nodes_; }
  // Inserts that ended in the leaf their hint named, without going down the tree.
  std::size_t hinted_inserts() const { return hinted_inserts_; }

  // The 8 bytes of `key` from `offset` on, zero-padded, as a number that orders like the bytes.
  static std::uint64_t head_of(std::string_view key, std::size_t offset) {
    if (offset + 8 <= key.size()) return load_big_endian(key.data() + offset);
    if (offset >= key.size()) return 0;
    // Fewer than 8 bytes left (a node's prefix often leaves a key's last 2-7): the 8 bytes that end the
    // key, shifted so that those bytes come first, in one load too rather than a memcpy call of n bytes.
    const std::size_t n = key.size() - offset;
    if (key.size() >= 8) return load_big_endian(key.data() + key.size() - 8) << (8 * (8 - n));
    std::uint64_t h = 0;
    std::memcpy(&h, key.data() + offset, n);
    if constexpr (std::endian::native == std::endian::little) h = __builtin_bswap64(h);
    return h;
  }

  static std::uint64_t load_big_endian(const char* p) {
    std::uint64_t h;
    std::memcpy(&h, p, 8);
    if constexpr (std::endian::native == std::endian::little) h = __builtin_bswap64(h);
    return h;
  }

  static constexpr std::size_t node_bytes = 1024;
  static constexpr std::size_t max_prefix = 44;
  static constexpr std::size_t leaf_capacity = 60;
  static constexpr std::size_t inner_capacity = 40;

 private:
  struct node_head {
    std::uint16_t count;
    std::uint16_t offset;  // the prefix's length
    char prefix[max_prefix];
    std::string_view shared() const { return {prefix, offset}; }
  };
  struct leaf {
    node_head head;
    leaf* next;
    leaf* prev;
    std::uint64_t heads[leaf_capacity];  // heads[i]: head_of(entries[i]->key(), head.offset)
    key_entry* entries[leaf_capacity];
  };
  struct inner {
    node_head head;
    std::uint64_t padding[2];
    std::uint64_t heads[inner_capacity];  // heads[i]: head_of(highs[i]->key(), head.offset)
    void* children[inner_capacity];       // leaves one level above the leaves, inner nodes elsewhere
    const key_entry* highs[inner_capacity];
  };
  static_assert(sizeof(leaf) == node_bytes && sizeof(inner) == node_bytes);

  // One inner node on the way down, and the slot taken there.
  struct step {
    inner* node;
    std::size_t slot;
  };
  // Each root split adds a level, and a root with 40 children needs 20 or more keys per child below it.
  static constexpr std::size_t max_height = 24;

  // Starts loading `bytes` from `p` (whole cache lines), so the misses overlap instead of queuing.
  static void prefetch_lines(const void* p, std::size_t bytes) {
    for (std::size_t off = 0; off < bytes; off += 64) __builtin_prefetch(static_cast<const char*>(p) + off);
  }
  // Slot i's key: a leaf's entry, an inner node's high key.
  static const key_entry* entry_at(const leaf& l, std::size_t i) { return l.entries[i]; }
  static const key_entry* entry_at(const inner& n, std::size_t i) { return n.highs[i]; }
  template <class Node>
  static std::string_view key_at(const Node& n, std::size_t i) {
    return entry_at(n, i)->key();
  }
  // The first slot whose key is >= `key`: count if none.
  template <class Node>
  static std::size_t find(const Node& n, std::string_view key);
  // find() on an inner node, its heads loaded first all at once: the child slot for `key`.
  static std::size_t route(const inner& n, std::string_view key);

  // Slot `s` has a new key: its head, after shortening the node's prefix if the key does not start
  // with it.
  template <class Node>
  static void set_head(Node& n, std::size_t s);
  static void set_high(inner& n, std::size_t s, const key_entry* high);
  static void insert_slot(leaf& l, std::size_t s, key_entry* e);
  static void insert_slot(inner& n, std::size_t s, void* child, const key_entry* high);
  // Sets a node's prefix to the first `offset` bytes of `key` and recomputes its heads.
  template <class Node>
  static void rehead(Node& n, std::string_view key, std::size_t offset);
  // Copies n slots of `src` from `from` on to `dst` from `at` on.
  static void copy_slots(const leaf& src, std::size_t from, leaf& dst, std::size_t at, std::size_t n);
  static void copy_slots(const inner& src, std::size_t from, inner& dst, std::size_t at, std::size_t n);
  // The upper half of full node `n` moves to the new node `to`, which takes the same prefix.
  template <class Node>
  static void split_into(Node& n, Node& to);
  // Shortens a node's prefix to `offset` bytes, recomputing its heads from the old ones.
  static void shorten(node_head& h, std::uint64_t* heads, std::size_t offset);
  // A node's prefix lengthened to what its first and last keys share (after a split), when that is worth
  // reading every key of the node (worth_tightening).
  static bool worth_tightening(const node_head& h, const std::uint64_t* heads);
  template <class Node>
  static void tighten(Node& n);

  // The child at path[depth - 1] split into `left` and `right` (a new node after it): records their
  // high keys and adds `right` to the parent, splitting it (and so on up) when it is full; a split root
  // gets a new root above it.
  void add_sibling(step* path, std::size_t depth, void* left, const key_entry* left_high, void* right,
                   const key_entry* right_high);
  // The subtree at path[depth - 1] has a new largest key: recorded there and up the path as far as it
  // is the largest there too.
  static void update_high(step* path, std::size_t depth, const key_entry* high);
  // The child at path[depth - 1] was freed: its slot goes, and a node left with no child goes too.
  void remove_child(step* path, std::size_t depth);
  // The leaf at path[depth - 1], under a quarter full, takes in a sibling (or is taken in by it) when the
  // two fill at most three quarters of a leaf.
  void merge_leaf(step* path, std::size_t depth);

  // Nodes. An insert first makes sure of height + 1 spare nodes, the most its splits can use, so that it
  // cannot fail half-done.
  void reserve_spares(std::size_t n);
  // A spare node, empty, counted in nodes_.
  template <class Node>
  Node* take_spare();
  leaf* new_leaf();
  inner* new_inner();
  void free_node(void* n) noexcept {
    --nodes_;
    ++frees_;
    arena_.deallocate(n, node_bytes);
  }

  base::node_arena arena_;
  std::array<void*, max_height + 1> spares_{};
  std::size_t spare_count_ = 0;
  void* root_ = nullptr;
  leaf* first_ = nullptr;
  std::size_t height_ = 0;
  std::size_t size_ = 0;
  std::size_t nodes_ = 0;
  std::uint64_t frees_ = 0;  // nodes ever freed: a hint from before a free may name a freed leaf
  std::size_t hinted_inserts_ = 0;
};

}  // namespace leasekv::mvcc
