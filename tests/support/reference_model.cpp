#include "support/reference_model.hpp"

#include <algorithm>

namespace leasekv::testing {
namespace {

using BOOST_OUTCOME_V2_NAMESPACE::success;

bool in_range(const key_range& r, const std::string& k) {
  if (r.range_end.empty()) return k == r.key;
  if (r.range_end == std::string(1, '\0')) return k >= r.key;
  return k >= r.key && k < r.range_end;
}

// ---- Request checks that need no state, as etcd 3.4's gRPC layer makes them, in its order: the fields of each request first, then (txn) the op counts and empty keys of the whole
// tree, then duplicate keys per branch, and the size last (leasekv's documented limit on the keys,
// values and range ends of a request). None of it is leasekv's code: a deviation shows as a mismatch.

std::size_t payload(const txn_request& t);

std::size_t payload(const request_op& op) {
  if (op.type == request_op::kind::txn) return op.txn ? payload(*op.txn) : 0;
  return op.range.key.size() + op.range.range_end.size() + op.value.size();
}

std::size_t payload(const txn_request& t) {
  std::size_t n = 0;
  for (const auto& c : t.compares) n += c.range.key.size() + c.range.range_end.size() + c.value.size();
  for (const auto* ops : {&t.success, &t.failure}) {
    for (const auto& op : *ops) n += payload(op);
  }
  return n;
}

result<void> put_fields(const std::string& key, const std::string& value, const put_options& o) {
  if (key.empty()) return errc::key_not_provided;                        // "key is not provided"
  if (o.ignore_value && !value.empty()) return errc::value_provided;     // "value is provided"
  if (o.ignore_lease && o.lease != no_lease) return errc::lease_provided;  // "lease is provided"
  return success();
}

// A txn's op count is the largest of its compares, success ops and failure ops; a nested txn may use
// only what its parent left of the limit.
result<void> txn_fields(const txn_request& t, std::size_t max_ops) {
  const std::size_t count = std::max({t.compares.size(), t.success.size(), t.failure.size()});
  if (count > max_ops) return errc::too_many_ops;
  for (const auto& c : t.compares) {
    if (c.range.key.empty()) return errc::key_not_provided;
  }
  for (const auto* ops : {&t.success, &t.failure}) {
    for (const auto& op : *ops) {
      switch (op.type) {
        case request_op::kind::range:
        case request_op::kind::delete_range:
          if (op.range.key.empty()) return errc::key_not_provided;
          break;
        case request_op::kind::put: {
          BOOST_OUTCOME_TRYV(put_fields(op.range.key, op.value, op.put_opts));
          break;
        }
        case request_op::kind::txn: {
          if (!op.txn) return errc::invalid_argument;
          BOOST_OUTCOME_TRYV(txn_fields(*op.txn, max_ops - count));
          break;
        }
      }
    }
  }
  return success();
}

// Whether a delete in a txn branch covers a key put in the same branch. etcd compares the interval
// [key, range_end) as plain strings, so a from-key delete (range_end "\0") covers no key there, and
// etcd 3.4.23 accepts `put b` beside `del a --from-key` in one branch (checked with etcdctl txn).
bool deletes(const std::vector<key_range>& dels, const std::string& k) {
  return std::any_of(dels.begin(), dels.end(), [&](const key_range& d) {
    return d.range_end.empty() ? k == d.key : (d.key <= k && k < d.range_end);
  });
}

struct branch_keys {
  std::set<std::string> puts;
  std::vector<key_range> dels;
};

// One branch's puts and deletes, nested txns included. Within a branch a key is put at most once and
// never both put and deleted; the two branches of a nested txn may put the same key (one of them runs).
// A nested txn's puts are checked against this branch's deletes and earlier nested txns' keys; this
// branch's own puts against all of them.
result<branch_keys> branch_intervals(const std::vector<request_op>& ops) {
  branch_keys out;
  for (const auto& op : ops) {
    if (op.type == request_op::kind::delete_range) out.dels.push_back(op.range);
  }
  for (const auto& op : ops) {
    if (op.type != request_op::kind::txn || !op.txn) continue;
    BOOST_OUTCOME_TRY(then_keys, branch_intervals(op.txn->success));
    BOOST_OUTCOME_TRY(else_keys, branch_intervals(op.txn->failure));
    for (const auto& k : then_keys.puts) {
      if (out.puts.count(k) != 0 || deletes(out.dels, k)) return errc::duplicate_key;
      out.puts.insert(k);
    }
    for (const auto& k : else_keys.puts) {
      if (out.puts.count(k) != 0 && then_keys.puts.count(k) == 0) return errc::duplicate_key;
      if (deletes(out.dels, k)) return errc::duplicate_key;
      out.puts.insert(k);
    }
    for (const auto* d : {&then_keys.dels, &else_keys.dels}) out.dels.insert(out.dels.end(), d->begin(), d->end());
  }
  for (const auto& op : ops) {
    if (op.type != request_op::kind::put) continue;
    if (out.puts.count(op.range.key) != 0 || deletes(out.dels, op.range.key)) return errc::duplicate_key;
    out.puts.insert(op.range.key);
  }
  return out;
}

bool writes(const txn_request& t) {
  for (const auto* ops : {&t.success, &t.failure}) {
    for (const auto& op : *ops) {
      if (op.type == request_op::kind::put || op.type == request_op::kind::delete_range) return true;
      if (op.type == request_op::kind::txn && op.txn && writes(*op.txn)) return true;
    }
  }
  return false;
}

}  // namespace

result<void> reference_model::check_put(const std::string& key, const std::string& value, const put_options& o) const {
  BOOST_OUTCOME_TRYV(put_fields(key, value, o));
  if (key.size() + value.size() > max_request_bytes_) return errc::request_too_large;
  return success();
}

result<void> reference_model::check_range(const key_range& r) const {
  if (r.key.empty()) return errc::key_not_provided;
  if (r.key.size() + r.range_end.size() > max_request_bytes_) return errc::request_too_large;
  return success();
}

result<void> reference_model::check_txn(const txn_request& t) const {
  BOOST_OUTCOME_TRYV(txn_fields(t, max_txn_ops_));
  BOOST_OUTCOME_TRYV(branch_intervals(t.success));
  BOOST_OUTCOME_TRYV(branch_intervals(t.failure));
  if (payload(t) > max_request_bytes_) return errc::request_too_large;
  return success();
}

std::optional<key_value> reference_model::visible(const std::string& key, std::int64_t rev) const {
  auto it = history_.find(key);
  if (it == history_.end()) return std::nullopt;
  const auto& recs = it->second;  // in revision order
  auto after = std::upper_bound(recs.begin(), recs.end(), rev,
                                [](std::int64_t r, const record& rec) { return r < rec.main; });
  if (after == recs.begin() || std::prev(after)->tombstone) return std::nullopt;
  return std::prev(after)->kv;
}

std::vector<key_value> reference_model::visible_range(const key_range& r, std::int64_t rev) const {
  std::vector<key_value> out;
  for (const auto& [k, recs] : history_) {
    if (!in_range(r, k)) continue;
    if (auto kv = visible(k, rev)) out.push_back(*kv);
  }
  return out;
}

result<std::int64_t> reference_model::read_rev(std::int64_t rev) const {
  if (rev <= 0) return current_;
  if (rev > current_) return errc::future_revision;
  if (rev < compacted_) return errc::compacted;
  return rev;
}

range_response reference_model::do_range(const key_range& r, const range_options& o, std::int64_t view) const {
  range_response out;
  out.header = header(current_);
  std::vector<key_value> all = visible_range(r, view);
  out.count = static_cast<std::int64_t>(all.size());
  if (o.count_only) return out;
  std::vector<key_value> kept;
  for (auto& kv : all) {
    if (o.max_mod_revision != 0 && kv.mod_revision > o.max_mod_revision) continue;
    if (o.min_mod_revision != 0 && kv.mod_revision < o.min_mod_revision) continue;
    if (o.max_create_revision != 0 && kv.create_revision > o.max_create_revision) continue;
    if (o.min_create_revision != 0 && kv.create_revision < o.min_create_revision) continue;
    kept.push_back(kv);
  }
  auto field = [&](const key_value& kv) -> std::tuple<std::int64_t, std::string> {
    switch (o.target) {
      case sort_target::key: return {0, kv.key};
      case sort_target::version: return {kv.version, ""};
      case sort_target::create: return {kv.create_revision, ""};
      case sort_target::mod: return {kv.mod_revision, ""};
      case sort_target::value: return {0, kv.value};
    }
    return {0, ""};
  };
  // etcd 3.4: a sort target with no order and no filter sorts only the first limit+1 keys (key order).
  const bool filtered = o.max_mod_revision != 0 || o.min_mod_revision != 0 || o.max_create_revision != 0 ||
                        o.min_create_revision != 0;
  if (o.order == sort_order::none && !filtered && o.limit > 0 && kept.size() > static_cast<std::size_t>(o.limit) + 1) {
    kept.resize(static_cast<std::size_t>(o.limit) + 1);
  }
  // Ties keep key order in both directions.
  if (o.order == sort_order::descend) {
    std::stable_sort(kept.begin(), kept.end(), [&](const key_value& a, const key_value& b) { return field(b) < field(a); });
  } else if (o.order == sort_order::ascend || o.target != sort_target::key) {
    std::stable_sort(kept.begin(), kept.end(), [&](const key_value& a, const key_value& b) { return field(a) < field(b); });
  }
  if (o.limit > 0 && kept.size() > static_cast<std::size_t>(o.limit)) {
    kept.resize(static_cast<std::size_t>(o.limit));
    out.more = true;
  }
  if (o.keys_only) {
    for (auto& kv : kept) kv.value.clear();
  }
  out.kvs = std::move(kept);
  return out;
}

std::int64_t reference_model::write_rev() {
  wrote_ = true;
  return current_ + (in_write_ ? 1 : 0);
}

void reference_model::do_put(const std::string& key, const std::string& value, const put_options& o,
                             std::optional<key_value>* prev) {
  // During a write group, reads see revision current_+1 once something was written.
  const std::int64_t view = wrote_ ? current_ + 1 : current_;
  auto cur = visible(key, view);
  if (prev != nullptr && cur) *prev = cur;
  const std::int64_t rev = write_rev();
  key_value kv;
  kv.key = key;
  kv.mod_revision = rev;
  kv.create_revision = cur ? cur->create_revision : rev;
  kv.version = cur ? cur->version + 1 : 1;
  kv.value = (o.ignore_value && cur) ? cur->value : value;
  kv.lease = (o.ignore_lease && cur) ? cur->lease : o.lease;
  history_[key].push_back({rev, false, kv});
}

std::int64_t reference_model::do_delete(const key_range& r, std::vector<key_value>* prev) {
  const std::int64_t view = wrote_ ? current_ + 1 : current_;
  auto doomed = visible_range(r, view);
  for (const auto& kv : doomed) {
    if (prev != nullptr) prev->push_back(kv);
    const std::int64_t rev = write_rev();
    key_value tomb;
    tomb.key = kv.key;
    tomb.mod_revision = rev;
    history_[kv.key].push_back({rev, true, tomb});
  }
  return static_cast<std::int64_t>(doomed.size());
}

result<put_response> reference_model::put(const std::string& key, const std::string& value, put_options o) {
  BOOST_OUTCOME_TRYV(check_put(key, value, o));
  // A plain put looks its lease up before it looks for the key (a put in a txn does the reverse).
  if (o.lease != no_lease && leases.count(o.lease) == 0) return errc::lease_not_found;
  if ((o.ignore_value || o.ignore_lease) && !visible(key, current_)) return errc::key_not_found;
  put_response out;
  in_write_ = true;
  wrote_ = false;
  do_put(key, value, o, o.prev_kv ? &out.prev_kv : nullptr);
  in_write_ = false;
  current_ += 1;
  out.header = header(current_);
  return out;
}

result<range_response> reference_model::range(const key_range& r, range_options o) {
  BOOST_OUTCOME_TRYV(check_range(r));
  BOOST_OUTCOME_TRY(view, read_rev(o.revision));
  return do_range(r, o, view);
}

result<delete_response> reference_model::delete_range(const key_range& r, delete_options o) {
  BOOST_OUTCOME_TRYV(check_range(r));
  delete_response out;
  in_write_ = true;
  wrote_ = false;
  out.deleted = do_delete(r, o.prev_kv ? &out.prev_kvs : nullptr);
  in_write_ = false;
  if (wrote_) current_ += 1;
  out.header = header(current_);
  return out;
}

bool reference_model::holds(const compare& c) const {
  auto kvs = visible_range(c.range, current_);
  auto one = [&](const key_value& kv) {
    int cmp = 0;
    auto num = [](std::int64_t a, std::int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); };
    switch (c.target) {
      case compare_target::version: cmp = num(kv.version, c.number); break;
      case compare_target::create: cmp = num(kv.create_revision, c.number); break;
      case compare_target::mod: cmp = num(kv.mod_revision, c.number); break;
      case compare_target::lease: cmp = num(kv.lease, c.number); break;
      case compare_target::value: cmp = kv.value < c.value ? -1 : (kv.value > c.value ? 1 : 0); break;
    }
    switch (c.result) {
      case compare_result::equal: return cmp == 0;
      case compare_result::not_equal: return cmp != 0;
      case compare_result::greater: return cmp > 0;
      case compare_result::less: return cmp < 0;
    }
    return false;
  };
  if (kvs.empty()) return c.target != compare_target::value && one(key_value{});
  return std::all_of(kvs.begin(), kvs.end(), one);
}

