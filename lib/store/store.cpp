#include "leasekv/store.hpp"

#include "base/mutex.hpp"
#include "mvcc/kv_store.hpp"
#include "store/validate.hpp"

#include <atomic>
#include <random>
#include <string>
#include <vector>

namespace leasekv {

namespace {

// Compaction frees at most this many keys' history per hold of the write lock.
constexpr std::size_t compaction_batch_keys = 1000;

// A random non-zero id. The entropy source is read once per process (constructing a random_device
// costs more than opening a store); each call then advances a splitmix64 sequence.
std::uint64_t random_id() {
  static std::atomic<std::uint64_t> state{[] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }()};
  for (;;) {
    std::uint64_t z = state.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    if (z != 0) return z;
  }
}

std::int64_t compare_numbers(std::int64_t a, std::int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

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
    case compare_target::version: cmp = static_cast<int>(compare_numbers(version, c.number)); break;
    case compare_target::create: cmp = static_cast<int>(compare_numbers(create, c.number)); break;
    case compare_target::mod: cmp = static_cast<int>(compare_numbers(mod, c.number)); break;
    case compare_target::lease: cmp = static_cast<int>(compare_numbers(lease, c.number)); break;
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
    all = compare_fields(c, v.version, v.create_revision, v.mod_main, v.lease, v.value());
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

struct store::impl {
  explicit impl(options o)
      : opts(std::move(o)),
        cluster_id(opts.cluster_id != 0 ? opts.cluster_id : random_id()),
        member_id(opts.member_id != 0 ? opts.member_id : random_id()),
        lim{opts.max_request_bytes, opts.max_txn_ops} {}

  response_header header(std::int64_t rev) const { return {cluster_id, member_id, rev, raft_term}; }

  // The lease seam: the lessor (a later module) answers this; until then no lease exists.
  bool lease_known(lease_id) const LEASEKV_REQUIRES_SHARED(mu) { return false; }

  // Store-state checks along the branches the txn will take: first the puts, then the ranges (etcd's
  // order). `i` walks `path` in the same pre-order compute_path wrote it.
  result<void> check_puts(const txn_request& t, const std::vector<bool>& path, std::size_t& i) const
      LEASEKV_REQUIRES_SHARED(mu) {
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

  result<void> check_ranges(const txn_request& t, const std::vector<bool>& path, std::size_t& i) const
      LEASEKV_REQUIRES_SHARED(mu) {
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
  void apply(const txn_request& t, const std::vector<bool>& path, std::size_t& i, txn_response& out)
      LEASEKV_REQUIRES(mu) {
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
          r.delete_range.deleted =
              kv.delete_range(op.range, op.delete_opts.prev_kv ? &r.delete_range.prev_kvs : nullptr);
          r.delete_range.header.revision = kv.current_revision();
          break;
        case request_op::kind::txn:
          r.txn = std::make_shared<txn_response>();
          apply(*op.txn, path, i, *r.txn);
          break;
      }
    }
  }

  const options opts;
  const std::uint64_t cluster_id;
  const std::uint64_t member_id;
  const std::uint64_t raft_term = 2;
  const detail::limits lim;

  mutable base::shared_mutex mu;
  mvcc::kv_store kv LEASEKV_GUARDED_BY(mu);

  base::mutex compaction_mu;  // one compaction at a time; taken before mu
};

result<std::unique_ptr<store>> store::open(options opts) {
  return std::unique_ptr<store>(new store(std::make_unique<impl>(std::move(opts))));
}

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::~store() = default;

result<put_response> store::put(std::string_view key, std::string_view value, put_options o) {
  BOOST_OUTCOME_TRYV(detail::check_put(key, value, o, impl_->lim));
  base::lock_guard lock(impl_->mu);
  auto& kv = impl_->kv;
  if ((o.ignore_value || o.ignore_lease) && kv.live(key) == nullptr) return errc::key_not_found;
  if (o.lease != no_lease && !impl_->lease_known(o.lease)) return errc::lease_not_found;
  put_response out;
  kv.begin_write();
  kv.put(key, value, o.lease, o.ignore_value, o.ignore_lease, o.prev_kv ? &out.prev_kv : nullptr);
  out.header = impl_->header(kv.end_write());
  return out;
}

result<range_response> store::get(std::string_view key, range_options o) { return range(key_range(key), o); }

result<range_response> store::range(const key_range& r, range_options o) {
  BOOST_OUTCOME_TRYV(detail::check_range(r, impl_->lim));
  base::shared_lock_guard lock(impl_->mu);
  BOOST_OUTCOME_TRY(rr, impl_->kv.range(r, o));
  range_response out;
  out.header = impl_->header(rr.revision);
  out.kvs = std::move(rr.kvs);
  out.more = rr.more;
  out.count = rr.count;
  return out;
}

result<delete_response> store::delete_range(const key_range& r, delete_options o) {
  BOOST_OUTCOME_TRYV(detail::check_range(r, impl_->lim));
  base::lock_guard lock(impl_->mu);
  auto& kv = impl_->kv;
  delete_response out;
  kv.begin_write();
  out.deleted = kv.delete_range(r, o.prev_kv ? &out.prev_kvs : nullptr);
  out.header = impl_->header(kv.end_write());
  return out;
}

result<txn_response> store::txn(const txn_request& t) {
  BOOST_OUTCOME_TRYV(detail::check_txn(t, impl_->lim));
  const bool write = !detail::is_read_only(t);
  // The lock is held by the caller below, shared for a read-only txn (which only reads the kv store)
  // and exclusive otherwise; the analysis cannot follow a lambda, so it is told.
  auto run = [&]() LEASEKV_NO_THREAD_SAFETY_ANALYSIS -> result<txn_response> {
    auto& kv = impl_->kv;
    std::vector<bool> path;
    compute_path(kv, t, path);
    std::size_t i = 0;
    BOOST_OUTCOME_TRYV(impl_->check_puts(t, path, i));
    i = 0;
    BOOST_OUTCOME_TRYV(impl_->check_ranges(t, path, i));
    txn_response out;
    i = 0;
    if (write) kv.begin_write();
    impl_->apply(t, path, i, out);
    out.header = impl_->header(write ? kv.end_write() : kv.current_revision());
    return out;
  };
  if (!write) {
    base::shared_lock_guard lock(impl_->mu);
    return run();
  }
  base::lock_guard lock(impl_->mu);
  return run();
}

result<compact_response> store::compact(std::int64_t rev, compact_options) {
  base::lock_guard serial(impl_->compaction_mu);
  {
    base::lock_guard lock(impl_->mu);
    BOOST_OUTCOME_TRYV(impl_->kv.set_compacted(rev));
  }
  std::optional<std::string> resume(std::in_place);
  while (resume) {
    base::lock_guard lock(impl_->mu);
    resume = impl_->kv.compact_batch(rev, *resume, compaction_batch_keys);
  }
  return compact_response{impl_->header(revision())};
}

std::int64_t store::revision() const {
  base::shared_lock_guard lock(impl_->mu);
  return impl_->kv.current_revision();
}

std::int64_t store::compacted_revision() const {
  base::shared_lock_guard lock(impl_->mu);
  return impl_->kv.compacted_revision();
}

store::stats store::statistics() const {
  base::shared_lock_guard lock(impl_->mu);
  return {impl_->kv.live_keys(), impl_->kv.entries(), impl_->kv.versions()};
}

}  // namespace leasekv
