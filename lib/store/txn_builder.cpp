// txn_builder and the helpers that make compares and ops (txn.hpp); evaluation is in txn.cpp.
#include "leasekv/store.hpp"
#include "leasekv/txn.hpp"

#include "store/anchor.hpp"

namespace leasekv {

compare make_compare(compare::operand lhs, compare_result res, std::int64_t number) {
  compare c;
  c.result = res;
  c.target = lhs.target;
  c.range = std::move(lhs.range);
  c.number = number;
  return c;
}

compare make_compare(compare::operand lhs, compare_result res, std::string_view value) {
  compare c;
  c.result = res;
  c.target = lhs.target;
  c.range = std::move(lhs.range);
  c.value.assign(value);
  return c;
}

namespace op {

request_op get(key_range r, range_options o) {
  request_op op;
  op.type = request_op::kind::range;
  op.range = std::move(r);
  op.range_opts = o;
  return op;
}

request_op put(std::string_view key, std::string_view value, put_options o) {
  request_op op;
  op.type = request_op::kind::put;
  op.range = key_range(key);
  op.value.assign(value);
  op.put_opts = o;
  return op;
}

request_op del(key_range r, delete_options o) {
  request_op op;
  op.type = request_op::kind::delete_range;
  op.range = std::move(r);
  op.delete_opts = o;
  return op;
}

request_op txn(txn_request t) {
  request_op op;
  op.type = request_op::kind::txn;
  op.txn = std::make_shared<const txn_request>(std::move(t));
  return op;
}

}  // namespace op

result<txn_response> txn_builder::commit() {
  return anchor_->call([this](store& s) { return s.txn(req_); });
}

}  // namespace leasekv