void reference_model::path_of(const txn_request& t, std::vector<bool>& path) const {
  const bool ok = std::all_of(t.compares.begin(), t.compares.end(), [&](const compare& c) { return holds(c); });
  path.push_back(ok);
  for (const auto& op : ok ? t.success : t.failure) {
    if (op.type == request_op::kind::txn) path_of(*op.txn, path);
  }
}

result<void> reference_model::check(const txn_request& t, const std::vector<bool>& path, std::size_t& i,
                                    bool puts) const {
  for (const auto& op : path[i++] ? t.success : t.failure) {
    if (op.type == request_op::kind::txn) {
      BOOST_OUTCOME_TRYV(check(*op.txn, path, i, puts));
    } else if (puts && op.type == request_op::kind::put) {
      const auto& o = op.put_opts;
      if ((o.ignore_value || o.ignore_lease) && !visible(op.range.key, current_)) return errc::key_not_found;
      if (o.lease != no_lease && leases.count(o.lease) == 0) return errc::lease_not_found;
    } else if (!puts && op.type == request_op::kind::range) {
      // Inside a txn, etcd checks a read's revision against the compacted one even when it is negative.
      const std::int64_t rev = op.range_opts.revision;
      if (rev == 0) continue;
      if (rev > current_) return errc::future_revision;
      if (rev < compacted_) return errc::compacted;
    }
  }
  return success();
}

