#include "mvcc/kv_store.hpp"

#include <algorithm>
#include <array>

namespace leasekv::mvcc {

key_value to_key_value(const key_entry& e, const key_version& v, bool key_only) {
  key_value kv;
  kv.key.assign(e.key());
  kv.create_revision = v.create_revision();
  kv.mod_revision = v.mod_main;
  kv.version = v.version();
  if (!key_only) kv.value.assign(v.value());
  kv.lease = v.lease;
  return kv;
}

kv_store::~kv_store() {
  // Entries and versions are plain bytes: unless some live outside the arena's regions, dropping the
  // regions frees them all, without a walk over a million keys.
  if (arena_.large_blocks() == 0) return;
  for (auto p = ordered_.begin(); p != ordered_.end(); ordered_.next(p)) key_entry::destroy(arena_, ordered_.at(p));
}

result<std::int64_t> kv_store::read_revision(std::int64_t rev) const {
  if (rev <= 0) return current_;
  if (rev > current_) return errc::future_revision;
  if (rev < compacted_) return errc::compacted;
  return rev;
}

const key_version* kv_store::live(std::string_view key) const {
  const key_entry* e = find(key);
  return e == nullptr ? nullptr : e->live_at(current_);
}

std::pair<ordered_index::position, ordered_index::position> kv_store::span(const key_range& r) const {
  const auto end = ordered_.end();
  if (r.range_end == std::string_view("\0", 1)) return {ordered_.lower_bound(r.key), end};
  if (r.range_end <= r.key) return {end, end};
  return {ordered_.lower_bound(r.key), ordered_.lower_bound(r.range_end)};
}

namespace {

// etcd 3.4's rule (etcdserver/apply.go): only an explicit order or a filter reads every key before the
// limit applies. A sort target with order none reads the first limit+1 keys in key order and sorts
// those (ascending) — so it sorts a page, not the range; leasekv answers as etcd does.
bool needs_full_fetch(const range_options& o) {
  return o.order != sort_order::none || o.min_mod_revision != 0 ||
         o.max_mod_revision != 0 || o.min_create_revision != 0 || o.max_create_revision != 0;
}

bool outside_filters(const range_options& o, const key_version& v) {
  return (o.max_mod_revision != 0 && v.mod_main > o.max_mod_revision) ||
         (o.min_mod_revision != 0 && v.mod_main < o.min_mod_revision) ||
         (o.max_create_revision != 0 && v.create_revision() > o.max_create_revision) ||
         (o.min_create_revision != 0 && v.create_revision() < o.min_create_revision);
}

// Orders by the target; ties keep key order (the sort is stable and the input is in key order).
void sort_hits(std::vector<range_hit>& hits, sort_target target, bool descending) {
  auto field_less = [target](const range_hit& a, const range_hit& b) {
    switch (target) {
      case sort_target::key: return a.entry->key() < b.entry->key();
      case sort_target::version: return a.version->version() < b.version->version();
      case sort_target::create: return a.version->create_revision() < b.version->create_revision();
      case sort_target::mod: return a.version->mod_main < b.version->mod_main;
      case sort_target::value: return a.version->value() < b.version->value();
    }
    return false;
  };
  if (descending) {
    std::stable_sort(hits.begin(), hits.end(), [&](const range_hit& a, const range_hit& b) { return field_less(b, a); });
  } else {
    std::stable_sort(hits.begin(), hits.end(), field_less);
  }
}

}  // namespace

result<range_selection> kv_store::select(const key_range& r, const range_options& o) const {
  BOOST_OUTCOME_TRY(rev, read_revision(o.revision));
  range_selection out;
  out.revision = current_;
  const bool full = needs_full_fetch(o);
  // Without sorting or filters, the first limit+1 keys decide `more`; the rest are only counted.
  const std::size_t keep = (full || o.limit <= 0) ? SIZE_MAX : static_cast<std::size_t>(o.limit) + 1;
  auto add = [&](const key_entry& e) {
    if (const key_version* v = e.live_at(rev)) {
      ++out.count;
      if (!o.count_only && out.hits.size() < keep) out.hits.push_back({&e, v});
    }
    return true;
  };
  if (r.range_end.empty()) {
    if (const key_entry* e = find(r.key)) add(*e);
  } else {
    const auto [first, stop] = span(r);
    // Every key in the span may be alive: room for them all (up to `keep`), so the vector never moves.
    if (!o.count_only) out.hits.reserve(std::min(ordered_.distance(first, stop), keep));
    walk(first, stop, add);
  }
  if (o.count_only) return out;
  if (full) std::erase_if(out.hits, [&](const range_hit& h) { return outside_filters(o, *h.version); });
  sort_order order = o.order;
  if (order == sort_order::none && o.target != sort_target::key) order = sort_order::ascend;
  if (order == sort_order::descend || (order == sort_order::ascend && o.target != sort_target::key)) {
    sort_hits(out.hits, o.target, order == sort_order::descend);
  }
  if (o.limit > 0 && out.hits.size() > static_cast<std::size_t>(o.limit)) {
    out.hits.resize(static_cast<std::size_t>(o.limit));
    out.more = true;
  }
  return out;
}

result<range_result> kv_store::range(const key_range& r, const range_options& o) const {
  BOOST_OUTCOME_TRY(sel, select(r, o));
  range_result out;
  out.revision = sel.revision;
  out.count = sel.count;
  out.more = sel.more;
  out.kvs = to_key_values(sel.hits, o.keys_only);
  return out;
}

std::vector<key_value> to_key_values(const std::vector<range_hit>& hits, bool key_only) {
  std::vector<key_value> kvs;
  kvs.reserve(hits.size());
  for_each_hit(hits, [&](const key_entry& e, const key_version& v) { kvs.push_back(to_key_value(e, v, key_only)); });
  return kvs;
}

void kv_store::begin_write() {
  if (restoring_) end_restore();
  write_main_ = current_ + 1;
  write_sub_ = 0;
  changes_.clear();
}

revision kv_store::next_revision() {
  current_ = write_main_;  // reads inside the group now see its writes
  return {write_main_, write_sub_++};
}

void kv_store::put(std::string_view key, std::uint32_t h, ordered_index::hint where, std::string_view value,
                   lease_id lease, bool ignore_value, bool ignore_lease, std::optional<key_value>* prev) {
  key_entry* e = hash_.find(key, h);
  const key_version* cur = e == nullptr ? nullptr : e->live_at(current_);
  if (prev != nullptr && cur != nullptr) *prev = to_key_value(*e, *cur);
  const revision rev = next_revision();
  key_version* v = key_version::make(arena_, rev, cur != nullptr ? cur->create_revision() : rev.main,
                                     cur != nullptr ? cur->version() + 1 : 1,
                                     ignore_lease && cur != nullptr ? cur->lease : lease,
                                     ignore_value && cur != nullptr ? cur->value() : value);
  if (e == nullptr) {
    e = key_entry::make(arena_, key, h);
    hash_.insert(e);
    ordered_.insert(e, where);
  }
  v->older = e->head;
  e->head = v;
  bytes_ += key.size() + v->value_size + version_overhead;
  changes_.push_back({e, v, cur});
  log_.append(e, v);
}

void kv_store::prefetch_puts(std::span<const pending_put> puts, put_plan& plan) const {
  const std::size_t n = std::min(puts.size(), put_batch);
  auto& hashes = plan.hashes;
  for (std::size_t i = 0; i < n; ++i) {
    hashes[i] = hash_key(puts[i].key);
    hash_.prefetch(hashes[i]);
  }
  // The entries the slots name. A key whose slot names none is new: its search goes down the ordered
  // index.
  std::array<const key_entry*, put_batch> entries;
  for (std::size_t i = 0; i < n; ++i) {
    entries[i] = hash_.candidate(hashes[i]);
    if (entries[i] != nullptr) {
      __builtin_prefetch(entries[i]);
      __builtin_prefetch(reinterpret_cast<const char*>(entries[i]) + 63);  // a key may run into the next line
    }
  }
  // An entry with the key: its newest version. Otherwise (none, or another key's tag: most likely a new
  // key) the ordered index, a level per round for all such keys together.
  std::array<ordered_index::descent, put_batch> down{};
  std::array<bool, put_batch> going{};
  bool more = false;
  for (std::size_t i = 0; i < n; ++i) {
    const key_entry* e = entries[i];
    if (e != nullptr && e->hash == hashes[i] && e->key() == puts[i].key) {
      e->head->prefetch_fields();
    } else {
      down[i] = ordered_.start_descent();
      going[i] = ordered_.descend(down[i], puts[i].key);
      more = more || going[i];
    }
  }
  while (more) {
    more = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (going[i]) {
        going[i] = ordered_.descend(down[i], puts[i].key);
        more = more || going[i];
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i) plan.where[i] = ordered_.hint_of(down[i]);
}

void kv_store::bury(key_entry* e) {
  const key_version* cur = e->head;  // live, so the head
  key_version* t = key_version::make_tombstone(arena_, next_revision());
  t->older = e->head;
  e->head = t;
  bytes_ += e->key_size + version_overhead;
  changes_.push_back({e, t, cur});
  log_.append(e, t);
}

bool kv_store::delete_entry(const key_entry* e) {
  if (e->live_at(current_) == nullptr) return false;
  bury(const_cast<key_entry*>(e));  // ours; callers hold it const only
  return true;
}

std::int64_t kv_store::delete_range(const key_range& r, std::vector<key_value>* prev) {
  std::vector<key_entry*> doomed;
  for_each_live(r, current_, [&](const key_entry& e, const key_version&) {
    doomed.push_back(const_cast<key_entry*>(&e));  // entries are ours; the walk is const only
    return true;
  });
  for (key_entry* e : doomed) {
    if (prev != nullptr) prev->push_back(to_key_value(*e, *e->head));
    bury(e);
  }
  return static_cast<std::int64_t>(doomed.size());
}

std::int64_t kv_store::end_write() {
  write_main_ = 0;
  write_sub_ = 0;
  return current_;
}

void kv_store::abort_write() {
  log_.pop_back(changes_.size());
  for (auto it = changes_.rbegin(); it != changes_.rend(); ++it) {
    auto* e = const_cast<key_entry*>(it->entry);  // ours; the change list is const only
    key_version* v = e->head;                      // the change's version: the newest
    e->head = v->older;
    bytes_ -= e->key_size + v->value_size + version_overhead;
    key_version::destroy(arena_, v);
    if (e->head == nullptr) {
      hash_.erase(e);
      ordered_.erase(e);
      key_entry::destroy(arena_, e);
    }
  }
  changes_.clear();
  if (write_main_ != 0) current_ = write_main_ - 1;
  write_main_ = 0;
  write_sub_ = 0;
}

void kv_store::restore_version(std::string_view key, revision rev, std::int64_t create_revision, std::int64_t version,
                               std::int64_t lease, std::string_view value) {
  const std::uint32_t h = hash_key(key);
  key_entry* e = hash_.find(key, h);
  if (e == nullptr) {
    e = key_entry::make(arena_, key, h);
    hash_.insert(e);
    ordered_.insert(e);
  }
  key_version* v = version == 0 ? key_version::make_tombstone(arena_, rev) : key_version::make(arena_, rev, create_revision, version, lease, value);
  v->older = e->head;
  e->head = v;
  bytes_ += key.size() + v->value_size + version_overhead;
  log_.append(e, v);
  restoring_ = true;
}

void kv_store::end_restore() {
  if (!restoring_) return;
  restoring_ = false;
  log_.sort();
  // A snapshot holds what compaction kept: below the compacted revision, no watcher reads it.
  if (compacted_ > 0) log_.compact(compacted_, [](const change_log::record&) { return true; });
}

result<void> kv_store::set_compacted(std::int64_t rev) {
  if (restoring_) end_restore();
  if (rev <= compacted_) return errc::compacted;
  if (rev > current_) return errc::future_revision;
  compacted_ = rev;
  // The log keeps only what compact_batch(rev, ...) keeps: at `rev`, a key's newest version <= rev
  // unless it is a tombstone (see key_index.hpp).
  log_.compact(rev, [rev](const change_log::record& r) {
    return !r.version->tombstone() && r.entry->at(rev) == r.version;
  });
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

std::optional<std::string> kv_store::compact_batch(std::int64_t rev, std::string_view resume, std::size_t batch) {
  changes_.clear();  // they may point at versions freed below
  std::vector<key_entry*> empty;
  auto p = ordered_.lower_bound(resume);
  for (std::size_t n = 0; p != ordered_.end() && n < batch; ordered_.next(p), ++n) {
    key_entry* e = ordered_.at(p);
    key_version** link = &e->head;
    while (*link != nullptr && (*link)->mod_main > rev) link = &(*link)->older;
    key_version* keep = *link;
    if (keep == nullptr) continue;
    for (const key_version* v = keep->older; v != nullptr; v = v->older) bytes_ -= e->key_size + v->value_size + version_overhead;
    key_version::destroy_chain(arena_, keep->older);
    keep->older = nullptr;
    if (keep->tombstone()) {
      bytes_ -= e->key_size + keep->value_size + version_overhead;
      key_version::destroy(arena_, keep);
      *link = nullptr;
    }
    if (e->head == nullptr) empty.push_back(e);
  }
  std::optional<std::string> next;
  if (p != ordered_.end()) next.emplace(ordered_.at(p)->key());
  for (key_entry* e : empty) {
    hash_.erase(e);
    ordered_.erase(e);
    key_entry::destroy(arena_, e);
  }
  return next;
}

std::size_t kv_store::live_keys() const {
  std::size_t n = 0;
  for (auto p = ordered_.begin(); p != ordered_.end(); ordered_.next(p)) n += ordered_.at(p)->live_at(current_) != nullptr;
  return n;
}

std::size_t kv_store::versions() const {
  std::size_t n = 0;
  for (auto p = ordered_.begin(); p != ordered_.end(); ordered_.next(p)) {
    for (const key_version* v = ordered_.at(p)->head; v != nullptr; v = v->older) ++n;
  }
  return n;
}

}  // namespace leasekv::mvcc
