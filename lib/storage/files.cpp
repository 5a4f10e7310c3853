#include "storage/files.hpp"

#include "base/crc32c.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

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

// Removes a directory a killed restore left behind, with the files in it.
void remove_tree(env& e, const std::string& dir) {
  if (auto names = e.list(dir)) {
    for (const auto& n : names.value()) (void)e.remove(dir + "/" + n);
  }
  (void)e.remove(dir);
}

}  // namespace

std::string wal_name(std::uint64_t seq) { return numbered(wal_prefix, seq, wal_suffix); }
std::string snap_name(std::uint64_t seq) { return numbered(snap_prefix, seq, snap_suffix); }

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

error damaged(const std::string& file, const std::string& what) { return {errc::corrupt, file + ": " + what}; }

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

result<void> load_snapshot(std::string_view data, const std::string& name, std::uint64_t seq, const recovery_sink& sink) {
  std::uint64_t header_seq = 0;
  std::uint64_t records = 0;
  bool ended = false;
  const scan_result r = scan(data, snap_magic, false, header_seq, [&](std::string_view body, std::size_t) {
    if (ended) return false;  // nothing may follow the end record
    const auto type = type_of(body);
    bool ok = false;
    if (type == record_type::snap_meta && records == 0) {
      snap_meta_record m;
      ok = decode(body, m) && sink.meta(m);
    } else if (type == record_type::snap_key && records > 0) {
      snap_key_record k;
      ok = decode(body, k) && sink.key(k);
    } else if (type == record_type::snap_lease && records > 0) {
      std::int64_t id = 0, ttl = 0, deadline = 0;
      ok = decode_snap_lease(body, id, ttl, deadline) && sink.lease(id, ttl, deadline);
    } else if (type == record_type::snap_end) {
      std::uint64_t count = 0;
      ok = decode_snap_end(body, count) && count == records;
      ended = true;
    }
    ++records;
    return ok;
  });
  if (!r.error.empty()) return damaged(name, r.error);
  if (header_seq != seq) return damaged(name, "sequence number does not match the file name at offset 12");
  if (!ended) return damaged(name, "truncated snapshot (no end record) at offset " + std::to_string(r.valid_end));
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> write_snapshot_temp(env& e, const std::string& tmp, std::uint64_t seq,
                                 const std::function<void(const std::function<void(std::string_view)>&)>& produce) {
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

result<void> write_snapshot_file(env& e, const std::string& path, std::uint64_t seq,
                                 const std::function<void(const std::function<void(std::string_view)>&)>& produce) {
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

result<snapshot_info> inspect_snapshot(env& e, const std::string& path) {
  BOOST_OUTCOME_TRY(data, named(path, e.read_file(path)));
  snapshot_info info;
  info.size = data.size();
  info.hash = base::crc32c(data);
  std::uint64_t seq = 0;
  std::uint64_t records = 0;
  bool ended = false;
  const scan_result r = scan(data, snap_magic, false, seq, [&](std::string_view body, std::size_t) {
    if (ended) return false;
    const auto type = type_of(body);
    ++records;
    if (type == record_type::snap_meta && records == 1) {
      snap_meta_record m;
      if (!decode(body, m)) return false;
      info.revision = m.revision;
      return true;
    }
    if (type == record_type::snap_key && records > 1) {
      snap_key_record k;
      ++info.keys;
      return decode(body, k);
    }
    if (type == record_type::snap_lease && records > 1) {
      std::int64_t id = 0, ttl = 0, deadline = 0;
      return decode_snap_lease(body, id, ttl, deadline);
    }
    if (type == record_type::snap_end) {
      std::uint64_t count = 0;
      ended = true;
      return decode_snap_end(body, count) && count + 1 == records;
    }
    return false;
  });
  const std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  if (!r.error.empty()) return damaged(name, r.error);
  if (!ended) return damaged(name, "truncated snapshot (no end record) at offset " + std::to_string(r.valid_end));
  return info;
}

result<void> restore_snapshot(env& e, const std::string& path, const std::string& dir) {
  BOOST_OUTCOME_TRYV(inspect_snapshot(e, path));
  if (e.exists(dir)) {
    return error(boost::system::errc::make_error_code(boost::system::errc::file_exists), dir + " exists");
  }
  BOOST_OUTCOME_TRY(data, named(path, e.read_file(path)));
  // Built beside the target and renamed into place, so the target is never seen half made. A directory
  // a killed restore left there is removed first.
  const std::string tmp = dir + ".restore.tmp";
  remove_tree(e, tmp);
  auto build = [&]() -> result<void> {
    BOOST_OUTCOME_TRYV(named(tmp, e.create_dir(tmp)));
    // The file becomes the directory's first snapshot (its header already says sequence 1) and an empty
    // log follows it.
    const std::string snap = tmp + "/" + snap_name(1);
    BOOST_OUTCOME_TRY(s, named(snap, e.open_append(snap)));
    BOOST_OUTCOME_TRYV(named(snap, s->append(data)));
    BOOST_OUTCOME_TRYV(named(snap, s->sync()));
    const std::string wal = tmp + "/" + wal_name(1);
    BOOST_OUTCOME_TRY(w, named(wal, e.open_append(wal)));
    BOOST_OUTCOME_TRYV(named(wal, w->append(file_header(wal_magic, 1))));
    BOOST_OUTCOME_TRYV(named(wal, w->sync()));
    BOOST_OUTCOME_TRYV(named(tmp, e.sync_dir(tmp)));
    return named(dir, e.rename(tmp, dir));
  };
  if (auto r = build(); !r) {
    remove_tree(e, tmp);
    return r;
  }
  return named(parent_of(dir), e.sync_dir(parent_of(dir)));
}

result<std::vector<std::string>> check(env& e, const std::string& path) {
  std::vector<std::string> problems;
  BOOST_OUTCOME_TRY(files, list_dir(e, path));
  if (files.snaps.empty()) problems.push_back(path + ": no snapshot");
  recovery_sink accept{[](const snap_meta_record&) { return true; }, [](const snap_key_record&) { return true; },
                       [](std::int64_t, std::int64_t, std::int64_t) { return true; },
                       [](const entry_record&) { return true; }};
  for (auto s : files.snaps) {
    auto data = e.read_file(path + "/" + snap_name(s));
    if (!data) {
      problems.push_back(snap_name(s) + ": " + data.error().message());
    } else if (auto loaded = load_snapshot(data.value(), snap_name(s), s, accept); !loaded) {
      problems.push_back(loaded.error().detail());
    }
  }
  if (!files.snaps.empty() && !std::binary_search(files.wals.begin(), files.wals.end(), files.snaps.back())) {
    problems.push_back(wal_name(files.snaps.back()) + ": missing (the log after the newest snapshot)");
  }
  for (std::size_t i = 0; i < files.wals.size(); ++i) {
    const std::string name = wal_name(files.wals[i]);
    auto data = e.read_file(path + "/" + name);
    if (!data) {
      problems.push_back(name + ": " + data.error().message());
      continue;
    }
    std::uint64_t seq = 0;
    const bool last = i + 1 == files.wals.size();
    const scan_result r = scan(data.value(), wal_magic, last, seq, [](std::string_view body, std::size_t) {
      entry_record rec;
      return decode(body, rec);
    });
    if (!r.error.empty()) problems.push_back(name + ": " + r.error);
    if (r.torn) problems.push_back(name + ": torn record at offset " + std::to_string(r.valid_end) + " (cut off at the next open)");
  }
  return problems;
}

}  // namespace leasekv::storage
