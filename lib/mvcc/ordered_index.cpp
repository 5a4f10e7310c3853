#include "mvcc/ordered_index.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <new>
#include <type_traits>

namespace leasekv::mvcc {

namespace {

// How many leading bytes a and b share, compared 8 at a time: every search compares the key with each
// node's prefix (~20 bytes for keys like /registry/pods/%08d), every insert with its leaf's.
std::size_t common_prefix(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x;
    std::uint64_t y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      const std::uint64_t diff = x ^ y;
      const int bit = std::endian::native == std::endian::little ? std::countr_zero(diff) : std::countl_zero(diff);
      return i + static_cast<std::size_t>(bit / 8);
    }
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// The first of heads[0, count) that is >= h, without a branch per step to mispredict: a search goes down
// every level of the tree, and in a node the way it turns is a coin toss.
const std::uint64_t* lower_bound_head(const std::uint64_t* heads, std::size_t count, std::uint64_t h) {
  if (count == 0) return heads;
  const std::uint64_t* base = heads;
  while (count > 1) {
    const std::size_t half = count / 2;
    base = base[half] < h ? base + half : base;
    count -= half;
  }
  return base + (*base < h ? 1 : 0);
}

// The first slot of a node whose key is >= `key`, given the node's prefix, its heads and a way to read
// slot i's key (only where heads are equal).
template <class KeyAt>
std::size_t find_slot(std::string_view prefix, const std::uint64_t* heads, std::size_t count, std::string_view key,
                      KeyAt key_at) {
  if (const std::size_t shared = common_prefix(key, prefix); shared < prefix.size()) {
    // Every key of the node starts with the prefix; `key` does not, so it sorts before or after them all.
    const bool before = shared == key.size() ||
                        static_cast<unsigned char>(key[shared]) < static_cast<unsigned char>(prefix[shared]);
    return before ? 0 : count;
  }
  const std::uint64_t h = ordered_index::head_of(key, prefix.size());
  const std::uint64_t* lo = lower_bound_head(heads, count, h);
  const std::uint64_t* hi = lo;
  while (hi != heads + count && *hi == h) ++hi;
  auto first = static_cast<std::size_t>(lo - heads);
  auto last = static_cast<std::size_t>(hi - heads);
  // Keys whose heads equal this one's: only their bytes decide.
  while (first < last) {
    const std::size_t mid = first + (last - first) / 2;
    if (key_at(mid) < key) {
      first = mid + 1;
    } else {
      last = mid;
    }
  }
  return first;
}

}  // namespace

// ---- searching ----

template <class Node>
std::size_t ordered_index::find(const Node& n, std::string_view key) {
  return find_slot(n.head.shared(), n.heads, n.head.count, key, [&](std::size_t i) { return key_at(n, i); });
}

std::size_t ordered_index::route(const inner& n, std::string_view key) {
  prefetch_lines(&n, offsetof(inner, children));  // its first line and heads, in parallel
  return find(n, key);
}

bool ordered_index::descend(descent& d, std::string_view key) const {
  if (d.node == nullptr || d.level <= 1) return false;
  const auto* n = static_cast<const inner*>(d.node);
  // The previous step started loading this node (route() would only ask again). A key after every key
  // goes down the last child, as insert() takes it.
  std::size_t i = find(*n, key);
  if (i == n->head.count) {
    d.past_end = true;
    i = n->head.count - 1u;
  }
  d.node = n->children[i];
  --d.level;
  prefetch_lines(d.node, d.level > 1 ? offsetof(inner, children) : offsetof(leaf, entries));
  return d.level > 1;
}

ordered_index::position ordered_index::lower_bound(std::string_view key) const {
  const void* node = root_;
  if (node == nullptr) return end();
  for (std::size_t level = height_; level > 1; --level) {
    const auto* n = static_cast<const inner*>(node);
    const std::size_t i = route(*n, key);
    if (i == n->head.count) return end();  // after every key (only the root can send a key past its end)
    node = n->children[i];
  }
  const auto* l = static_cast<const leaf*>(node);
  prefetch_lines(l, offsetof(leaf, entries));
  const std::size_t s = find(*l, key);
  if (s == l->head.count) return {l->next, 0};
  return {l, s};
}

std::size_t ordered_index::distance(position a, position b) const {
  if (a.node == b.node) return b.slot - a.slot;
  std::size_t n = a.node->head.count - a.slot;
  for (const leaf* l = a.node->next; l != b.node; l = l->next) n += l->head.count;
  return n + b.slot;
}

// ---- node upkeep ----

template <class Node>
void ordered_index::rehead(Node& n, std::string_view key, std::size_t offset) {
  n.head.offset = static_cast<std::uint16_t>(offset);
  std::memcpy(n.head.prefix, key.data(), offset);
  // The keys lie anywhere in memory: keep several loads in flight.
  const std::size_t count = n.head.count;
  for (std::size_t i = 0; i < count; ++i) {
    if (i + 8 < count) __builtin_prefetch(entry_at(n, i + 8));
    n.heads[i] = head_of(key_at(n, i), offset);
  }
}

// Lengthening a prefix reads every key of the node, a miss each. It pays only where heads tie (a search
// then reads keys) and the first and last heads share a byte (else the prefix cannot grow): where heads
// are all different, a prefix shorter than it could be costs nothing.
bool ordered_index::worth_tightening(const node_head& h, const std::uint64_t* heads) {
  if (h.offset >= max_prefix || (heads[0] ^ heads[h.count - 1]) >> 56 != 0) return false;
  for (std::size_t i = 1; i < h.count; ++i) {
    if (heads[i] == heads[i - 1]) return true;
  }
  return false;
}

template <class Node>
void ordered_index::tighten(Node& n) {
  if (!worth_tightening(n.head, n.heads)) return;
  const std::string_view first = key_at(n, 0);
  const std::size_t offset = std::min(max_prefix, common_prefix(first, key_at(n, n.head.count - 1)));
  if (offset > n.head.offset) rehead(n, first, offset);
}

void ordered_index::shorten(node_head& h, std::uint64_t* heads, std::size_t offset) {
  const std::size_t freed = h.offset - offset;
  // Each head now starts with the prefix bytes [offset, old offset), which every key shares, followed
  // by its old head's first bytes: no key needs reading.
  const std::uint64_t top = head_of(h.shared(), offset);
  for (std::size_t i = 0; i < h.count; ++i) heads[i] = freed >= 8 ? top : top | (heads[i] >> (8 * freed));
  h.offset = static_cast<std::uint16_t>(offset);
}

template <class Node>
void ordered_index::set_head(Node& n, std::size_t s) {
  const std::string_view key = key_at(n, s);
  if (const std::size_t shared = common_prefix(key, n.head.shared()); shared < n.head.offset) {
    shorten(n.head, n.heads, shared);  // the key lies outside the prefix
  }
  n.heads[s] = head_of(key, n.head.offset);
}

void ordered_index::set_high(inner& n, std::size_t s, const key_entry* high) {
  n.highs[s] = high;
  set_head(n, s);
}

void ordered_index::insert_slot(leaf& l, std::size_t s, key_entry* e) {
  const std::size_t after = l.head.count - s;
  std::memmove(&l.heads[s + 1], &l.heads[s], after * sizeof(l.heads[0]));
  std::memmove(&l.entries[s + 1], &l.entries[s], after * sizeof(l.entries[0]));
  ++l.head.count;
  l.entries[s] = e;
  set_head(l, s);
}

void ordered_index::insert_slot(inner& n, std::size_t s, void* child, const key_entry* high) {
  const std::size_t after = n.head.count - s;
  std::memmove(&n.heads[s + 1], &n.heads[s], after * sizeof(n.heads[0]));
  std::memmove(&n.children[s + 1], &n.children[s], after * sizeof(n.children[0]));
  std::memmove(&n.highs[s + 1], &n.highs[s], after * sizeof(n.highs[0]));
  n.children[s] = child;
  ++n.head.count;
  set_high(n, s, high);
}

void ordered_index::copy_slots(const leaf& src, std::size_t from, leaf& dst, std::size_t at, std::size_t n) {
  std::memcpy(&dst.heads[at], &src.heads[from], n * sizeof(src.heads[0]));
  std::memcpy(&dst.entries[at], &src.entries[from], n * sizeof(src.entries[0]));
}

void ordered_index::copy_slots(const inner& src, std::size_t from, inner& dst, std::size_t at, std::size_t n) {
  std::memcpy(&dst.heads[at], &src.heads[from], n * sizeof(src.heads[0]));
  std::memcpy(&dst.children[at], &src.children[from], n * sizeof(src.children[0]));
  std::memcpy(&dst.highs[at], &src.highs[from], n * sizeof(src.highs[0]));
}

template <class Node>
void ordered_index::split_into(Node& n, Node& to) {
  constexpr std::size_t capacity = std::extent_v<decltype(Node::heads)>;
  constexpr std::size_t half = capacity / 2;
  copy_slots(n, half, to, 0, capacity - half);
  to.head.count = static_cast<std::uint16_t>(capacity - half);
  to.head.offset = n.head.offset;
  std::memcpy(to.head.prefix, n.head.prefix, n.head.offset);
  n.head.count = half;
}

void ordered_index::reserve_spares(std::size_t n) {
  assert(n <= spares_.size());
  while (spare_count_ < n) spares_[spare_count_++] = arena_.allocate(node_bytes);
}

template <class Node>
Node* ordered_index::take_spare() {
  assert(spare_count_ > 0);
  ++nodes_;
  auto* n = new (spares_[--spare_count_]) Node;
  n->head.count = 0;
  n->head.offset = 0;
  return n;
}

ordered_index::leaf* ordered_index::new_leaf() {
  leaf* l = take_spare<leaf>();
  l->next = nullptr;
  l->prev = nullptr;
  return l;
}

ordered_index::inner* ordered_index::new_inner() { return take_spare<inner>(); }

// ---- insert ----

void ordered_index::insert(key_entry* e) { insert(e, hint{}); }

void ordered_index::insert(key_entry* e, hint where) {
  reserve_spares(height_ + 1);  // from here on nothing allocates, so nothing throws
  ++size_;
  const std::string_view key = e->key();
  if (where.leaf != nullptr && where.frees == frees_) {
    // The leaf the descent found (see hint): it still holds the key's place if the key sorts before its
    // last key, and then, with room, the insert ends there; a full leaf splits from the root down.
    auto* l = static_cast<leaf*>(const_cast<void*>(where.leaf));  // ours; descents see it const only
    const std::size_t s = find(*l, key);
    if (s < l->head.count && l->head.count < leaf_capacity) {
      ++hinted_inserts_;
      insert_slot(*l, s, e);
      return;
    }
  }
  if (root_ == nullptr) {
    leaf* l = new_leaf();
    l->head.count = 1;
    l->entries[0] = e;
    rehead(*l, key, std::min(max_prefix, key.size()));
    root_ = first_ = l;
    height_ = 1;
    return;
  }
  std::array<step, max_height> path;
  std::size_t depth = 0;
  void* node = root_;
  for (std::size_t level = height_; level > 1; --level) {
    auto* n = static_cast<inner*>(node);
    std::size_t i = route(*n, key);
    if (i == n->head.count) {
      // After every key (this can only start at the root): the key joins the last subtree as its largest.
      i = n->head.count - 1;
      set_high(*n, i, e);
    }
    path[depth++] = {n, i};
    node = n->children[i];
  }
  auto* l = static_cast<leaf*>(node);
  prefetch_lines(l, offsetof(leaf, entries));
  std::size_t s = find(*l, key);
  if (l->head.count < leaf_capacity) {
    insert_slot(*l, s, e);
    return;
  }
  // Full: the upper half moves to a new leaf after this one.
  leaf* r = new_leaf();
  constexpr std::size_t half = leaf_capacity / 2;
  split_into(*l, *r);
  r->next = l->next;
  r->prev = l;
  if (l->next != nullptr) l->next->prev = r;
  l->next = r;
  if (s > half) {
    insert_slot(*r, s - half, e);
  } else {
    insert_slot(*l, s, e);
  }
  tighten(*l);
  tighten(*r);
  add_sibling(path.data(), depth, l, l->entries[l->head.count - 1], r, r->entries[r->head.count - 1]);
}

void ordered_index::add_sibling(step* path, std::size_t depth, void* left, const key_entry* left_high, void* right,
                                const key_entry* right_high) {
  if (depth == 0) {
    // `left` was the root: a new root above the two.
    inner* root = new_inner();
    root->head.count = 2;
    root->children[0] = left;
    root->children[1] = right;
    root->highs[0] = left_high;
    root->highs[1] = right_high;
    const std::string_view first = left_high->key();
    rehead(*root, first, std::min(max_prefix, common_prefix(first, right_high->key())));
    root_ = root;
    ++height_;
    return;
  }
  inner* p = path[depth - 1].node;
  std::size_t i = path[depth - 1].slot;
  if (p->head.count < inner_capacity) {
    set_high(*p, i, left_high);
    insert_slot(*p, i + 1, right, right_high);
    return;
  }
  inner* q = new_inner();
  constexpr std::size_t half = inner_capacity / 2;
  split_into(*p, *q);
  inner* holder = p;
  if (i >= half) {
    holder = q;
    i -= half;
  }
  set_high(*holder, i, left_high);
  insert_slot(*holder, i + 1, right, right_high);
  tighten(*p);
  tighten(*q);
  add_sibling(path, depth - 1, p, p->highs[p->head.count - 1], q, q->highs[q->head.count - 1]);
}

// ---- erase ----

void ordered_index::update_high(step* path, std::size_t depth, const key_entry* high) {
  while (depth > 0) {
    const auto [n, i] = path[--depth];
    set_high(*n, i, high);
    if (i + 1 != n->head.count) return;  // not the largest of this node: the ones above keep theirs
  }
}

void ordered_index::erase(const key_entry* e) {
  const std::string_view key = e->key();
  std::array<step, max_height> path;
  std::size_t depth = 0;
  void* node = root_;
  for (std::size_t level = height_; level > 1; --level) {
    auto* n = static_cast<inner*>(node);
    const std::size_t i = route(*n, key);
    assert(i < n->head.count);
    path[depth++] = {n, i};
    node = n->children[i];
  }
  auto* l = static_cast<leaf*>(node);
  const std::size_t s = find(*l, key);
  assert(s < l->head.count && l->entries[s] == e);
  const std::size_t after = l->head.count - s - 1;
  std::memmove(&l->heads[s], &l->heads[s + 1], after * sizeof(l->heads[0]));
  std::memmove(&l->entries[s], &l->entries[s + 1], after * sizeof(l->entries[0]));
  --l->head.count;
  --size_;
  if (l->head.count == 0) {
    if (l->prev != nullptr) {
      l->prev->next = l->next;
    } else {
      first_ = l->next;
    }
    if (l->next != nullptr) l->next->prev = l->prev;
    free_node(l);
    remove_child(path.data(), depth);
  } else {
    if (s == l->head.count) update_high(path.data(), depth, l->entries[s - 1]);  // it held the leaf's largest key
    if (l->head.count < leaf_capacity / 4 && depth > 0) merge_leaf(path.data(), depth);
  }
  // A root with one child hands the root over to it.
  while (height_ > 1 && static_cast<inner*>(root_)->head.count == 1) {
    auto* old = static_cast<inner*>(root_);
    root_ = old->children[0];
    --height_;
    free_node(old);
  }
}

void ordered_index::merge_leaf(step* path, std::size_t depth) {
  inner* p = path[depth - 1].node;
  const std::size_t i = path[depth - 1].slot;
  // The leaf and its right sibling, or its left one if it is the last child.
  std::size_t j = i;
  if (i + 1 == p->head.count) {
    if (i == 0) return;  // an only child
    j = i - 1;
  }
  auto* left = static_cast<leaf*>(p->children[j]);
  auto* right = static_cast<leaf*>(p->children[j + 1]);
  // Leave room for inserts, so that a leaf at the threshold is not merged and split again and again.
  if (left->head.count + right->head.count > leaf_capacity * 3 / 4) return;
  const std::size_t shared = common_prefix(left->head.shared(), right->head.shared());
  if (shared < left->head.offset) shorten(left->head, left->heads, shared);
  if (shared < right->head.offset) shorten(right->head, right->heads, shared);
  copy_slots(*right, 0, *left, left->head.count, right->head.count);
  left->head.count = static_cast<std::uint16_t>(left->head.count + right->head.count);
  left->next = right->next;
  if (right->next != nullptr) right->next->prev = left;
  free_node(right);
  set_high(*p, j, p->highs[j + 1]);  // the left leaf now ends where the right one did
  path[depth - 1].slot = j + 1;
  remove_child(path, depth);
}

void ordered_index::remove_child(step* path, std::size_t depth) {
  if (depth == 0) {
    root_ = nullptr;
    height_ = 0;
    return;
  }
  inner* n = path[depth - 1].node;
  const std::size_t i = path[depth - 1].slot;
  const std::size_t after = n->head.count - i - 1;
  std::memmove(&n->heads[i], &n->heads[i + 1], after * sizeof(n->heads[0]));
  std::memmove(&n->children[i], &n->children[i + 1], after * sizeof(n->children[0]));
  std::memmove(&n->highs[i], &n->highs[i + 1], after * sizeof(n->highs[0]));
  --n->head.count;
  if (n->head.count == 0) {
    free_node(n);
    remove_child(path, depth - 1);
  } else if (i == n->head.count) {
    update_high(path, depth - 1, n->highs[i - 1]);
  }
}

}  // namespace leasekv::mvcc
