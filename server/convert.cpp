#include "convert.hpp"

#include <memory>
#include <utility>

namespace leasekv::server_detail {

void to_pb(const response_header& h, etcdserverpb::ResponseHeader* out) {
  out->set_cluster_id(h.cluster_id);
  out->set_member_id(h.member_id);
  out->set_revision(h.revision);
  out->set_raft_term(h.raft_term);
}

void to_pb(const key_value& kv, mvccpb::KeyValue* out) {
  out->set_key(kv.key);
  out->set_create_revision(kv.create_revision);
  out->set_mod_revision(kv.mod_revision);
  out->set_version(kv.version);
  out->set_value(kv.value);
  out->set_lease(kv.lease);
}

void to_pb(const key_value_view& kv, mvccpb::KeyValue* out) {
  out->set_key(kv.key.data(), kv.key.size());
  out->set_create_revision(kv.create_revision);
  out->set_mod_revision(kv.mod_revision);
  out->set_version(kv.version);
  out->set_value(kv.value.data(), kv.value.size());
  out->set_lease(kv.lease);
}

result<range_options> from_pb_options(const etcdserverpb::RangeRequest& r) {
  range_options o;
  o.limit = r.limit();
  o.revision = r.revision();
  switch (r.sort_order()) {
    case etcdserverpb::RangeRequest::NONE: o.order = sort_order::none; break;
    case etcdserverpb::RangeRequest::ASCEND: o.order = sort_order::ascend; break;
    case etcdserverpb::RangeRequest::DESCEND: o.order = sort_order::descend; break;
    default: return error(errc::invalid_argument, "unknown sort_order");
  }
  switch (r.sort_target()) {
    case etcdserverpb::RangeRequest::KEY: o.target = sort_target::key; break;
    case etcdserverpb::RangeRequest::VERSION: o.target = sort_target::version; break;
    case etcdserverpb::RangeRequest::CREATE: o.target = sort_target::create; break;
    case etcdserverpb::RangeRequest::MOD: o.target = sort_target::mod; break;
    case etcdserverpb::RangeRequest::VALUE: o.target = sort_target::value; break;
    default: return error(errc::invalid_argument, "unknown sort_target");
  }
  o.serializable = r.serializable();
  o.keys_only = r.keys_only();
  o.count_only = r.count_only();
  o.min_mod_revision = r.min_mod_revision();
  o.max_mod_revision = r.max_mod_revision();
  o.min_create_revision = r.min_create_revision();
  o.max_create_revision = r.max_create_revision();
  return o;
}

namespace {

result<compare> compare_from_pb(const etcdserverpb::Compare& c) {
  compare out;
  switch (c.result()) {
    case etcdserverpb::Compare::EQUAL: out.result = compare_result::equal; break;
    case etcdserverpb::Compare::GREATER: out.result = compare_result::greater; break;
    case etcdserverpb::Compare::LESS: out.result = compare_result::less; break;
    case etcdserverpb::Compare::NOT_EQUAL: out.result = compare_result::not_equal; break;
    default: return error(errc::invalid_argument, "unknown compare result");
  }
  // etcd reads the target's own member of target_union; an absent one (or another member) reads as
  // zero / empty.
  using tu = etcdserverpb::Compare::TargetUnionCase;
  switch (c.target()) {
    case etcdserverpb::Compare::VERSION:
      out.target = compare_target::version;
      out.number = c.target_union_case() == tu::kVersion ? c.version() : 0;
      break;
    case etcdserverpb::Compare::CREATE:
      out.target = compare_target::create;
      out.number = c.target_union_case() == tu::kCreateRevision ? c.create_revision() : 0;
      break;
    case etcdserverpb::Compare::MOD:
      out.target = compare_target::mod;
      out.number = c.target_union_case() == tu::kModRevision ? c.mod_revision() : 0;
      break;
    case etcdserverpb::Compare::VALUE:
      out.target = compare_target::value;
      if (c.target_union_case() == tu::kValue) out.value = c.value();
      break;
    case etcdserverpb::Compare::LEASE:
      out.target = compare_target::lease;
      out.number = c.target_union_case() == tu::kLease ? c.lease() : 0;
      break;
    default: return error(errc::invalid_argument, "unknown compare target");
  }
  out.range = key_range(c.key(), c.range_end());
  return out;
}

result<request_op> op_from_pb(const etcdserverpb::RequestOp& o) {
  request_op out;
  switch (o.request_case()) {
    case etcdserverpb::RequestOp::kRequestRange: {
      const auto& r = o.request_range();
      out.type = request_op::kind::range;
      out.range = key_range(r.key(), r.range_end());
      BOOST_OUTCOME_TRY(opts, from_pb_options(r));
      out.range_opts = opts;
      return out;
    }
    case etcdserverpb::RequestOp::kRequestPut: {
      const auto& p = o.request_put();
      out.type = request_op::kind::put;
      out.range = key_range(p.key());
      out.value = p.value();
      out.put_opts = {.lease = p.lease(), .prev_kv = p.prev_kv(), .ignore_value = p.ignore_value(),
                      .ignore_lease = p.ignore_lease()};
      return out;
    }
    case etcdserverpb::RequestOp::kRequestDeleteRange: {
      const auto& d = o.request_delete_range();
      out.type = request_op::kind::delete_range;
      out.range = key_range(d.key(), d.range_end());
      out.delete_opts.prev_kv = d.prev_kv();
      return out;
    }
    case etcdserverpb::RequestOp::kRequestTxn: {
      BOOST_OUTCOME_TRY(nested, from_pb(o.request_txn()));
      out.type = request_op::kind::txn;
      out.txn = std::make_shared<const txn_request>(std::move(nested));
      return out;
    }
    default:
      // etcd's checkRequestOp: an op with no request set.
      return error(errc::key_not_found);
  }
}

void op_to_pb(const response_op& r, etcdserverpb::ResponseOp* out) {
  switch (r.type) {
    case request_op::kind::range: to_pb(r.range, out->mutable_response_range()); break;
    case request_op::kind::put: to_pb(r.put, out->mutable_response_put()); break;
    case request_op::kind::delete_range: to_pb(r.delete_range, out->mutable_response_delete_range()); break;
    case request_op::kind::txn:
      if (r.txn) to_pb(*r.txn, out->mutable_response_txn());
      break;
  }
}

// Headers inside a txn carry only what the store put there (a revision); etcd leaves the ids at 0.
void to_pb_inner(const response_header& h, etcdserverpb::ResponseHeader* out) {
  if (h.cluster_id != 0) out->set_cluster_id(h.cluster_id);
  if (h.member_id != 0) out->set_member_id(h.member_id);
  out->set_revision(h.revision);
  if (h.raft_term != 0) out->set_raft_term(h.raft_term);
}

}  // namespace

result<txn_request> from_pb(const etcdserverpb::TxnRequest& t) {
  txn_request out;
  out.compares.reserve(static_cast<std::size_t>(t.compare_size()));
  for (const auto& c : t.compare()) {
    BOOST_OUTCOME_TRY(v, compare_from_pb(c));
    out.compares.push_back(std::move(v));
  }
  for (const auto& o : t.success()) {
    BOOST_OUTCOME_TRY(v, op_from_pb(o));
    out.success.push_back(std::move(v));
  }
  for (const auto& o : t.failure()) {
    BOOST_OUTCOME_TRY(v, op_from_pb(o));
    out.failure.push_back(std::move(v));
  }
  return out;
}

void to_pb(range_view_response& r, etcdserverpb::RangeResponse* out) {
  to_pb(r.header, out->mutable_header());
  out->mutable_kvs()->Reserve(static_cast<int>(r.kvs.size()));
  for (const auto& kv : r.kvs) to_pb(kv, out->add_kvs());
  out->set_more(r.more);
  out->set_count(r.count);
}

void to_pb(const range_response& r, etcdserverpb::RangeResponse* out) {
  to_pb_inner(r.header, out->mutable_header());
  for (const auto& kv : r.kvs) to_pb(kv, out->add_kvs());
  out->set_more(r.more);
  out->set_count(r.count);
}

void to_pb(const put_response& r, etcdserverpb::PutResponse* out) {
  to_pb_inner(r.header, out->mutable_header());
  if (r.prev_kv) to_pb(*r.prev_kv, out->mutable_prev_kv());
}

void to_pb(const delete_response& r, etcdserverpb::DeleteRangeResponse* out) {
  to_pb_inner(r.header, out->mutable_header());
  out->set_deleted(r.deleted);
  for (const auto& kv : r.prev_kvs) to_pb(kv, out->add_prev_kvs());
}

void to_pb(const txn_response& r, etcdserverpb::TxnResponse* out) {
  to_pb_inner(r.header, out->mutable_header());
  out->set_succeeded(r.succeeded);
  for (const auto& op : r.responses) op_to_pb(op, out->add_responses());
}

}  // namespace leasekv::server_detail
