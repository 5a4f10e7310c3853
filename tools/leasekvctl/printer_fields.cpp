// -w fields: "Name" : value lines, strings Go-quoted.
#include "printer.hpp"

#include <fmt/format.h>

namespace leasekvctl {
namespace {

void hdr(const leasekv::response_header& h) {
  out_line(fmt::format("\"ClusterID\" : {}", h.cluster_id));
  out_line(fmt::format("\"MemberID\" : {}", h.member_id));
  out_line(fmt::format("\"Revision\" : {}", h.revision));
  out_line(fmt::format("\"RaftTerm\" : {}", h.raft_term));
}

void kv(const char* prefix, const leasekv::key_value& x) {
  out_line(fmt::format("\"{}Key\" : {}", prefix, go_quote(x.key)));
  out_line(fmt::format("\"{}CreateRevision\" : {}", prefix, x.create_revision));
  out_line(fmt::format("\"{}ModRevision\" : {}", prefix, x.mod_revision));
  out_line(fmt::format("\"{}Version\" : {}", prefix, x.version));
  out_line(fmt::format("\"{}Value\" : {}", prefix, go_quote(x.value)));
  out_line(fmt::format("\"{}Lease\" : {}", prefix, x.lease));
}

class fields_printer final : public printer {
 public:
  void put(const leasekv::put_response& r) override {
    hdr(r.header);
    if (r.prev_kv) kv("Prev", *r.prev_kv);
  }
  void get(const leasekv::range_response& r) override {
    hdr(r.header);
    for (const auto& x : r.kvs) kv("", x);
    out_line(fmt::format("\"More\" : {}", r.more));
    out_line(fmt::format("\"Count\" : {}", r.count));
  }
  void del(const leasekv::delete_response& r) override {
    hdr(r.header);
    out_line(fmt::format("\"Deleted\" : {}", r.deleted));
    for (const auto& x : r.prev_kvs) kv("Prev", x);
  }
  void txn(const leasekv::txn_response& r) override {
    hdr(r.header);
    out_line(fmt::format("\"Succeeded\" : {}", r.succeeded));
    for (const auto& op : r.responses) op_response(op);
  }
  void grant(const leasekv::lease_grant_response& r) override {
    hdr(r.header);
    out_line(fmt::format("\"ID\" : {}", r.id));
    out_line(fmt::format("\"TTL\" : {}", r.ttl));
  }
  void revoke(leasekv::lease_id, const leasekv::lease_revoke_response& r) override { hdr(r.header); }
  void time_to_live(const leasekv::lease_time_to_live_response& r, bool) override {
    hdr(r.header);
    out_line(fmt::format("\"ID\" : {}", r.id));
    out_line(fmt::format("\"TTL\" : {}", r.ttl));
    out_line(fmt::format("\"GrantedTTL\" : {}", r.granted_ttl));
    for (const auto& k : r.keys) out_line(fmt::format("\"Key\" : {}", go_quote(k)));
  }
  void leases(const leasekv::lease_leases_response& r) override {
    hdr(r.header);
    for (const auto& l : r.leases) out_line(fmt::format("\"ID\" : {}", l.id));
  }
  void keep_alive(const leasekv::lease_keep_alive_response& r) override {
    hdr(r.header);
    out_line(fmt::format("\"ID\" : {}", r.id));
    out_line(fmt::format("\"TTL\" : {}", r.ttl));
  }
  void watch(const leasekv::watch_response& r) override {
    hdr(r.header);
    for (const auto& e : r.events) {
      out_line(fmt::format("\"Type\" : {}", e.type == leasekv::watch_event::kind::put ? "PUT" : "DELETE"));
      if (e.prev_kv) kv("Prev", *e.prev_kv);
      kv("", e.kv);
    }
  }
  void endpoint_status(const endpoint_info& e) override {
    hdr(e.header);
    out_line("\"Version\" : \"3.4.23\"");
    out_line(fmt::format("\"DBSize\" : {}", e.db_size));
    out_line(fmt::format("\"Leader\" : {}", e.header.member_id));
    out_line("\"IsLearner\" : false");
    out_line(fmt::format("\"RaftIndex\" : {}", e.header.revision));
    out_line(fmt::format("\"RaftTerm\" : {}", e.header.raft_term));
    out_line(fmt::format("\"RaftAppliedIndex\" : {}", e.header.revision));
    out_line("\"Errors\" : []");
    out_line(fmt::format("\"Endpoint\" : {}", go_quote(e.endpoint)));
    out_line("");
  }
  void snapshot_status(const leasekv::snapshot_status& s) override {
    out_line(fmt::format("\"Hash\" : {}", s.hash));
    out_line(fmt::format("\"Revision\" : {}", s.revision));
    out_line(fmt::format("\"Keys\" : {}", s.total_keys));
    out_line(fmt::format("\"Size\" : {}", s.total_size));
  }
};

}  // namespace

std::unique_ptr<printer> make_fields_printer() { return std::make_unique<fields_printer>(); }

}  // namespace leasekvctl