void reference_model::apply(const txn_request& t, const std::vector<bool>& path, std::size_t& i, txn_response& out) {
  out.succeeded = path[i++];
  for (const auto& op : out.succeeded ? t.success : t.failure) {
    response_op r;
    r.type = op.type;
    const std::int64_t view_before = wrote_ ? current_ + 1 : current_;
    switch (op.type) {
      case request_op::kind::range: {
        const std::int64_t rev = op.range_opts.revision > 0 ? op.range_opts.revision : view_before;
        r.range = do_range(op.range, op.range_opts, rev);
        r.range.header = header(view_before);
        break;
      }
      case request_op::kind::put:
        do_put(op.range.key, op.value, op.put_opts, op.put_opts.prev_kv ? &r.put.prev_kv : nullptr);
        r.put.header = header(current_ + 1);
        break;
      case request_op::kind::delete_range:
        r.delete_range.deleted = do_delete(op.range, op.delete_opts.prev_kv ? &r.delete_range.prev_kvs : nullptr);
        r.delete_range.header = header(wrote_ ? current_ + 1 : current_);
        break;
      case request_op::kind::txn:
        r.txn = std::make_shared<txn_response>();
        apply(*op.txn, path, i, *r.txn);
        break;
    }
    out.responses.push_back(std::move(r));
  }
}

