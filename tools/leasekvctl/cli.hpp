// leasekvctl: etcdctl's commands against a local data directory. Shared definitions.
#pragma once

#include <leasekv/leasekv.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <istream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace leasekvctl {

// etcdctl's exit codes.
enum exit_code : int {
  exit_success = 0,
  exit_error = 1,
  exit_bad_connection = 2,
  exit_invalid_input = 3,
  exit_bad_feature = 4,
  exit_interrupted = 5,
  exit_bad_args = 128,
};

// Thrown to end the command: main prints "Error: <message>" on stderr and exits with `code`.
struct cli_error : std::runtime_error {
  cli_error(int c, const std::string& message) : std::runtime_error(message), code(c) {}
  int code;
};

// The command line after parsing: positional arguments and flags, as pflag sees them.
struct args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // flags with a value (last one wins)
  std::set<std::string> bools;                // boolean flags that are set
  std::vector<std::string> after_dash;        // everything after a "--" that ends the positionals (exec)
  bool has(const std::string& f) const { return bools.count(f) != 0; }
  std::optional<std::string> value(const std::string& f) const {
    auto it = values.find(f);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

// Flags a command accepts: name -> takes a value. Short forms map to long names.
struct flag_spec {
  std::map<std::string, bool> longs;
  std::map<char, std::string> shorts;
};

// Parses argv[first..] against `spec` (the global flags are added to it). Unknown flags throw
// cli_error(exit_error, "unknown flag: --x").
args parse(int argc, char** argv, int first, const flag_spec& spec);

// Go's strconv.ParseInt(s, base, 64), with its error texts ("strconv.ParseInt: parsing \"zz\": invalid
// syntax", "... value out of range").
std::int64_t parse_int(const std::string& s, int base);

enum class format { simple, json, fields, table, protobuf };

struct context {
  std::string data_dir;
  format out = format::simple;
  bool hex = false;
  args a;
};

// Opens the store: as the writer (waiting for the lock), or for reading (the writer's lock if it is
// free, so that expired leases are revoked first; otherwise read-only beside the writer).
enum class access { write, read };
std::unique_ptr<leasekv::store> open_store(const context& c, access how);

// "Error: ..." text for a store error, as etcdctl prints it (mvcc errors get etcdserver's prefix).
std::string error_text(const boost::system::error_code& ec);

// The lease id argument in hex; errors name it as etcdctl does.
leasekv::lease_id parse_lease_arg(const std::string& s, const char* what);

// Shared by get/del/put and txn's operation lines.
leasekv::key_range key_range_of(const args& a, const char* usage);
leasekv::range_options range_options_of(const args& a);
leasekv::put_options put_options_of(const args& a);
extern const flag_spec put_flags;
extern const flag_spec get_flags;
extern const flag_spec del_flags;

// txn's input: compares, success ops, failure ops, each section ended by an empty line. Throws
// cli_error (exit_invalid_input) on malformed or incomplete input.
leasekv::txn_request read_txn_request(std::istream& in, bool interactive);

// Command groups.
int cmd_put(context& c);
int cmd_get(context& c);
int cmd_del(context& c);
int cmd_compaction(context& c);
int cmd_txn(context& c);
int cmd_lease(context& c);
int cmd_watch(context& c);
int cmd_version(context& c);
int cmd_check(context& c);
int cmd_endpoint(context& c);
int cmd_snapshot(context& c);
int cmd_lock(context& c);
int cmd_elect(context& c);

// Set by SIGINT/SIGTERM; long-running commands (watch, keep-alive) end when it is.
bool interrupted();
void install_signal_handlers();

}  // namespace leasekvctl
