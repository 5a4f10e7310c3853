// -w json: Go's encoding/json of etcd's messages, with its field order and omitempty rules.
#include "printer.hpp"

#include <fmt/format.h>

namespace leasekvctl {
namespace {

// Appends ,"name":value for a non-zero number (omitempty).
void num(std::string& out, const char* name, std::int64_t v) {
  if (v == 0) return;
  if (out.back() != '{') out += ',';
  out += fmt::format("\"{}\":{}", name, v);
}

void unum(std::string& out, const char* name, std::uint64_t v) {
  if (v == 0) return;
  if (out.back() != '{') out += ',';
  out += fmt::format("\"{}\":{}", name, v);
}

// The header's fields, without braces (for the flattened lease responses) or as an object.
std::string header_fields(const leasekv::response_header& h) {
  std::string out = "{";
  unum(out, "cluster_id", h.cluster_id);
  unum(out, "member_id", h.member_id);
  num(out, "revision", h.revision);
  unum(out, "raft_term", h.raft_term);
  return out.substr(1);
}

std::string header(const leasekv::response_header& h) { return "{" + header_fields(h) + "}"; }

std::string kv(const leasekv::key_value& x) {
  std::string out = "{";
  if (!x.key.empty()) out += "\"key\":\"" + base64(x.key) + "\"";
  num(out, "create_revision", x.create_revision);
  num(out, "mod_revision", x.mod_revision);
  num(out, "version", x.version);
  if (!x.value.empty()) out += (out.back() == '{' ? "" : ",") + std::string("\"value\":\"") + base64(x.value) + "\"";
  num(out, "lease", x.lease);
  return out + "}";
}

std::string flat(const leasekv::response_header& h) {
  const std::string f = header_fields(h);
  return "{" + f + (f.empty() ? "" : ",");
}

class json_printer final : public printer {
 public:
  void put(const leasekv::put_response& r) override {
    std::string out = "{\"header\":" + header(r.header);
    if (r.prev_kv) out += ",\"prev_kv\":" + kv(*r.prev_kv);
    out_line(out + "}");
  }
  void get(const leasekv::range_response& r) override {
    std::string out = "{\"header\":" + header(r.header);
    if (!r.kvs.empty()) {
      out += ",\"kvs\":[";
      for (std::size_t i = 0; i < r.kvs.size(); ++i) out += (i ? "," : "") + kv(r.kvs[i]);
      out += "]";
    }
    if (r.more) out += ",\"more\":true";
    if (r.count != 0) out += fmt::format(",\"count\":{}", r.count);
    out_line(out + "}");
  }
  void del(const leasekv::delete_response& r) override {
    std::string out = "{\"header\":" + header(r.header);
    if (r.deleted != 0) out += fmt::format(",\"deleted\":{}", r.deleted);
    if (!r.prev_kvs.empty()) {
      out += ",\"prev_kvs\":[";
      for (std::size_t i = 0; i < r.prev_kvs.size(); ++i) out += (i ? "," : "") + kv(r.prev_kvs[i]);
      out += "]";
    }
    out_line(out + "}");
  }
  void txn(const leasekv::txn_response& r) override { out_line(txn_json(r)); }
  void grant(const leasekv::lease_grant_response& r) override {
    out_line(flat(r.header) + fmt::format("\"ID\":{},\"TTL\":{},\"Error\":\"\"}}", r.id, r.ttl));
  }
  void revoke(leasekv::lease_id, const leasekv::lease_revoke_response& r) override {
    out_line("{\"header\":" + header(r.header) + "}");
  }
  void time_to_live(const leasekv::lease_time_to_live_response& r, bool) override {
    std::string keys = "null";
    if (!r.keys.empty()) {
      keys = "[";
      for (std::size_t i = 0; i < r.keys.size(); ++i) keys += (i ? ",\"" : "\"") + base64(r.keys[i]) + "\"";
      keys += "]";
    }
    out_line(flat(r.header) + fmt::format("\"id\":{},\"ttl\":{},\"granted-ttl\":{},\"keys\":{}}}", r.id, r.ttl, r.granted_ttl, keys));
  }
  void leases(const leasekv::lease_leases_response& r) override {
    std::string list = "[";
    for (std::size_t i = 0; i < r.leases.size(); ++i) list += fmt::format("{}{{\"id\":{}}}", i ? "," : "", r.leases[i].id);
    out_line(flat(r.header) + "\"leases\":" + list + "]}");
  }
  void keep_alive(const leasekv::lease_keep_alive_response& r) override {
    out_line(flat(r.header) + fmt::format("\"ID\":{},\"TTL\":{}}}", r.id, r.ttl));
  }
  void watch(const leasekv::watch_response& r) override {
    std::string out = "{\"Header\":" + header(r.header) + ",\"Events\":[";
    for (std::size_t i = 0; i < r.events.size(); ++i) {
      const auto& e = r.events[i];
      out += i ? ",{" : "{";
      if (e.type == leasekv::watch_event::kind::del) out += "\"type\":1,";
      out += "\"kv\":" + kv(e.kv);
      if (e.prev_kv) out += ",\"prev_kv\":" + kv(*e.prev_kv);
      out += "}";
    }
    out += fmt::format("],\"CompactRevision\":{},\"Canceled\":{},\"Created\":false}}", r.compact_revision,
                       r.canceled ? "true" : "false");
    out_line(out);
  }
  // Not omitempty: etcdctl prints these whole.
  void endpoint_status(const endpoint_info& e) override {
    const auto& h = e.header;
    out_line(fmt::format("[{{\"Endpoint\":\"{}\",\"Status\":{{\"header\":{{\"cluster_id\":{},\"member_id\":{},\"revision\":{},"
                         "\"raft_term\":{}}},\"version\":\"3.4.23\",\"dbSize\":{},\"leader\":{},\"raftIndex\":{},"
                         "\"raftTerm\":{},\"raftAppliedIndex\":{},\"dbSizeInUse\":{}}}}}]",
                         e.endpoint, h.cluster_id, h.member_id, h.revision, h.raft_term, e.db_size, h.member_id, h.revision,
                         h.raft_term, h.revision, e.db_size));
  }
  void snapshot_status(const leasekv::snapshot_status& s) override {
    out_line(fmt::format("{{\"hash\":{},\"revision\":{},\"totalKey\":{},\"totalSize\":{}}}", s.hash, s.revision,
                         s.total_keys, s.total_size));
  }

