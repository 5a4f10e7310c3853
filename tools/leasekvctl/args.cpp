#include "cli.hpp"

#include <cerrno>
#include <climits>

namespace leasekvctl {

args parse(int argc, char** argv, int first, const flag_spec& spec_in) {
  flag_spec spec = spec_in;
  spec.longs.emplace("data-dir", true);
  spec.longs.emplace("write-out", true);
  spec.longs.emplace("hex", false);
  spec.longs.emplace("help", false);
  spec.shorts.emplace('w', "write-out");
  spec.shorts.emplace('h', "help");
  args out;
  bool positional_only = false;
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (positional_only) {
      out.after_dash.push_back(a);
      continue;
    }
    if (a == "--") {
      positional_only = true;
      continue;
    }
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      auto it = spec.longs.find(name);
      if (it == spec.longs.end()) throw cli_error(exit_error, "unknown flag: --" + name);
      if (it->second) {
        if (!inline_value) {
          if (i + 1 >= argc) throw cli_error(exit_error, "flag needs an argument: --" + name);
          inline_value = argv[++i];
        }
        out.values[name] = *inline_value;
      } else if (!inline_value || *inline_value == "true") {
        out.bools.insert(name);
      } else if (*inline_value == "false") {
        out.bools.erase(name);
      } else {
        throw cli_error(exit_error, "invalid argument \"" + *inline_value + "\" for \"--" + name + "\" flag: strconv.ParseBool: parsing \"" + *inline_value + "\": invalid syntax");
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      const char c = a[1];
      auto it = spec.shorts.find(c);
      if (it == spec.shorts.end()) throw cli_error(exit_error, std::string("unknown shorthand flag: '") + c + "' in " + a);
      const std::string& name = it->second;
      if (spec.longs[name]) {
        std::string v = a.substr(2);
        if (!v.empty() && v[0] == '=') v = v.substr(1);
        if (v.empty()) {
          if (i + 1 >= argc) throw cli_error(exit_error, std::string("flag needs an argument: '") + c + "' in -" + c);
          v = argv[++i];
        }
        out.values[name] = v;
      } else {
        out.bools.insert(name);
      }
      continue;
    }
    out.positional.push_back(a);
  }
  // etcdctl keeps what follows "--" as positional arguments too (put's "-dash" values, watch's command).
  return out;
}

std::int64_t parse_int(const std::string& s, int base) {
  const std::string prefix = "strconv.ParseInt: parsing \"" + s + "\": ";
  std::size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i == s.size()) throw std::invalid_argument(prefix + "invalid syntax");
  unsigned long long v = 0;
  const unsigned long long limit = negative ? 9223372036854775808ull : 9223372036854775807ull;
  bool overflow = false;
  for (; i < s.size(); ++i) {
    int d = -1;
    const char ch = s[i];
    if (ch >= '0' && ch <= '9') d = ch - '0';
    if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
    if (d < 0 || d >= base) throw std::invalid_argument(prefix + "invalid syntax");
    if (v > (ULLONG_MAX - static_cast<unsigned>(d)) / static_cast<unsigned>(base)) {
      overflow = true;
      continue;
    }
    v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (v > limit) overflow = true;
  }
  if (overflow) throw std::out_of_range(prefix + "value out of range");
  if (negative) return v == 9223372036854775808ull ? INT64_MIN : -static_cast<std::int64_t>(v);
  return static_cast<std::int64_t>(v);
}

leasekv::lease_id parse_lease_arg(const std::string& s, const char* what) {
  try {
    return parse_int(s, 16);
  } catch (const std::exception& e) {
    throw cli_error(exit_bad_args, std::string(what) + " (" + e.what() + "), expecting ID in Hex");
  }
}

}  // namespace leasekvctl
