// txn: compares, success ops and failure ops read from stdin, each section ended by an empty line.
#include "printer.hpp"

#include <cstdio>
#include <iostream>
#include <regex>

namespace leasekvctl {
namespace {

// Go's %q scan: the quoted string at the start of `s` (escapes decoded); `used` gets its length.
std::optional<std::string> go_unquote(std::string_view s, std::size_t& used) {
  if (s.empty() || s[0] != '"') return std::nullopt;
  std::string out;
  std::size_t i = 1;
  auto hex = [&](std::size_t n) -> std::optional<unsigned long> {
    if (i + n > s.size()) return std::nullopt;
    unsigned long v = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const char ch = s[i + k];
      v <<= 4;
      if (ch >= '0' && ch <= '9') v |= static_cast<unsigned long>(ch - '0');
      else if (ch >= 'a' && ch <= 'f') v |= static_cast<unsigned long>(ch - 'a' + 10);
      else if (ch >= 'A' && ch <= 'F') v |= static_cast<unsigned long>(ch - 'A' + 10);
      else return std::nullopt;
    }
    i += n;
    return v;
  };
  auto utf8 = [&](unsigned long cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  };
  while (i < s.size()) {
    const char ch = s[i++];
    if (ch == '"') {
      used = i;
      return out;
    }
    if (ch != '\\') {
      out += ch;
      continue;
    }
    if (i >= s.size()) return std::nullopt;
    const char e = s[i++];
    switch (e) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case '\'': out += '\''; break;
      case 'x': {
        auto v = hex(2);
        if (!v) return std::nullopt;
        out += static_cast<char>(*v);
        break;
      }
      case 'u':
      case 'U': {
        auto v = hex(e == 'u' ? 4 : 8);
        if (!v) return std::nullopt;
        utf8(*v);
        break;
      }
      default:
        if (e >= '0' && e <= '7' && i + 1 < s.size()) {  // three octal digits
          const int v = (e - '0') * 64 + (s[i] - '0') * 8 + (s[i + 1] - '0');
          i += 2;
          out += static_cast<char>(v);
          break;
        }
        return std::nullopt;
    }
  }
  return std::nullopt;
}