result<txn_response> reference_model::txn(const txn_request& t) {
  BOOST_OUTCOME_TRYV(check_txn(t));
  std::vector<bool> path;
  path_of(t, path);
  std::size_t i = 0;
  if (writes(t)) {
    BOOST_OUTCOME_TRYV(check(t, path, i, true));
  }
  i = 0;
  BOOST_OUTCOME_TRYV(check(t, path, i, false));
  txn_response out;
  in_write_ = true;
  wrote_ = false;
  i = 0;
  apply(t, path, i, out);
  in_write_ = false;
  if (wrote_) current_ += 1;
  out.header = header(current_);
  return out;
}

result<compact_response> reference_model::compact(std::int64_t rev) {
  if (rev <= compacted_) return errc::compacted;
  if (rev > current_) return errc::future_revision;
  compacted_ = rev;
  return compact_response{header(current_)};
}

std::vector<std::string> reference_model::lease_keys(lease_id id) const {
  std::vector<std::string> out;
  for (const auto& kv : visible_range(all_keys(), current_)) {
    if (kv.lease == id) out.push_back(kv.key);
  }
  return out;
}

result<lease_grant_response> reference_model::grant(std::int64_t ttl_ms, lease_id id) {
  if (ttl_ms > 9'000'000'000'000LL) return errc::lease_ttl_too_large;
  if (ttl_ms <= 0) return errc::invalid_argument;
  if (leases.count(id) != 0) return errc::lease_exists;
  leases[id] = {ttl_ms, now_ms_ + ttl_ms};
  lease_grant_response out;
  out.header = header(current_);
  out.id = id;
  out.ttl = ttl_ms / 1000;
  out.granted = std::chrono::milliseconds(ttl_ms);
  return out;
}

