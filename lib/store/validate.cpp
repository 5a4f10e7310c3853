#include "store/validate.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace leasekv::detail {
namespace {

std::size_t op_bytes(const request_op& op) {
  if (op.type == request_op::kind::txn) return op.txn ? request_bytes(*op.txn) : 0;
  return op.range.key.size() + op.range.range_end.size() + op.value.size();
}

}  // namespace

std::size_t request_bytes(const txn_request& t) {
  std::size_t n = 0;
  for (const auto& c : t.compares) n += c.range.key.size() + c.range.range_end.size() + c.value.size();
  for (const auto& op : t.success) n += op_bytes(op);
  for (const auto& op : t.failure) n += op_bytes(op);
  return n;
}

namespace {

result<void> check_put_fields(std::string_view key, std::string_view value, const put_options& o) {
  if (key.empty()) return errc::key_not_provided;
  if (o.ignore_value && !value.empty()) return errc::value_provided;
  if (o.ignore_lease && o.lease != no_lease) return errc::lease_provided;
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> check_txn_ops(const txn_request& t, std::size_t max_ops);

result<void> check_op(const request_op& op, std::size_t max_ops) {
  switch (op.type) {
    case request_op::kind::range:
    case request_op::kind::delete_range:
      if (op.range.key.empty()) return errc::key_not_provided;
      break;
    case request_op::kind::put:
      return check_put_fields(op.range.key, op.value, op.put_opts);
    case request_op::kind::txn:
      if (!op.txn) {
        return error(errc::invalid_argument, "a nested txn op without its txn_request");
      }
      return check_txn_ops(*op.txn, max_ops);
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

// etcd's checkTxnRequest: the largest of compares / success / failure is bounded, and a nested txn gets
// what its parent left over.
result<void> check_txn_ops(const txn_request& t, std::size_t max_ops) {
  const std::size_t opc = std::max({t.compares.size(), t.success.size(), t.failure.size()});
  if (opc > max_ops) return errc::too_many_ops;
  for (const auto& c : t.compares) {
    if (c.range.key.empty()) return errc::key_not_provided;
  }
  for (const auto* branch : {&t.success, &t.failure}) {
    for (const auto& op : *branch) {
      BOOST_OUTCOME_TRYV(check_op(op, max_ops - opc));
    }
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

// As etcd's checkIntervals sees a delete: the interval [key, range_end) of plain strings, so a from-key
// delete (range_end "\0") covers no key there, and etcd 3.4 accepts a put beside it in one branch.
bool covers(const key_range& r, const std::string& k) {
  if (r.range_end.empty()) return k == r.key;
  return r.key <= k && k < r.range_end;
}

bool covered(const std::vector<key_range>& dels, const std::string& k) {
  return std::any_of(dels.begin(), dels.end(), [&](const key_range& r) { return covers(r, k); });
}

struct interval_sets {
  std::set<std::string> puts;
  std::vector<key_range> dels;
};

// etcd's checkIntervals: within one branch, a key may be put once and never both put and deleted; a
// nested txn's two branches may put the same key, since only one of them runs.
result<interval_sets> check_intervals(const std::vector<request_op>& ops) {
  interval_sets out;
  for (const auto& op : ops) {
    if (op.type == request_op::kind::delete_range) out.dels.push_back(op.range);
  }
  for (const auto& op : ops) {
    if (op.type != request_op::kind::txn) continue;
    BOOST_OUTCOME_TRY(then_sets, check_intervals(op.txn->success));
    BOOST_OUTCOME_TRY(else_sets, check_intervals(op.txn->failure));
    for (const auto& k : then_sets.puts) {
      if (out.puts.count(k) != 0 || covered(out.dels, k)) return errc::duplicate_key;
      out.puts.insert(k);
    }
    for (const auto& k : else_sets.puts) {
      if (out.puts.count(k) != 0 && then_sets.puts.count(k) == 0) return errc::duplicate_key;
      if (covered(out.dels, k)) return errc::duplicate_key;
      out.puts.insert(k);
    }
    out.dels.insert(out.dels.end(), then_sets.dels.begin(), then_sets.dels.end());
    out.dels.insert(out.dels.end(), else_sets.dels.begin(), else_sets.dels.end());
  }
  for (const auto& op : ops) {
    if (op.type != request_op::kind::put) continue;
    if (out.puts.count(op.range.key) != 0 || covered(out.dels, op.range.key)) return errc::duplicate_key;
    out.puts.insert(op.range.key);
  }
  return out;
}

}  // namespace

result<void> check_put(std::string_view key, std::string_view value, const put_options& o, const limits& l) {
  BOOST_OUTCOME_TRYV(check_put_fields(key, value, o));
  if (key.size() + value.size() > l.max_request_bytes) return errc::request_too_large;
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> check_range(const key_range& r, const limits& l) {
  if (r.key.empty()) return errc::key_not_provided;
  if (r.key.size() + r.range_end.size() > l.max_request_bytes) return errc::request_too_large;
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> check_txn(const txn_request& t, const limits& l) {
  BOOST_OUTCOME_TRYV(check_txn_ops(t, l.max_txn_ops));
  BOOST_OUTCOME_TRYV(check_intervals(t.success));
  BOOST_OUTCOME_TRYV(check_intervals(t.failure));
  if (request_bytes(t) > l.max_request_bytes) return errc::request_too_large;
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

bool has_puts(const txn_request& t) {
  for (const auto* branch : {&t.success, &t.failure}) {
    for (const auto& op : *branch) {
      if (op.type == request_op::kind::put) return true;
      if (op.type == request_op::kind::txn && op.txn && has_puts(*op.txn)) return true;
    }
  }
  return false;
}

bool is_read_only(const txn_request& t) {
  for (const auto* branch : {&t.success, &t.failure}) {
    for (const auto& op : *branch) {
      if (op.type == request_op::kind::put || op.type == request_op::kind::delete_range) return false;
      if (op.type == request_op::kind::txn && op.txn && !is_read_only(*op.txn)) return false;
    }
  }
  return true;
}

}  // namespace leasekv::detail
