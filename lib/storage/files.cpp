#include "storage/files.hpp"

#include "storage/errors.hpp"
#include "storage/records.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>

namespace leasekv::storage {
namespace {

std::string numbered(std::string_view prefix, std::uint64_t seq, std::string_view suffix) {
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016" PRIx64, seq);
  return std::string(prefix) + digits + std::string(suffix);
}

// The sequence number in `name` if it is prefix + 16 hex digits + suffix.
std::optional<std::uint64_t> parse_numbered(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (name.size() != prefix.size() + 16 + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : name.substr(prefix.size(), 16)) {
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= static_cast<std::uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
  }
  return v;
}

}  // namespace

std::string wal_name(std::uint64_t seq) { return numbered(wal_prefix, seq, wal_suffix); }
std::string snap_name(std::uint64_t seq) { return numbered(snap_prefix, seq, snap_suffix); }

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool is_not_found(const boost::system::error_code& ec) { return ec == boost::system::errc::no_such_file_or_directory; }

result<listing> list_dir(env& e, const std::string& path) {
  BOOST_OUTCOME_TRY(names, named(path, e.list(path)));
  listing out;
  for (const auto& n : names) {
    if (auto s = parse_numbered(n, snap_prefix, snap_suffix)) out.snaps.push_back(*s);
    if (auto w = parse_numbered(n, wal_prefix, wal_suffix)) out.wals.push_back(*w);
    if (n.size() > 4 && n.substr(n.size() - 4) == ".tmp") out.temps.push_back(n);
  }
  std::sort(out.snaps.begin(), out.snaps.end());
  std::sort(out.wals.begin(), out.wals.end());
  return out;
}

result<void> write_snapshot_temp(env& e, const std::string& tmp, std::uint64_t seq, const record_producer& produce) {
  auto f = named(tmp, e.open_append(tmp));
  if (!f) return f.error();
  result<void> written = named(tmp, f.value()->truncate(0));
  std::string buf = file_header(snap_magic, seq);
  std::uint64_t records = 0;
  auto flush = [&] {
    if (written && !buf.empty()) written = named(tmp, f.value()->append(buf));
    buf.clear();
  };
  produce([&](std::string_view body) {
    buf += frame(body);
    ++records;
    if (buf.size() > (1u << 20)) flush();
  });
  buf += frame(encode_snap_end(records));
  flush();
  if (written) written = named(tmp, f.value()->sync());
  if (!written) (void)e.remove(tmp);
  return written;
}

result<void> write_snapshot_file(env& e, const std::string& path, std::uint64_t seq, const record_producer& produce) {
  // The same temporary name every time: a save that was killed leaves it, and the next save to the same
  // path starts it over and renames it away.
  const std::string tmp = path + ".tmp";
  BOOST_OUTCOME_TRYV(write_snapshot_temp(e, tmp, seq, produce));
  if (auto r = named(path, e.rename(tmp, path)); !r) {
    (void)e.remove(tmp);
    return r;
  }
  return named(parent_of(path), e.sync_dir(parent_of(path)));
}

}  // namespace leasekv::storage