result<lease_revoke_response> reference_model::revoke(lease_id id) {
  if (leases.count(id) == 0) return errc::lease_not_found;
  in_write_ = true;
  wrote_ = false;
  for (const auto& k : lease_keys(id)) do_delete(key_range(k), nullptr);
  in_write_ = false;
  if (wrote_) current_ += 1;
  leases.erase(id);
  return lease_revoke_response{header(current_)};
}

result<lease_keep_alive_response> reference_model::keep_alive(lease_id id) {
  auto it = leases.find(id);
  if (it == leases.end()) return errc::lease_not_found;
  if (it->second.deadline_ms <= now_ms_) {
    (void)revoke(id);
    return errc::lease_not_found;
  }
  it->second.deadline_ms = now_ms_ + it->second.ttl_ms;
  lease_keep_alive_response out;
  out.header = header(current_);
  out.id = id;
  out.ttl = it->second.ttl_ms / 1000;
  out.granted = std::chrono::milliseconds(it->second.ttl_ms);
  return out;
}

lease_time_to_live_response reference_model::time_to_live(lease_id id) {
  lease_time_to_live_response out;
  out.header = header(current_);
  out.id = id;
  auto it = leases.find(id);
  if (it == leases.end()) return out;
  out.remaining = std::chrono::milliseconds(it->second.deadline_ms - now_ms_);
  out.ttl = (it->second.deadline_ms - now_ms_) / 1000;
  out.granted = std::chrono::milliseconds(it->second.ttl_ms);
  out.granted_ttl = it->second.ttl_ms / 1000;
  out.keys = lease_keys(id);
  return out;
}

lease_leases_response reference_model::list_leases() const {
  std::vector<std::pair<std::int64_t, lease_id>> order;
  for (const auto& [id, l] : leases) order.emplace_back(l.deadline_ms, id);
  std::sort(order.begin(), order.end());
  lease_leases_response out;
  out.header = header(current_);
  for (const auto& [deadline, id] : order) out.leases.push_back({id});
  return out;
}

void reference_model::advance(std::int64_t ms) {
  now_ms_ += ms;
  for (;;) {
    std::optional<std::pair<std::int64_t, lease_id>> first;
    for (const auto& [id, l] : leases) {
      if (l.deadline_ms <= now_ms_ && (!first || std::make_pair(l.deadline_ms, id) < *first)) first.emplace(l.deadline_ms, id);
    }
    if (!first) return;
    (void)revoke(first->second);
  }
}

}  // namespace leasekv::testing
