#include "printer.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>

namespace leasekvctl {

void out_raw(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

void out_line(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string base64(std::string_view s) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(s[k])); };
  for (; i + 2 < s.size(); i += 3) {
    const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i + 1 == s.size()) {
    const unsigned v = byte(i) << 16;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == s.size()) {
    const unsigned v = byte(i) << 16 | byte(i + 1) << 8;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Go's strconv.Quote: printable runes stay, the usual escapes for the rest, invalid UTF-8 as \x.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence is kept whole if it is well formed.
    const int len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    bool ok = len > 0 && i + static_cast<std::size_t>(len) <= s.size();
    for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0xc0) == 0x80;
    if (ok) {
      out.append(s.substr(i, static_cast<std::size_t>(len)));
      i += static_cast<std::size_t>(len);
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out + "\"";
}

std::string hex_escape(std::string_view s) {
  std::string out;
  for (const char ch : s) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(ch));
  return out;
}

std::string lease_hex(leasekv::lease_id id) { return fmt::format("{:016x}", id); }

std::string humanize_bytes(std::uint64_t n) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (n < 10) return fmt::format("{} B", n);
  const double d = static_cast<double>(n);
  const int e = static_cast<int>(std::floor(std::log(d) / std::log(1000.0)));
  const double val = std::floor(d / std::pow(1000.0, e) * 10 + 0.5) / 10;
  return val < 10 ? fmt::format("{:.1f} {}", val, units[e]) : fmt::format("{:.0f} {}", val, units[e]);
}

std::unique_ptr<printer> make_printer(const context& c, const print_options& o) {
  switch (c.out) {
    case format::json: return make_json_printer();
    case format::fields: return make_fields_printer();
    case format::table: return make_table_printer();
    default: return make_simple_printer(o);
  }
}

void refuse_unsupported_format(const context& c) {
  if (c.out == format::table) throw cli_error(exit_bad_feature, "table not supported as output format");
  if (c.out == format::protobuf) throw cli_error(exit_bad_feature, "protobuf not supported as output format");
}

void printer::op_response(const leasekv::response_op& op) {
  switch (op.type) {
    case leasekv::request_op::kind::put: put(op.put); break;
    case leasekv::request_op::kind::range: get(op.range); break;
    case leasekv::request_op::kind::delete_range: del(op.delete_range); break;
    case leasekv::request_op::kind::txn: if (op.txn) txn(*op.txn); break;
  }
}

}  // namespace leasekvctl
