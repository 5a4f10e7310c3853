#include "storage/data_dir.hpp"

#include <spdlog/logger.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <vector>

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

struct listing {
  std::vector<std::uint64_t> snaps;
  std::vector<std::uint64_t> wals;
  std::vector<std::string> temps;
};

result<listing> list_dir(env& e, const std::string& path) {
  BOOST_OUTCOME_TRY(names, e.list(path));
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

boost::system::error_code damaged(const std::string& file, const std::string& what) {
  set_last_error_detail(file + ": " + what);
  return errc::corrupt;
}

// Loads a snapshot through the sink. Any problem is damage: a snapshot is written whole, then renamed.
result<void> load_snapshot(env& e, const std::string& dir, std::uint64_t seq, const recovery_sink& sink) {
  const std::string name = snap_name(seq);
  BOOST_OUTCOME_TRY(data, e.read_file(dir + "/" + name));
  std::uint64_t header_seq = 0;
  std::uint64_t records = 0;
  bool ended = false;
  bool sink_failed = false;
  const scan_result r = scan(data, snap_magic, false, header_seq, [&](std::string_view body, std::size_t) {
    if (ended) return false;  // nothing may follow the end record
    const auto type = type_of(body);
    bool ok = false;
    if (type == record_type::snap_meta && records == 0) {
      snap_meta_record m;
      ok = decode(body, m) && (sink_failed = !sink.meta(m), !sink_failed);
    } else if (type == record_type::snap_key && records > 0) {
      snap_key_record k;
      ok = decode(body, k) && (sink_failed = !sink.key(k), !sink_failed);
    } else if (type == record_type::snap_lease && records > 0) {
      std::int64_t id = 0, ttl = 0, deadline = 0;
      ok = decode_snap_lease(body, id, ttl, deadline) && (sink_failed = !sink.lease(id, ttl, deadline), !sink_failed);
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

}  // namespace

std::string wal_name(std::uint64_t seq) { return numbered(wal_prefix, seq, wal_suffix); }
std::string snap_name(std::uint64_t seq) { return numbered(snap_prefix, seq, snap_suffix); }

data_dir::data_dir(std::shared_ptr<env> e, std::string path, const data_dir_options& o)
    : env_(std::move(e)), path_(std::move(path)), opts_(o) {}

data_dir::~data_dir() = default;

result<std::unique_ptr<data_dir>> data_dir::open(std::shared_ptr<env> e, std::string path, const data_dir_options& o,
                                                 const snap_meta_record& fresh, const recovery_sink& sink) {
  set_last_error_detail({});
  std::unique_ptr<data_dir> d(new data_dir(e, path, o));
  if (!o.read_only) {
    BOOST_OUTCOME_TRYV(e->create_dir(path));
    std::string holder;
    auto lock = e->lock(path + "/" + std::string(lock_name), o.lock_timeout, &holder);
    if (!lock) {
      if (lock.error() == errc::locked) set_last_error_detail("held by process " + holder);
      return lock.error();
    }
    d->lock_ = std::move(lock).value();
  }
  if (o.read_only && !e->exists(path)) {
    set_last_error_detail(path + ": no such data directory");
    return boost::system::errc::make_error_code(boost::system::errc::no_such_file_or_directory);
  }
  BOOST_OUTCOME_TRY(files, list_dir(*e, path));
  if (files.snaps.empty()) {
    if (!files.wals.empty()) return damaged(wal_name(files.wals.front()), "log without a snapshot at offset 0");
    if (o.read_only) {
      sink.meta(fresh);
      return d;
    }
    // A new directory: an empty snapshot first, so that every directory has one.
    BOOST_OUTCOME_TRYV(d->start_segment(0));
    BOOST_OUTCOME_TRYV(d->snapshot([&](const std::function<void(std::string_view)>& emit) { emit(encode(fresh)); }));
    sink.meta(fresh);
    return d;
  }
  const std::uint64_t snap = files.snaps.back();
  BOOST_OUTCOME_TRYV(load_snapshot(*e, path, snap, sink));

  std::vector<std::uint64_t> segments;
  for (auto w : files.wals) {
    if (w >= snap) segments.push_back(w);
  }
  std::uint64_t expect = snap;
  std::size_t last_valid_end = 0;
  bool last_torn = false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string name = wal_name(segments[i]);
    if (segments[i] != expect) return damaged(name, "a segment is missing before it, at offset 0");
    ++expect;
    BOOST_OUTCOME_TRY(data, e->read_file(path + "/" + name));
    const bool last = i + 1 == segments.size();
    std::uint64_t header_seq = segments[i];
    bool sink_failed = false;
    const scan_result r = scan(data, wal_magic, last, header_seq, [&](std::string_view body, std::size_t) {
      entry_record rec;
      if (!decode(body, rec)) return false;
      if (!sink.entry(rec)) {
        sink_failed = true;
        return false;
      }
      return true;
    });
    if (!r.error.empty()) {
      return damaged(name, sink_failed ? "record does not follow from the state before it" + r.error.substr(r.error.find(" at offset")) : r.error);
    }
    if (header_seq != segments[i] && r.valid_end >= file_header_size) {
      return damaged(name, "sequence number does not match the file name at offset 12");
    }
    if (last) {
      last_valid_end = r.valid_end;
      last_torn = r.torn;
      if (r.torn && o.logger) {
        o.logger->warn("{}: cut a torn record at offset {} ({} bytes)", name, r.valid_end, data.size() - r.valid_end);
      }
    }
  }
  if (o.read_only) {
    d->seq_ = segments.empty() ? snap : segments.back();
    d->read_offset_ = segments.empty() ? 0 : last_valid_end;
    return d;
  }

  // Ready to append: continue the last segment (cut back to its last good record), or start one.
  if (segments.empty()) {
    BOOST_OUTCOME_TRYV(d->start_segment(snap));
  } else {
    const std::uint64_t last = segments.back();
    BOOST_OUTCOME_TRY(f, e->open_append(path + "/" + wal_name(last)));
    if (last_valid_end < file_header_size) {
      // Not even its header survived: write the segment again from scratch.
      BOOST_OUTCOME_TRYV(f->truncate(0));
      BOOST_OUTCOME_TRYV(f->append(file_header(wal_magic, last)));
      BOOST_OUTCOME_TRYV(f->sync());
    } else if (last_torn || f->size() != last_valid_end) {
      BOOST_OUTCOME_TRYV(f->truncate(last_valid_end));
      BOOST_OUTCOME_TRYV(f->sync());
    }
    d->seq_ = last;
    d->file_ = std::move(f);
  }
  // Files an interrupted snapshot left behind.
  for (const auto& t : files.temps) (void)e->remove(path + "/" + t);
  for (auto w : files.wals) {
    if (w + 1 < snap) (void)e->remove(path + "/" + wal_name(w));  // the one before snap stays for readers
  }
  for (auto s : files.snaps) {
    if (s < snap) (void)e->remove(path + "/" + snap_name(s));
  }
  return d;
}

result<void> data_dir::start_segment(std::uint64_t seq) {
  if (seq == 0) return BOOST_OUTCOME_V2_NAMESPACE::success();  // before the first snapshot: no segment yet
  const std::string name = path_ + "/" + wal_name(seq);
  BOOST_OUTCOME_TRY(f, env_->open_append(name));
  BOOST_OUTCOME_TRYV(f->truncate(0));
  BOOST_OUTCOME_TRYV(f->append(file_header(wal_magic, seq)));
  BOOST_OUTCOME_TRYV(f->sync());
  BOOST_OUTCOME_TRYV(env_->sync_dir(path_));
  std::lock_guard lock(file_mu_);
  seq_ = seq;
  file_ = std::move(f);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> data_dir::close() {
  if (closed_.exchange(true)) return BOOST_OUTCOME_V2_NAMESPACE::success();
  auto r = opts_.read_only ? BOOST_OUTCOME_V2_NAMESPACE::success() : sync_to(appended_.load(std::memory_order_acquire));
  lock_.reset();
  return r;
}

result<std::uint64_t> data_dir::append(std::string_view body) {
  if (closed_.load(std::memory_order_acquire)) return errc::closed;
  if (opts_.read_only) return errc::read_only;
  if (poisoned()) return errc::io_error;
  const std::string framed = frame(body);
  const std::uint64_t before = file_->size();
  auto r = file_->append(framed);
  if (!r) {
    // Leave no half record behind; if even that fails, the log's tail is unknown: stop writing.
    if (!file_->truncate(before)) poisoned_.store(true, std::memory_order_release);
    return r.error();
  }
  return appended_.fetch_add(framed.size(), std::memory_order_acq_rel) + framed.size();
}

result<void> data_dir::sync_to(std::uint64_t lsn) {
  if (synced_.load(std::memory_order_acquire) >= lsn) return BOOST_OUTCOME_V2_NAMESPACE::success();
  std::lock_guard lock(sync_mu_);
  if (synced_.load(std::memory_order_acquire) >= lsn) return BOOST_OUTCOME_V2_NAMESPACE::success();
  if (poisoned()) return errc::io_error;
  std::shared_ptr<writable_file> f;
  {
    std::lock_guard flock(file_mu_);
    f = file_;
  }
  const std::uint64_t target = appended_.load(std::memory_order_acquire);
  auto r = f->sync();
  if (!r) {
    // After a failed fsync the kernel may have dropped the dirty pages: nothing after it can be trusted.
    poisoned_.store(true, std::memory_order_release);
    return r.error();
  }
  if (synced_.load(std::memory_order_acquire) < target) synced_.store(target, std::memory_order_release);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<bool> data_dir::follow(const recovery_sink& sink) {
  bool applied = false;
  for (;;) {
    const std::string name = wal_name(seq_);
    const std::string file = path_ + "/" + name;
    // Look for the next segment first: once it exists, this one is complete.
    const bool moved_on = env_->exists(path_ + "/" + wal_name(seq_ + 1));
    if (!env_->exists(file)) {
      if (moved_on || read_offset_ > 0) return errc::stale;
      return applied;  // the writer has not started this segment yet
    }
    BOOST_OUTCOME_TRY(data, env_->read_file_from(file, read_offset_));
    std::string_view rest = data;
    if (read_offset_ == 0) {
      if (rest.size() < file_header_size) return applied;
      if (rest.substr(0, 8) != wal_magic) return damaged(name, "bad magic at offset 0");
      rest.remove_prefix(file_header_size);
      read_offset_ = file_header_size;
    }
    bool sink_failed = false;
    const scan_result r = scan_records(rest, read_offset_, true, [&](std::string_view body, std::size_t) {
      entry_record rec;
      if (!decode(body, rec)) return false;
      if (!sink.entry(rec)) {
        sink_failed = true;
        return false;
      }
      applied = true;
      return true;
    });
    read_offset_ += r.valid_end;
    if (!r.error.empty()) return damaged(name, r.error);
    if (!moved_on) return applied;
    ++seq_;
    read_offset_ = 0;
  }
}

bool data_dir::wants_snapshot() const { return file_ && file_->size() > opts_.snapshot_after_bytes; }

result<void> data_dir::snapshot(const std::function<void(const std::function<void(std::string_view)>&)>& produce) {
  if (poisoned()) return errc::io_error;
  const std::uint64_t next = seq_ + 1;
  BOOST_OUTCOME_TRYV(write_snapshot_file(*env_, path_ + "/" + snap_name(next), next, produce));
  BOOST_OUTCOME_TRYV(env_->sync_dir(path_));
  // The snapshot now stands for every record so far: sync the old segment's tail, then switch.
  if (file_) {
    auto r = file_->sync();
    if (!r) poisoned_.store(true, std::memory_order_release);
  }
  const std::uint64_t old = seq_;
  BOOST_OUTCOME_TRYV(start_segment(next));
  synced_.store(appended_.load(std::memory_order_acquire), std::memory_order_release);
  if (old != 0) {
    // The superseded snapshot goes; the segment just finished stays one more round for readers that are
    // still following it (see follow()).
    (void)env_->remove(path_ + "/" + snap_name(old));
    if (old > 1) (void)env_->remove(path_ + "/" + wal_name(old - 1));
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> write_snapshot_file(env& e, const std::string& path, std::uint64_t seq,
                                 const std::function<void(const std::function<void(std::string_view)>&)>& produce) {
  const std::string tmp = path + ".tmp";
  BOOST_OUTCOME_TRY(f, e.open_append(tmp));
  BOOST_OUTCOME_TRYV(f->truncate(0));
  std::string buf = file_header(snap_magic, seq);
  std::uint64_t records = 0;
  result<void> written = BOOST_OUTCOME_V2_NAMESPACE::success();
  auto flush = [&] {
    if (written && !buf.empty()) written = f->append(buf);
    buf.clear();
  };
  produce([&](std::string_view body) {
    buf += frame(body);
    ++records;
    if (buf.size() > (1u << 20)) flush();
  });
  buf += frame(encode_snap_end(records));
  flush();
  if (written) written = f->sync();
  if (!written) {
    (void)e.remove(tmp);
    return written.error();
  }
  return e.rename(tmp, path);
}

result<snapshot_info> inspect_snapshot(env& e, const std::string& path) {
  set_last_error_detail({});
  BOOST_OUTCOME_TRY(data, e.read_file(path));
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
    set_last_error_detail(dir + " exists");
    return boost::system::errc::make_error_code(boost::system::errc::file_exists);
  }
  BOOST_OUTCOME_TRY(data, e.read_file(path));
  BOOST_OUTCOME_TRYV(e.create_dir(dir));
  // The file becomes the directory's first snapshot (its header already says sequence 1) and an empty
  // log follows it.
  BOOST_OUTCOME_TRY(snap, e.open_append(dir + "/" + snap_name(1)));
  BOOST_OUTCOME_TRYV(snap->append(data));
  BOOST_OUTCOME_TRYV(snap->sync());
  BOOST_OUTCOME_TRY(wal, e.open_append(dir + "/" + wal_name(1)));
  BOOST_OUTCOME_TRYV(wal->append(file_header(wal_magic, 1)));
  BOOST_OUTCOME_TRYV(wal->sync());
  return e.sync_dir(dir);
}

result<std::vector<std::string>> check(env& e, const std::string& path) {
  std::vector<std::string> problems;
  BOOST_OUTCOME_TRY(files, list_dir(e, path));
  if (files.snaps.empty()) problems.push_back(path + ": no snapshot");
  recovery_sink accept{[](const snap_meta_record&) { return true; }, [](const snap_key_record&) { return true; },
                       [](std::int64_t, std::int64_t, std::int64_t) { return true; },
                       [](const entry_record&) { return true; }};
  for (auto s : files.snaps) {
    auto r = load_snapshot(e, path, s, accept);
    if (!r) problems.push_back(last_error_detail());
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
  set_last_error_detail({});
  return problems;
}

}  // namespace leasekv::storage
