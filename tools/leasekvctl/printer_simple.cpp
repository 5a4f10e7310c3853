// -w simple (the default).
#include "printer.hpp"

#include <fmt/format.h>

namespace leasekvctl {
namespace {

class simple_printer final : public printer {
 public:
  explicit simple_printer(const print_options& o) : o_(o) {}

  std::string text(std::string_view s) const { return o_.hex ? hex_escape(s) : std::string(s); }

  void kv(const leasekv::key_value& kv) const {
    if (!o_.print_value_only) out_line(text(kv.key));
    if (!o_.keys_only) out_line(text(kv.value));
    if (o_.keys_only && !o_.print_value_only) out_line("");
  }

  void put(const leasekv::put_response& r) override {
    out_line("OK");
    if (r.prev_kv) kv(*r.prev_kv);
  }
  void get(const leasekv::range_response& r) override {
    for (const auto& x : r.kvs) kv(x);
  }
  void del(const leasekv::delete_response& r) override {
    out_line(std::to_string(r.deleted));
    for (const auto& x : r.prev_kvs) kv(x);
  }
  void txn(const leasekv::txn_response& r) override {
    out_line(r.succeeded ? "SUCCESS" : "FAILURE");
    for (const auto& op : r.responses) {
      out_line("");
      op_response(op);
    }
  }
  void grant(const leasekv::lease_grant_response& r) override {
    out_line(fmt::format("lease {} granted with TTL({}s)", lease_hex(r.id), r.ttl));
  }
  void revoke(leasekv::lease_id id, const leasekv::lease_revoke_response&) override {
    out_line(fmt::format("lease {} revoked", lease_hex(id)));
  }
  void time_to_live(const leasekv::lease_time_to_live_response& r, bool keys) override {
    if (r.granted_ttl == 0 && r.ttl == -1) {
      out_line(fmt::format("lease {} already expired", lease_hex(r.id)));
      return;
    }
    std::string line = fmt::format("lease {} granted with TTL({}s), remaining({}s)", lease_hex(r.id), r.granted_ttl, r.ttl);
    if (keys) {
      std::string list;
      for (const auto& k : r.keys) list += (list.empty() ? "" : " ") + k;
      line += ", attached keys([" + list + "])";
    }
    out_line(line);
  }
  void leases(const leasekv::lease_leases_response& r) override {
    out_line(fmt::format("found {} leases", r.leases.size()));
    for (const auto& l : r.leases) out_line(lease_hex(l.id));
  }
  void keep_alive(const leasekv::lease_keep_alive_response& r) override {
    out_line(fmt::format("lease {} keepalived with TTL({})", lease_hex(r.id), r.ttl));
  }
  void watch(const leasekv::watch_response& r) override {
    for (const auto& e : r.events) {
      out_line(e.type == leasekv::watch_event::kind::put ? "PUT" : "DELETE");
      if (o_.prev_kv && e.prev_kv) {
        out_line(text(e.prev_kv->key));
        out_line(text(e.prev_kv->value));
      }
      out_line(text(e.kv.key));
      out_line(text(e.kv.value));
    }
  }
  void endpoint_status(const endpoint_info& e) override {
    const auto& h = e.header;
    out_line(fmt::format("{}, {:x}, 3.4.23, {}, true, false, {}, {}, {}, ", e.endpoint, h.member_id,
                         humanize_bytes(e.db_size), h.raft_term, h.revision, h.revision));
  }
  void snapshot_status(const leasekv::snapshot_status& s) override {
    out_line(fmt::format("{:x}, {}, {}, {}", s.hash, s.revision, s.total_keys, humanize_bytes(s.total_size)));
  }

 private:
  print_options o_;
};

}  // namespace

std::unique_ptr<printer> make_simple_printer(const print_options& o) { return std::make_unique<simple_printer>(o); }

}  // namespace leasekvctl
