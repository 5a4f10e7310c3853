// leasekvctl: etcdctl's interactions against a local leasekv data directory, with etcdctl 3.4's output.
//
//   leasekvctl [--data-dir DIR] [-w simple|json|fields] [--hex] COMMAND [ARGS] [FLAGS]
#include "printer.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace leasekvctl {
namespace {

struct command {
  const char* name;
  int (*run)(context&);
  flag_spec flags;
  const char* usage;
};

const std::vector<command>& commands() {
  static const std::vector<command> all = {
      {"put", cmd_put, put_flags, "put [options] <key> <value> (<value> can also be given from stdin)"},
      {"get", cmd_get, get_flags, "get [options] <key> [range_end]"},
      {"del", cmd_del, del_flags, "del [options] <key> [range_end]"},
      {"txn", cmd_txn, {{{"interactive", false}}, {{'i', "interactive"}}},
       "txn [-i] (compares, success ops, failure ops from stdin, each section ended by an empty line)"},
      {"compaction", cmd_compaction, {{{"physical", false}}, {}}, "compaction [options] <revision>"},
      {"lease", cmd_lease, {{{"keys", false}, {"once", false}}, {}},
       "lease grant <ttl> | revoke <leaseID> | timetolive <leaseID> [--keys] | list | keep-alive [--once] <leaseID>"},
      {"watch", cmd_watch, {{{"prefix", false}, {"rev", true}, {"prev-kv", false}, {"interactive", false}}, {{'i', "interactive"}}},
       "watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]"},
      {"lock", cmd_lock, {{{"ttl", true}}, {}}, "lock <lockname> [exec-command arg1 arg2 ...] [--ttl=10]"},
      {"elect", cmd_elect, {{{"listen", false}}, {{'l', "listen"}}}, "elect <election-name> [proposal] | elect -l <election-name>"},
      {"snapshot", cmd_snapshot, {}, "snapshot save <file> | status <file> | restore <file> (into --data-dir)"},
      {"version", cmd_version, {}, "version"},
      {"check", cmd_check, {}, "check (reports damaged files of the data directory)"},
      {"endpoint", cmd_endpoint, {}, "endpoint status"},
  };
  return all;
}

void usage(FILE* to) {
  std::fprintf(to, "Usage: leasekvctl [--data-dir DIR] [-w simple|json|fields] [--hex] COMMAND [ARGS]\n\nCommands:\n");
  for (const auto& c : commands()) std::fprintf(to, "  %s\n", c.usage);
  std::fprintf(to, "\nThe data directory is --data-dir, else $LEASEKV_DATA_DIR, else ./default.leasekv.\n");
}

// The command word: the first argument that is neither a flag nor a global flag's value. Unambiguous
// prefixes select a command, as in etcdctl ("compact" is "compaction").
const command* find_command(int argc, char** argv, int& at) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") return nullptr;
    if (a == "--data-dir" || a == "--write-out" || a == "-w") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    const command* found = nullptr;
    for (const auto& c : commands()) {
      if (a == c.name) return at = i, &c;
      if (std::string(c.name).rfind(a, 0) == 0) {
        if (found != nullptr) throw cli_error(exit_error, "unknown command \"" + a + "\" (ambiguous)");
        found = &c;
      }
    }
    if (found == nullptr) throw cli_error(exit_error, "unknown command \"" + a + "\" for \"leasekvctl\"");
    at = i;
    return found;
  }
  return nullptr;
}

int run(int argc, char** argv) {
  int at = 0;
  const command* cmd = find_command(argc, argv, at);
  if (cmd == nullptr) {
    usage(stdout);
    return exit_success;
  }
  context c;
  std::vector<char*> rest(argv, argv + argc);
  rest.erase(rest.begin() + at);  // the command word
  c.a = parse(static_cast<int>(rest.size()), rest.data(), 1, cmd->flags);
  if (c.a.has("help")) {
    std::printf("Usage:\n  leasekvctl %s\n", cmd->usage);
    return exit_success;
  }
  if (auto d = c.a.value("data-dir")) {
    c.data_dir = *d;
  } else if (const char* env = std::getenv("LEASEKV_DATA_DIR"); env != nullptr && *env != '\0') {
    c.data_dir = env;
  } else {
    c.data_dir = "default.leasekv";
  }
  c.hex = c.a.has("hex");
  if (auto w = c.a.value("write-out")) {
    if (*w == "simple") c.out = format::simple;
    else if (*w == "json") c.out = format::json;
    else if (*w == "fields") c.out = format::fields;
    else if (*w == "table") c.out = format::table;
    else if (*w == "protobuf") c.out = format::protobuf;
    else throw cli_error(exit_bad_feature, "unknown output format " + *w);
  }
  return cmd->run(c);
}

}  // namespace

}  // namespace leasekvctl

int main(int argc, char** argv) {
  try {
    return leasekvctl::run(argc, argv);
  } catch (const leasekvctl::cli_error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "Error: %s\n", e.what());
    return e.code;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "Error: %s\n", e.what());
    return leasekvctl::exit_error;
  }
}