// etcdctl's argify: double-quoted (Go escapes), single-quoted, or bare words.
std::vector<std::string> argify(const std::string& line) {
  static const std::regex word(R"("(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?)");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), word); it != std::sregex_iterator(); ++it) {
    std::string a = it->str();
    if (!a.empty() && a[0] == '\'') {
      a = a.substr(1, a.size() - 2);
    } else if (!a.empty() && a[0] == '"') {
      std::size_t used = 0;
      auto v = go_unquote(a, used);
      if (!v) throw cli_error(exit_invalid_input, "invalid syntax");
      a = *v;
    }
    out.push_back(a);
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// One line of a section; an error at EOF before the empty line that ends it.
std::string next_line(std::istream& in) {
  std::string line;
  if (!std::getline(in, line)) throw cli_error(exit_invalid_input, "EOF");
  return trim(line);
}

leasekv::compare parse_compare(const std::string& line) {
  const auto malformed = [&] { return cli_error(exit_invalid_input, "malformed comparison: " + line); };
  const auto paren = line.find('(');
  if (paren == std::string::npos) throw malformed();
  const std::string target = line.substr(0, paren);
  std::string_view rest = std::string_view(line).substr(paren + 1);
  std::size_t used = 0;
  auto key = go_unquote(rest, used);
  if (!key || used >= rest.size() || rest[used] != ')') throw malformed();
  rest.remove_prefix(used + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const auto space = rest.find(' ');
  if (space == std::string_view::npos) throw malformed();
  const std::string op(rest.substr(0, space));
  rest.remove_prefix(space);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  auto value = go_unquote(rest, used);
  if (!value) throw malformed();

  leasekv::compare_result result{};
  if (op == "=") result = leasekv::compare_result::equal;
  else if (op == "!=") result = leasekv::compare_result::not_equal;
  else if (op == "<") result = leasekv::compare_result::less;
  else if (op == ">") result = leasekv::compare_result::greater;
  else throw malformed();

  auto number = [&](leasekv::compare::operand lhs) {
    try {
      return leasekv::make_compare(std::move(lhs), result, parse_int(*value, 10));
    } catch (const std::exception&) {
      throw cli_error(exit_invalid_input, "invalid txn compare request: " + line);
    }
  };
  if (target == "ver" || target == "version") return number(leasekv::compare::version(*key));
  if (target == "c" || target == "create") return number(leasekv::compare::create_revision(*key));
  if (target == "m" || target == "mod") return number(leasekv::compare::mod_revision(*key));
  if (target == "lease") return number(leasekv::compare::lease(*key));
  if (target == "val" || target == "value") return leasekv::make_compare(leasekv::compare::value_of(*key), result, *value);
  throw cli_error(exit_invalid_input, "malformed comparison: " + line + " (unknown target " + target + ")");
}

// What etcdctl 3.4 prints on stderr before "invalid txn request" when an op line has a flag its
// command does not know: that command's usage, as its flag library writes it.
const char* op_usage(const std::string& verb) {
  if (verb == "put") {
    return "Usage:\n   put [options] <key> <value> (<value> can also be given from stdin) [flags]\n\nFlags:\n"
           "  -h, --help           help for put\n"
           "      --ignore-lease   updates the key using its current lease\n"
           "      --ignore-value   updates the key using its current value\n"
           "      --lease string   lease ID (in hexadecimal) to attach to the key (default \"0\")\n"
           "      --prev-kv        return the previous key-value pair before modification\n\n";
  }
  if (verb == "get") {
    return "Usage:\n   get [options] <key> [range_end] [flags]\n\nFlags:\n"
           "      --consistency string   Linearizable(l) or Serializable(s) (default \"l\")\n"
           "      --from-key             Get keys that are greater than or equal to the given key using byte compare\n"
           "  -h, --help                 help for get\n"
           "      --keys-only            Get only the keys\n"
           "      --limit int            Maximum number of results\n"
           "      --order string         Order of results; ASCEND or DESCEND (ASCEND by default)\n"
           "      --prefix               Get keys with matching prefix\n"
           "      --print-value-only     Only write values when using the \"simple\" output format\n"
           "      --rev int              Specify the kv revision\n"
           "      --sort-by string       Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION\n\n";
  }
  return "Usage:\n   del [options] <key> [range_end] [flags]\n\nFlags:\n"
         "      --from-key   delete keys that are greater than or equal to the given key using byte compare\n"
         "  -h, --help       help for del\n"
         "      --prefix     delete keys with matching prefix\n"
         "      --prev-kv    return deleted key-value pairs\n\n";
}

// The op's flags; on one its command does not know, prints the command's usage, as etcdctl does.
args parse_op_flags(const std::string& verb, std::vector<char*>& argv, const flag_spec& spec) {
  try {
    return parse(static_cast<int>(argv.size()), argv.data(), 2, spec);
  } catch (const cli_error&) {
    std::fputs(op_usage(verb), stderr);
    throw;
  }
}

leasekv::request_op parse_op(const std::string& line) {
  const auto words = argify(line);
  const auto invalid = [&] { return cli_error(exit_invalid_input, "invalid txn request: " + line); };
  if (words.size() < 2) throw cli_error(exit_invalid_input, "invalid txn compare request: " + line);
  std::vector<std::string> storage(words.begin(), words.end());
  std::vector<char*> argv{const_cast<char*>("txn")};
  for (auto& w : storage) argv.push_back(w.data());
  try {
    const std::string& verb = words[0];
    if (verb == "put") {
      const args a = parse_op_flags(verb, argv, put_flags);
      if (a.positional.empty() || (a.positional.size() < 2 && !a.has("ignore-value"))) throw invalid();
      return leasekv::op::put(a.positional[0], a.positional.size() > 1 ? a.positional[1] : "", put_options_of(a));
    }
    if (verb == "get") {
      const args a = parse_op_flags(verb, argv, get_flags);
      return leasekv::op::get(key_range_of(a, "get"), range_options_of(a));
    }
    if (verb == "del") {
      const args a = parse_op_flags(verb, argv, del_flags);
      return leasekv::op::del(key_range_of(a, "del"), {.prev_kv = a.has("prev-kv")});
    }
  } catch (const cli_error&) {
    throw invalid();
  }
  throw invalid();
}

}  // namespace

leasekv::txn_request read_txn_request(std::istream& in, bool interactive) {
  leasekv::txn_request t;
  if (interactive) out_line("compares:");
  for (std::string line = next_line(in); !line.empty(); line = next_line(in)) t.compares.push_back(parse_compare(line));
  if (interactive) out_line("success requests (get, put, del):");
  for (std::string line = next_line(in); !line.empty(); line = next_line(in)) t.success.push_back(parse_op(line));
  if (interactive) out_line("failure requests (get, put, del):");
  for (std::string line = next_line(in); !line.empty(); line = next_line(in)) t.failure.push_back(parse_op(line));
  return t;
}

int cmd_txn(context& c) {
  if (!c.a.positional.empty()) throw cli_error(exit_bad_args, "txn command does not accept argument");
  const leasekv::txn_request t = read_txn_request(std::cin, c.a.has("interactive"));
  auto s = open_store(c, access::write);
  auto r = s->txn(t);
  if (!r) throw cli_error(exit_error, error_text(r.error()));
  refuse_unsupported_format(c);
  make_printer(c, {.hex = c.hex})->txn(r.value());
  return exit_success;
}

}  // namespace leasekvctl
