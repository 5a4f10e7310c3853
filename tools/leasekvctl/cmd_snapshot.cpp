// snapshot save <file> | status <file> | restore <file> (into --data-dir).
#include "printer.hpp"

#include <leasekv/data_dir_tools.hpp>

namespace leasekvctl {
namespace {

std::string detail_of(const leasekv::error& e) {
  const std::string& d = e.detail();
  return error_text(e.code()) + (d.empty() ? "" : " (" + d + ")");
}

}  // namespace

int cmd_snapshot(context& c) {
  const auto& pos = c.a.positional;
  if (pos.empty()) throw cli_error(exit_bad_args, "snapshot command needs a subcommand: save, status, restore");
  const std::string& sub = pos[0];
  if (pos.size() != 2) throw cli_error(exit_bad_args, "snapshot " + sub + " expects one argument");
  const std::string& file = pos[1];
  auto& e = *leasekv::env::posix();
  if (sub == "save") {
    auto s = open_store(c, access::read);
    if (auto r = s->save_snapshot(file); !r) throw cli_error(exit_error, detail_of(r.error()));
    out_line("Snapshot saved at " + file);
    return exit_success;
  }
  if (sub == "status") {
    auto status = leasekv::inspect_snapshot(e, file);
    if (!status) throw cli_error(exit_error, detail_of(status.error()));
    make_printer(c, {})->snapshot_status(status.value());
    return exit_success;
  }
  if (sub == "restore") {
    if (auto r = leasekv::restore_snapshot(e, file, c.data_dir); !r) {
      if (r.error() == boost::system::errc::file_exists) throw cli_error(exit_error, "data-dir \"" + c.data_dir + "\" exists");
      throw cli_error(exit_error, detail_of(r.error()));
    }
    return exit_success;
  }
  throw cli_error(exit_bad_args, "unknown snapshot subcommand \"" + sub + "\"");
}

}  // namespace leasekvctl
