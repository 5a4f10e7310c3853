#include "support/describe.hpp"

#include <fmt/format.h>

namespace leasekv::testing {
namespace {

std::string escaped(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string header(const response_header& h) { return fmt::format("rev={}", h.revision); }

}  // namespace

std::string describe(const key_value& kv) {
  return fmt::format("{{{} c={} m={} v={} val={} lease={}}}", escaped(kv.key), kv.create_revision, kv.mod_revision,
                     kv.version, escaped(kv.value), kv.lease);
}

std::string describe(const range_response& r) {
  std::string out = fmt::format("range[{} count={} more={} kvs=", header(r.header), r.count, r.more);
  for (const auto& kv : r.kvs) out += describe(kv);
  return out + "]";
}

std::string describe(const range_view_response& r) {
  range_response owned{r.header, {}, r.more, r.count};
  for (const auto& kv : r.kvs) owned.kvs.push_back(kv.to_key_value());
  return describe(owned);
}

std::string describe(const put_response& r) {
  return fmt::format("put[{} prev={}]", header(r.header), r.prev_kv ? describe(*r.prev_kv) : "none");
}

std::string describe(const delete_response& r) {
  std::string out = fmt::format("del[{} deleted={} prev=", header(r.header), r.deleted);
  for (const auto& kv : r.prev_kvs) out += describe(kv);
  return out + "]";
}

std::string describe(const txn_response& r) {
  std::string out = fmt::format("txn[{} succeeded={}", header(r.header), r.succeeded);
  for (const auto& op : r.responses) {
    out += " ";
    switch (op.type) {
      case request_op::kind::range: out += describe(op.range); break;
      case request_op::kind::put: out += describe(op.put); break;
      case request_op::kind::delete_range: out += describe(op.delete_range); break;
      case request_op::kind::txn: out += op.txn ? describe(*op.txn) : "null-txn"; break;
    }
  }
  return out + "]";
}

std::string describe(const compact_response& r) { return fmt::format("compact[{}]", header(r.header)); }

std::string describe(const lease_grant_response& r) {
  return fmt::format("grant[{} id={} ttl={} granted={}ms]", header(r.header), r.id, r.ttl, r.granted.count());
}

std::string describe(const lease_revoke_response& r) { return fmt::format("revoke[{}]", header(r.header)); }

std::string describe(const lease_keep_alive_response& r) {
  return fmt::format("keepalive[{} id={} ttl={} granted={}ms]", header(r.header), r.id, r.ttl, r.granted.count());
}

std::string describe(const lease_time_to_live_response& r) {
  std::string keys;
  for (const auto& k : r.keys) keys += escaped(k) + ",";
  return fmt::format("ttl[{} id={} ttl={} granted_ttl={} remaining={}ms granted={}ms keys={}]", header(r.header), r.id,
                     r.ttl, r.granted_ttl, r.remaining.count(), r.granted.count(), keys);
}

std::string describe(const lease_leases_response& r) {
  std::string ids;
  for (const auto& l : r.leases) ids += std::to_string(l.id) + ",";
  return fmt::format("leases[{} {}]", header(r.header), ids);
}

}  // namespace leasekv::testing