 private:
  std::string txn_json(const leasekv::txn_response& r) {
    std::string out = "{\"header\":" + header(r.header);
    if (r.succeeded) out += ",\"succeeded\":true";
    if (!r.responses.empty()) {
      out += ",\"responses\":[";
      for (std::size_t i = 0; i < r.responses.size(); ++i) {
        const auto& op = r.responses[i];
        out += i ? "," : "";
        switch (op.type) {
          case leasekv::request_op::kind::put: {
            std::string p = "{\"header\":" + header(op.put.header);
            if (op.put.prev_kv) p += ",\"prev_kv\":" + kv(*op.put.prev_kv);
            out += "{\"Response\":{\"ResponsePut\":" + p + "}}}";
            break;
          }
          case leasekv::request_op::kind::range: {
            std::string g = "{\"header\":" + header(op.range.header);
            if (!op.range.kvs.empty()) {
              g += ",\"kvs\":[";
              for (std::size_t k = 0; k < op.range.kvs.size(); ++k) g += (k ? "," : "") + kv(op.range.kvs[k]);
              g += "]";
            }
            if (op.range.more) g += ",\"more\":true";
            if (op.range.count != 0) g += fmt::format(",\"count\":{}", op.range.count);
            out += "{\"Response\":{\"ResponseRange\":" + g + "}}}";
            break;
          }
          case leasekv::request_op::kind::delete_range: {
            std::string d = "{\"header\":" + header(op.delete_range.header);
            if (op.delete_range.deleted != 0) d += fmt::format(",\"deleted\":{}", op.delete_range.deleted);
            out += "{\"Response\":{\"ResponseDeleteRange\":" + d + "}}}";
            break;
          }
          case leasekv::request_op::kind::txn:
            out += "{\"Response\":{\"ResponseTxn\":" + (op.txn ? txn_json(*op.txn) : std::string("{}")) + "}}";
            break;
        }
      }
      out += "]";
    }
    return out + "}";
  }
};

}  // namespace

std::unique_ptr<printer> make_json_printer() { return std::make_unique<json_printer>(); }

}  // namespace leasekvctl
