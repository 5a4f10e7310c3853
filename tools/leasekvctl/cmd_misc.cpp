// version, check, endpoint status.
#include "printer.hpp"

#include <leasekv/data_dir_tools.hpp>

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
  endpoint_info info{c.data_dir, r.header, 0};
  // dbSize: the bytes of the directory's files, from the file system (leasekv's env has no stat).
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(c.data_dir, ec)) info.db_size += e.is_regular_file() ? e.file_size() : 0;
  make_printer(c, {})->endpoint_status(info);
  return exit_success;
}

}  // namespace leasekvctl
