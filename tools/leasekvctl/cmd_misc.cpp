// version, check, endpoint status.
#include "printer.hpp"

#include <leasekv/data_dir_tools.hpp>

#include <fmt/format.h>

#include <filesystem>

namespace leasekvctl {

int cmd_version(context&) {
  out_line("etcdctl version: 3.4.23");
  out_line("API version: 3.4");
  return exit_success;
}

// Reports what is damaged in the data directory, without changing it.
int cmd_check(context& c) {
  auto problems = leasekv::check_data_dir(*leasekv::env::posix(), c.data_dir);
  if (!problems) throw cli_error(exit_error, c.data_dir + ": " + problems.error().message());
  if (problems.value().empty()) {
    out_line(c.data_dir + ": ok");
    return exit_success;
  }
  for (const auto& p : problems.value()) out_line(p);
  return exit_error;
}

int cmd_endpoint(context& c) {
  if (c.a.positional.empty() || c.a.positional[0] != "status") throw cli_error(exit_bad_args, "endpoint command supports: status");
  auto s = open_store(c, access::read);
  const auto r = s->get(std::string_view("\0", 1)).value();  // any read's header: the store's identity and revision
  const auto& h = r.header;
  std::uint64_t db_size = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(c.data_dir, ec)) db_size += e.is_regular_file() ? e.file_size() : 0;
  switch (c.out) {
    case format::json:
      out_line(fmt::format("[{{\"Endpoint\":\"{}\",\"Status\":{{\"header\":{{\"cluster_id\":{},\"member_id\":{},\"revision\":{},"
                           "\"raft_term\":{}}},\"version\":\"3.4.23\",\"dbSize\":{},\"leader\":{},\"raftIndex\":{},"
                           "\"raftTerm\":{},\"raftAppliedIndex\":{},\"dbSizeInUse\":{}}}}}]",
                           c.data_dir, h.cluster_id, h.member_id, h.revision, h.raft_term, db_size, h.member_id, h.revision,
                           h.raft_term, h.revision, db_size));
      break;
    case format::fields:
      out_line(fmt::format("\"ClusterID\" : {}", h.cluster_id));
      out_line(fmt::format("\"MemberID\" : {}", h.member_id));
      out_line(fmt::format("\"Revision\" : {}", h.revision));
      out_line(fmt::format("\"RaftTerm\" : {}", h.raft_term));
      out_line("\"Version\" : \"3.4.23\"");
      out_line(fmt::format("\"DBSize\" : {}", db_size));
      out_line(fmt::format("\"Leader\" : {}", h.member_id));
      out_line("\"IsLearner\" : false");
      out_line(fmt::format("\"RaftIndex\" : {}", h.revision));
      out_line(fmt::format("\"RaftTerm\" : {}", h.raft_term));
      out_line(fmt::format("\"RaftAppliedIndex\" : {}", h.revision));
      out_line("\"Errors\" : []");
      out_line(fmt::format("\"Endpoint\" : {}", go_quote(c.data_dir)));
      out_line("");
      break;
    case format::table:
      print_table({"ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX",
                   "RAFT APPLIED INDEX", "ERRORS"},
                  {{c.data_dir, fmt::format("{:x}", h.member_id), "3.4.23", humanize_bytes(db_size), "true", "false",
                    std::to_string(h.raft_term), std::to_string(h.revision), std::to_string(h.revision), ""}});
      break;
    default:
      out_line(fmt::format("{}, {:x}, 3.4.23, {}, true, false, {}, {}, {}, ", c.data_dir, h.member_id,
                           humanize_bytes(db_size), h.raft_term, h.revision, h.revision));
  }
  return exit_success;
}

}  // namespace leasekvctl
