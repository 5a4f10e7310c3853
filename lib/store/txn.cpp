// The embedded store's transactions, as etcd evaluates them: every compare (nested txns' included) against
// the state before the txn, the branch taken recorded in pre-order; then the store-state checks of the
// branches taken (first the puts, then the ranges: etcd's order); then, with nothing left that can fail
// but the log append, the ops applied in one write group. A read-only txn runs under the shared lock.
#include "store/store_impl.hpp"

#include <vector>

namespace leasekv {

namespace {

int sign(std::int64_t a, std::int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

bool compare_outcome(compare_result r, int cmp) {
  switch (r) {
    case compare_result::equal: return cmp == 0;
    case compare_result::not_equal: return cmp != 0;
    case compare_result::greater: return cmp > 0;
    case compare_result::less: return cmp < 0;
  }
  return false;
}

// Compares one key's fields (all zero for a missing key) with the compare's operand.
bool compare_fields(const compare& c, std::int64_t version, std::int64_t create, std::int64_t mod,
                    std::int64_t lease, std::string_view value) {
  int cmp = 0;
  switch (c.target) {
    case compare_target::version: cmp = sign(version, c.number); break;
    case compare_target::create: cmp = sign(create, c.number); break;
    case compare_target::mod: cmp = sign(mod, c.number); break;
    case compare_target::lease: cmp = sign(lease, c.number); break;
    case compare_target::value: {
      const int raw = value.compare(c.value);
      cmp = raw < 0 ? -1 : (raw > 0 ? 1 : 0);
      break;
    }
  }
  return compare_outcome(c.result, cmp);
}

bool compare_holds(const mvcc::kv_store& kv, const compare& c) {
  bool found = false;
  bool all = true;
  kv.for_each_live(c.range, kv.current_revision(), [&](const mvcc::key_entry&, const mvcc::key_version& v) {
    found = true;
    all = compare_fields(c, v.version(), v.create_revision(), v.mod_main, v.lease, v.value());
    return all;
  });
  if (!found) return c.target != compare_target::value && compare_fields(c, 0, 0, 0, 0, {});
  return all;
}

const std::vector<request_op>& branch(const txn_request& t, bool succeeded) {
  return succeeded ? t.success : t.failure;
}

// etcd evaluates every compare, nested txns' included, against the state before the txn, and records the
// branch taken in pre-order.
void compute_path(const mvcc::kv_store& kv, const txn_request& t, std::vector<bool>& path) {
  bool ok = true;
  for (const auto& c : t.compares) {
    if (!compare_holds(kv, c)) {
      ok = false;
      break;
    }
  }
  path.push_back(ok);
  for (const auto& op : branch(t, ok)) {
    if (op.type == request_op::kind::txn) compute_path(kv, *op.txn, path);
  }
}

}  // namespace

// Store-state checks along the branches the txn will take: first the puts, then the ranges (etcd's
// order). `i` walks `path` in the same pre-order compute_path wrote it.
result<void> embedded_store::impl::check_puts(const txn_request& t, const std::vector<bool>& path, std::size_t& i) const {
  for (const auto& op : branch(t, path[i++])) {
    if (op.type == request_op::kind::txn) {
      BOOST_OUTCOME_TRYV(check_puts(*op.txn, path, i));
    } else if (op.type == request_op::kind::put) {
      const auto& o = op.put_opts;
      if ((o.ignore_value || o.ignore_lease) && kv.live(op.range.key) == nullptr) return errc::key_not_found;
      if (o.lease != no_lease && !lease_known(o.lease)) return errc::lease_not_found;
    }
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> embedded_store::impl::check_ranges(const txn_request& t, const std::vector<bool>& path, std::size_t& i) const {
  for (const auto& op : branch(t, path[i++])) {
    if (op.type == request_op::kind::txn) {
      BOOST_OUTCOME_TRYV(check_ranges(*op.txn, path, i));
    } else if (op.type == request_op::kind::range) {
      BOOST_OUTCOME_TRYV(kv.read_revision(op.range_opts.revision));
    }
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

// Applies the branch the path chose. Everything that could fail was checked before.
void embedded_store::impl::apply(const txn_request& t, const std::vector<bool>& path, std::size_t& i, txn_response& out) {
  out.succeeded = path[i++];
  for (const auto& op : branch(t, out.succeeded)) {
    response_op& r = out.responses.emplace_back();
    r.type = op.type;
    switch (op.type) {
      case request_op::kind::range: {
        auto rr = kv.range(op.range, op.range_opts).value();
        r.range.header.revision = rr.revision;
        r.range.kvs = std::move(rr.kvs);
        r.range.more = rr.more;
        r.range.count = rr.count;
        break;
      }
      case request_op::kind::put: {
        const auto& o = op.put_opts;
        kv.put(op.range.key, op.value, o.lease, o.ignore_value, o.ignore_lease, o.prev_kv ? &r.put.prev_kv : nullptr);
        r.put.header.revision = kv.current_revision();
        break;
      }
      case request_op::kind::delete_range:
        r.delete_range.deleted = kv.delete_range(op.range, op.delete_opts.prev_kv ? &r.delete_range.prev_kvs : nullptr);
        r.delete_range.header.revision = kv.current_revision();
        break;
      case request_op::kind::txn:
        r.txn = std::make_shared<txn_response>();
        apply(*op.txn, path, i, *r.txn);
        break;
    }
  }
}

result<txn_response> embedded_store::txn(const txn_request& t) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  BOOST_OUTCOME_TRYV(detail::check_txn(t, impl_->lim));
  const bool write = !detail::is_read_only(t);
  if (write) {
    BOOST_OUTCOME_TRYV(impl_->check_writable());
  }
  std::uint64_t lsn = 0;
  // The lock is held by the caller below, shared for a read-only txn (which only reads the kv store)
  // and exclusive otherwise; the analysis cannot follow a lambda, so it is told.
  auto run = [&]() LEASEKV_NO_THREAD_SAFETY_ANALYSIS -> result<txn_response> {
    if (write) {
      BOOST_OUTCOME_TRYV(impl_->check_open());  // under the lock: see close()
    }
    auto& kv = impl_->kv;
    std::vector<bool> path;
    compute_path(kv, t, path);
    std::size_t i = 0;
    BOOST_OUTCOME_TRYV(impl_->check_puts(t, path, i));
    i = 0;
    BOOST_OUTCOME_TRYV(impl_->check_ranges(t, path, i));
    if (write && detail::has_puts(t)) {
      BOOST_OUTCOME_TRYV(impl_->check_quota(detail::request_bytes(t)));
    }
    txn_response out;
    i = 0;
    if (!write) {
      impl_->apply(t, path, i, out);
      out.header = impl_->header(kv.current_revision());
      return out;
    }
    kv.begin_write();
    impl_->apply(t, path, i, out);
    if (!kv.changes().empty()) {
      BOOST_OUTCOME_TRYV(impl_->commit({}, true));
    }
    out.header = impl_->header(impl_->finish_write());
    lsn = impl_->last_lsn;
    return out;
  };
  if (!write) {
    read_lock lock(impl_->mu, impl_->waiting);
    return run();
  }
  result<txn_response> out = [&] {
    write_lock lock(impl_->mu, impl_->waiting);
    return run();
  }();
  if (out) {
    BOOST_OUTCOME_TRYV(impl_->durable(lsn));
  }
  return out;
}

}  // namespace leasekv
