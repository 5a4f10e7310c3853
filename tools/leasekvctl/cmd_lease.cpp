// lease grant | revoke | timetolive | list | keep-alive.
#include "printer.hpp"

#include <chrono>
#include <thread>

namespace leasekvctl {
namespace {

using namespace std::chrono_literals;

int grant(context& c) {
  if (c.a.positional.size() != 2) throw cli_error(exit_bad_args, "lease grant command needs TTL argument");
  std::int64_t ttl = 0;
  try {
    ttl = parse_int(c.a.positional[1], 10);
  } catch (const std::exception& e) {
    throw cli_error(exit_bad_args, std::string("bad TTL (") + e.what() + ")");
  }
  if (ttl > leasekv::max_lease_ttl.count()) throw cli_error(exit_error, "failed to grant lease (etcdserver: too large lease TTL)");
  auto s = open_store(c, access::write);
  auto r = s->grant(std::chrono::seconds(std::max<std::int64_t>(ttl, 0)));  // short TTLs are raised to 2 s
  if (!r) throw cli_error(exit_error, "failed to grant lease (" + error_text(r.error()) + ")");
  refuse_unsupported_format(c);
  make_printer(c, {})->grant(r.value());
  return exit_success;
}

int revoke(context& c) {
  if (c.a.positional.size() != 2) throw cli_error(exit_bad_args, "lease revoke command needs 1 argument");
  const auto id = parse_lease_arg(c.a.positional[1], "bad lease ID arg");
  auto s = open_store(c, access::write);
  auto r = s->revoke(id);
  if (!r) throw cli_error(exit_error, "failed to revoke lease (" + error_text(r.error()) + ")");
  refuse_unsupported_format(c);
  make_printer(c, {})->revoke(id, r.value());
  return exit_success;
}

int time_to_live(context& c) {
  if (c.a.positional.size() != 2) throw cli_error(exit_bad_args, "lease timetolive command needs lease ID as argument");
  const auto id = parse_lease_arg(c.a.positional[1], "bad lease ID arg");
  const bool keys = c.a.has("keys");
  auto s = open_store(c, access::read);
  auto r = s->time_to_live(id, {.keys = keys});
  if (!r) throw cli_error(exit_bad_connection, error_text(r.error()));
  refuse_unsupported_format(c);
  make_printer(c, {})->time_to_live(r.value(), keys);
  return exit_success;
}

int list(context& c) {
  auto s = open_store(c, access::read);
  auto r = s->leases();
  if (!r) throw cli_error(exit_bad_connection, error_text(r.error()));
  refuse_unsupported_format(c);
  make_printer(c, {})->leases(r.value());
  return exit_success;
}

// Renews the lease every TTL/3 until interrupted or the lease is gone. The store is opened for each
// renewal only, so other commands can write in between.
int keep_alive(context& c) {
  if (c.a.positional.size() != 2) throw cli_error(exit_bad_args, "lease keep-alive command needs lease ID as argument");
  const auto id = parse_lease_arg(c.a.positional[1], "bad lease ID arg");
  auto p = make_printer(c, {});
  if (c.a.has("once")) {
    auto s = open_store(c, access::write);
    auto r = s->keep_alive_once(id);
    if (!r) throw cli_error(exit_bad_connection, error_text(r.error()));
    refuse_unsupported_format(c);
    p->keep_alive(r.value());
    return exit_success;
  }
  refuse_unsupported_format(c);
  install_signal_handlers();
  while (!interrupted()) {
    std::chrono::milliseconds interval{};
    {
      auto s = open_store(c, access::write);
      auto r = s->keep_alive_once(id);
      if (!r) {
        if (r.error() != leasekv::errc::lease_not_found) throw cli_error(exit_bad_connection, error_text(r.error()));
        if (c.out == format::simple) out_line("lease " + lease_hex(id) + " expired or revoked.");
        return exit_success;
      }
      p->keep_alive(r.value());
      interval = std::max(std::chrono::milliseconds(100), r.value().granted / 3);
    }
    const auto until = std::chrono::steady_clock::now() + interval;
    while (!interrupted() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  }
  return exit_success;
}

}  // namespace

int cmd_lease(context& c) {
  if (c.a.positional.empty()) throw cli_error(exit_bad_args, "lease command needs a subcommand: grant, revoke, timetolive, list, keep-alive");
  const std::string& sub = c.a.positional[0];
  if (sub == "grant") return grant(c);
  if (sub == "revoke") return revoke(c);
  if (sub == "timetolive") return time_to_live(c);
  if (sub == "list") return list(c);
  if (sub == "keep-alive") return keep_alive(c);
  throw cli_error(exit_bad_args, "unknown lease subcommand \"" + sub + "\"");
}

}  // namespace leasekvctl
