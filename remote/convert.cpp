#include "convert.hpp"

#include <cstring>
#include <memory>

namespace leasekv::remote_detail {

response_header from_pb(const etcdserverpb::ResponseHeader& h) {
  return {h.cluster_id(), h.member_id(), h.revision(), h.raft_term()};
}

key_value from_pb(const mvccpb::KeyValue& kv) {
  return {kv.key(), kv.create_revision(), kv.mod_revision(), kv.version(), kv.value(), kv.lease()};
}

void to_pb(const key_range& r, const range_options& o, etcdserverpb::RangeRequest* out) {
  out->set_key(r.key);
  out->set_range_end(r.range_end);
  out->set_limit(o.limit);
  out->set_revision(o.revision);
  switch (o.order) {
    case sort_order::none: out->set_sort_order(etcdserverpb::RangeRequest::NONE); break;
    case sort_order::ascend: out->set_sort_order(etcdserverpb::RangeRequest::ASCEND); break;
    case sort_order::descend: out->set_sort_order(etcdserverpb::RangeRequest::DESCEND); break;
  }
  switch (o.target) {
    case sort_target::key: out->set_sort_target(etcdserverpb::RangeRequest::KEY); break;
    case sort_target::version: out->set_sort_target(etcdserverpb::RangeRequest::VERSION); break;
    case sort_target::create: out->set_sort_target(etcdserverpb::RangeRequest::CREATE); break;
    case sort_target::mod: out->set_sort_target(etcdserverpb::RangeRequest::MOD); break;
    case sort_target::value: out->set_sort_target(etcdserverpb::RangeRequest::VALUE); break;
  }
  out->set_serializable(o.serializable);
  out->set_keys_only(o.keys_only);
  out->set_count_only(o.count_only);
  out->set_min_mod_revision(o.min_mod_revision);
  out->set_max_mod_revision(o.max_mod_revision);
  out->set_min_create_revision(o.min_create_revision);
  out->set_max_create_revision(o.max_create_revision);
}

void to_pb(std::string_view key, std::string_view value, const put_options& o, etcdserverpb::PutRequest* out) {
  out->set_key(key.data(), key.size());
  out->set_value(value.data(), value.size());
  out->set_lease(o.lease);
  out->set_prev_kv(o.prev_kv);
  out->set_ignore_value(o.ignore_value);
  out->set_ignore_lease(o.ignore_lease);
}

void to_pb(const key_range& r, const delete_options& o, etcdserverpb::DeleteRangeRequest* out) {
  out->set_key(r.key);
  out->set_range_end(r.range_end);
  out->set_prev_kv(o.prev_kv);
}

namespace {

void compare_to_pb(const compare& c, etcdserverpb::Compare* out) {
  switch (c.result) {
    case compare_result::equal: out->set_result(etcdserverpb::Compare::EQUAL); break;
    case compare_result::greater: out->set_result(etcdserverpb::Compare::GREATER); break;
    case compare_result::less: out->set_result(etcdserverpb::Compare::LESS); break;
    case compare_result::not_equal: out->set_result(etcdserverpb::Compare::NOT_EQUAL); break;
  }
  out->set_key(c.range.key);
  out->set_range_end(c.range.range_end);
  switch (c.target) {
    case compare_target::version:
      out->set_target(etcdserverpb::Compare::VERSION);
      out->set_version(c.number);
      break;
    case compare_target::create:
      out->set_target(etcdserverpb::Compare::CREATE);
      out->set_create_revision(c.number);
      break;
    case compare_target::mod:
      out->set_target(etcdserverpb::Compare::MOD);
      out->set_mod_revision(c.number);
      break;
    case compare_target::value:
      out->set_target(etcdserverpb::Compare::VALUE);
      out->set_value(c.value);
      break;
    case compare_target::lease:
      out->set_target(etcdserverpb::Compare::LEASE);
      out->set_lease(c.number);
      break;
  }
}

void op_to_pb(const request_op& op, etcdserverpb::RequestOp* out) {
  switch (op.type) {
    case request_op::kind::range: to_pb(op.range, op.range_opts, out->mutable_request_range()); break;
    case request_op::kind::put: to_pb(op.range.key, op.value, op.put_opts, out->mutable_request_put()); break;
    case request_op::kind::delete_range: to_pb(op.range, op.delete_opts, out->mutable_request_delete_range()); break;
    case request_op::kind::txn:
      // A nested txn with no request is an op with nothing set, which etcd refuses (key not found).
      if (op.txn) {
        to_pb(*op.txn, out->mutable_request_txn());
      }
      break;
  }
}

}  // namespace

void to_pb(const txn_request& t, etcdserverpb::TxnRequest* out) {
  for (const auto& c : t.compares) compare_to_pb(c, out->add_compare());
  for (const auto& op : t.success) op_to_pb(op, out->add_success());
  for (const auto& op : t.failure) op_to_pb(op, out->add_failure());
}

range_response from_pb(const etcdserverpb::RangeResponse& r) {
  range_response out{from_pb(r.header()), {}, r.more(), r.count()};
  out.kvs.reserve(static_cast<std::size_t>(r.kvs_size()));
  for (const auto& kv : r.kvs()) out.kvs.push_back(from_pb(kv));
  return out;
}

range_view_response view_from_pb(const etcdserverpb::RangeResponse& r) {
  range_view_response out;
  out.header = from_pb(r.header());
  out.more = r.more();
  out.count = r.count();
  std::size_t total = 0;
  for (const auto& kv : r.kvs()) total += kv.key().size() + kv.value().size();
  out.bytes = std::make_unique<char[]>(total == 0 ? 1 : total);
  char* p = out.bytes.get();
  auto copy = [&p](const std::string& s) {
    std::memcpy(p, s.data(), s.size());
    std::string_view v(p, s.size());
    p += s.size();
    return v;
  };
  out.kvs.reserve(static_cast<std::size_t>(r.kvs_size()));
  for (const auto& kv : r.kvs()) {
    key_value_view v;
    v.key = copy(kv.key());
    v.value = copy(kv.value());
    v.create_revision = kv.create_revision();
    v.mod_revision = kv.mod_revision();
    v.version = kv.version();
    v.lease = kv.lease();
    out.kvs.push_back(v);
  }
  return out;
}

put_response from_pb(const etcdserverpb::PutResponse& r) {
  put_response out{from_pb(r.header()), {}};
  if (r.has_prev_kv()) out.prev_kv = from_pb(r.prev_kv());
  return out;
}

delete_response from_pb(const etcdserverpb::DeleteRangeResponse& r) {
  delete_response out{from_pb(r.header()), r.deleted(), {}};
  for (const auto& kv : r.prev_kvs()) out.prev_kvs.push_back(from_pb(kv));
  return out;
}

txn_response from_pb(const etcdserverpb::TxnResponse& r) {
  txn_response out{from_pb(r.header()), r.succeeded(), {}};
  for (const auto& op : r.responses()) {
    response_op o;
    switch (op.response_case()) {
      case etcdserverpb::ResponseOp::kResponsePut:
        o.type = request_op::kind::put;
        o.put = from_pb(op.response_put());
        break;
      case etcdserverpb::ResponseOp::kResponseDeleteRange:
        o.type = request_op::kind::delete_range;
        o.delete_range = from_pb(op.response_delete_range());
        break;
      case etcdserverpb::ResponseOp::kResponseTxn:
        o.type = request_op::kind::txn;
        o.txn = std::make_shared<txn_response>(from_pb(op.response_txn()));
        break;
      default:
        o.type = request_op::kind::range;
        o.range = from_pb(op.response_range());
        break;
    }
    out.responses.push_back(std::move(o));
  }
  return out;
}

watch_event from_pb(const mvccpb::Event& e) {
  watch_event out;
  out.type = e.type() == mvccpb::Event::DELETE ? watch_event::kind::del : watch_event::kind::put;
  out.kv = from_pb(e.kv());
  if (e.has_prev_kv()) out.prev_kv = from_pb(e.prev_kv());
  return out;
}

}  // namespace leasekv::remote_detail
