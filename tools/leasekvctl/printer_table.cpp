// -w table: etcdctl's tablewriter tables, which etcdctl prints only for the statuses; every other
// response is refused as etcdctl refuses it.
#include "printer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

namespace leasekvctl {
namespace {

// A tablewriter table as etcdctl configures it: headers centred, cells right-aligned.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& h : header) width.push_back(h.size());
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string rule = "+";
  for (auto w : width) rule += std::string(w + 2, '-') + "+";
  std::string head = "|";
  for (std::size_t i = 0; i < header.size(); ++i) {
    const std::size_t pad = width[i] - header[i].size();
    head += " " + std::string(pad / 2, ' ') + header[i] + std::string(pad - pad / 2, ' ') + " |";
  }
  out_line(rule);
  out_line(head);
  out_line(rule);
  for (const auto& r : rows) {
    std::string line = "|";
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < r.size() ? r[i] : "";
      line += " " + std::string(width[i] - cell.size(), ' ') + cell + " |";
    }
    out_line(line);
  }
  out_line(rule);
}

class table_printer final : public printer {
 public:
  void put(const leasekv::put_response&) override { unsupported(); }
  void get(const leasekv::range_response&) override { unsupported(); }
  void del(const leasekv::delete_response&) override { unsupported(); }
  void txn(const leasekv::txn_response&) override { unsupported(); }
  void grant(const leasekv::lease_grant_response&) override { unsupported(); }
  void revoke(leasekv::lease_id, const leasekv::lease_revoke_response&) override { unsupported(); }
  void time_to_live(const leasekv::lease_time_to_live_response&, bool) override { unsupported(); }
  void leases(const leasekv::lease_leases_response&) override { unsupported(); }
  void keep_alive(const leasekv::lease_keep_alive_response&) override { unsupported(); }
  void watch(const leasekv::watch_response&) override { unsupported(); }

  void endpoint_status(const endpoint_info& e) override {
    const auto& h = e.header;
    print_table({"ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX",
                 "RAFT APPLIED INDEX", "ERRORS"},
                {{e.endpoint, fmt::format("{:x}", h.member_id), "3.4.23", humanize_bytes(e.db_size), "true", "false",
                  std::to_string(h.raft_term), std::to_string(h.revision), std::to_string(h.revision), ""}});
  }
  void snapshot_status(const leasekv::snapshot_status& s) override {
    print_table({"HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"},
                {{fmt::format("{:x}", s.hash), std::to_string(s.revision), std::to_string(s.total_keys),
                  humanize_bytes(s.total_size)}});
  }

 private:
  [[noreturn]] static void unsupported() { throw cli_error(exit_bad_feature, "table not supported as output format"); }
};

}  // namespace

std::unique_ptr<printer> make_table_printer() { return std::make_unique<table_printer>(); }

}  // namespace leasekvctl
