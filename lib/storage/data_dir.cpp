#include "storage/data_dir.hpp"

#include "storage/errors.hpp"
#include "storage/files.hpp"

#include <spdlog/logger.h>

#include <algorithm>

namespace leasekv::storage {
namespace {

// How often a read-only open lists the directory again when a file it listed vanished (the writer took
// a snapshot meanwhile). Each snapshot leaves the files a reader needs in place for one more round, so a
// second listing normally suffices.
constexpr int max_listing_attempts = 8;

}  // namespace

// What an open read from the directory, before anything is handed to the sink (so that a listing that
// raced the writer can be read again without undoing anything).
struct data_dir::contents {
  listing files;
  std::optional<std::uint64_t> snap;                            // the newest snapshot
  std::string snap_data;
  std::vector<std::pair<std::uint64_t, std::string>> segments;  // wal-snap, wal-snap+1, ...
  bool interrupted_creation = false;  // wal-1 alone, at most its header: a creation that was cut short
};

data_dir::data_dir(std::shared_ptr<env> e, std::string path, const data_dir_options& o)
    : env_(std::move(e)), path_(std::move(path)), opts_(o) {}

data_dir::~data_dir() = default;

result<std::unique_ptr<data_dir>> data_dir::open(std::shared_ptr<env> e, std::string path, const data_dir_options& o,
                                                 const snap_meta_record& fresh, const recovery_sink& sink) {
  std::unique_ptr<data_dir> d(new data_dir(e, path, o));
  auto empty = [&]() -> result<std::unique_ptr<data_dir>> {
    // Read-only, before any writer made the directory: the empty store it stands for; nothing created.
    d->empty_ = fresh;
    d->seq_ = 1;
    sink.meta(fresh);
    return std::move(d);
  };
  if (!o.read_only) {
    BOOST_OUTCOME_TRYV(named(path, e->create_dir(path)));
    std::string holder;
    const std::string lock_file = path + "/" + std::string(lock_name);
    auto lock = e->lock(lock_file, o.lock_timeout, &holder);
    if (!lock) {
      if (lock.error() == errc::locked) return fail(lock.error(), "held by process " + holder);
      return fail(lock.error(), lock_file + ": " + lock.error().message());
    }
    d->lock_ = std::move(lock).value();
  } else if (!e->exists(path)) {
    return empty();
  }
  BOOST_OUTCOME_TRY(c, d->read_contents());
  if (!c.snap) {
    if (o.read_only) return empty();
    BOOST_OUTCOME_TRYV(d->create(fresh));
    for (const auto& t : c.files.temps) (void)e->remove(path + "/" + t);
    sink.meta(fresh);
    return d;
  }
  BOOST_OUTCOME_TRYV(d->recover(c, sink));
  return d;
}

result<data_dir::contents> data_dir::read_contents() {
  for (int attempt = 1;; ++attempt) {
    // A reader retries what a writer working beside it can explain; the writer holds the lock, so for it
    // a vanished file is damage at once.
    const bool may_retry = opts_.read_only && attempt < max_listing_attempts;
    BOOST_OUTCOME_TRY(files, list_dir(*env_, path_));
    contents c;
    c.files = files;
    bool vanished = false;
    auto read = [&](std::uint64_t seq, bool wal, std::string& out) -> result<void> {
      const std::string file = path_ + "/" + (wal ? wal_name(seq) : snap_name(seq));
      auto r = env_->read_file(file);
      if (!r) {
        if (may_retry && is_not_found(r.error())) {
          vanished = true;
          return BOOST_OUTCOME_V2_NAMESPACE::success();
        }
        return named(file, std::move(r)).error();
      }
      out = std::move(r).value();
      return BOOST_OUTCOME_V2_NAMESPACE::success();
    };
    if (files.snaps.empty()) {
      if (files.wals.size() == 1 && files.wals[0] == 1) {
        // The first segment is put in place before the first snapshot: alone and holding no record, it
        // is a creation that was cut short.
        std::string data;
        BOOST_OUTCOME_TRYV(read(1, true, data));
        if (vanished) continue;
        if (data.size() <= file_header_size) {
          c.interrupted_creation = true;
          return c;
        }
      }
      if (!files.wals.empty()) {
        if (may_retry) continue;
        return damaged(wal_name(files.wals.front()), "log without a snapshot at offset 0");
      }
      return c;
    }
    const std::uint64_t snap = files.snaps.back();
    c.snap = snap;
    BOOST_OUTCOME_TRYV(read(snap, false, c.snap_data));
    for (auto w : files.wals) {
      if (w < snap || vanished) continue;
      c.segments.emplace_back(w, std::string());
      BOOST_OUTCOME_TRYV(read(w, true, c.segments.back().second));
    }
    if (vanished) continue;
    if (c.segments.empty() || c.segments.front().first != snap) {
      if (may_retry) continue;
      return damaged(wal_name(snap), "missing at offset 0: the log after " + snap_name(snap) +
                                         " (the newest snapshot) is gone, and the writes in it with it");
    }
    for (std::size_t i = 1; i < c.segments.size(); ++i) {
      if (c.segments[i].first != snap + i) {
        if (may_retry) break;
        return damaged(wal_name(c.segments[i].first), "a segment is missing before it, at offset 0");
      }
    }
    if (c.segments.back().first != snap + c.segments.size() - 1) continue;
    return c;
  }
}

result<void> data_dir::create(const snap_meta_record& fresh) {
  // A creation cut short starts over; the segment it left holds no record.
  BOOST_OUTCOME_TRYV(named(path_ + "/" + wal_name(1), env_->remove(path_ + "/" + wal_name(1))));
  seq_ = 0;
  return snapshot([&](const std::function<void(std::string_view)>& emit) { emit(encode(fresh)); });
}

result<void> data_dir::recover(contents& c, const recovery_sink& sink) {
  const std::uint64_t snap = *c.snap;
  BOOST_OUTCOME_TRYV(load_snapshot(c.snap_data, snap_name(snap), snap, sink));
  c.snap_data = std::string();
  std::uint64_t last_valid_end = 0;
  bool last_torn = false;
  std::uint64_t last_size = 0;
  for (std::size_t i = 0; i < c.segments.size(); ++i) {
    const std::uint64_t seq = c.segments[i].first;
    const std::string name = wal_name(seq);
    const std::string data = std::move(c.segments[i].second);
    const bool last = i + 1 == c.segments.size();
    const replay_result r = replay_log(data, 0, seq, last, sink.entry);
    if (!r.error.empty()) return damaged(name, r.error);
    if (last && r.valid_end < file_header_size) {
      // A segment gets its name only once its header is synced: a short header is damage, not a torn
      // write, and whatever records followed it are gone.
      return damaged(name, "truncated file header at offset " + std::to_string(data.size()));
    }
    if (last) {
      last_valid_end = r.valid_end;
      last_torn = r.torn;
      last_size = data.size();
      if (r.torn && opts_.logger) {
        opts_.logger->warn("{}: cut a torn record at offset {} ({} bytes)", name, r.valid_end, data.size() - r.valid_end);
      }
    }
  }
  const std::uint64_t last = c.segments.back().first;
  if (opts_.read_only) {
    seq_ = last;
    read_offset_ = last_valid_end;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  // Ready to append: continue the last segment, cut back to its last good record.
  const std::string file = path_ + "/" + wal_name(last);
  BOOST_OUTCOME_TRY(f, named(file, env_->open_append(file)));
  if (last_torn || last_size != last_valid_end || f->size() != last_valid_end) {
    BOOST_OUTCOME_TRYV(named(file, f->truncate(last_valid_end)));
    BOOST_OUTCOME_TRYV(named(file, f->sync()));
  }
  seq_ = last;
  file_ = std::move(f);
  // Files an interrupted snapshot left behind.
  for (const auto& t : c.files.temps) (void)env_->remove(path_ + "/" + t);
  remove_superseded(snap);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

void data_dir::remove_superseded(std::uint64_t snap) {
  auto files = list_dir(*env_, path_);
  if (!files) return;  // they go next time
  for (auto s : files.value().snaps) {
    if (s < snap) (void)env_->remove(path_ + "/" + snap_name(s));
  }
  // The segment before the snapshot stays one more round, for readers still following it.
  for (auto w : files.value().wals) {
    if (w + 1 < snap) (void)env_->remove(path_ + "/" + wal_name(w));
  }
}

result<void> data_dir::sync_failed(const std::string& file, const boost::system::error_code& ec) {
  // After a failed fsync the kernel may have dropped the dirty pages: nothing after it can be trusted.
  // A segment no longer linked loses every write to it just as surely.
  poisoned_.store(true, std::memory_order_release);
  const error e(errc::io_error, file + ": " + (is_not_found(ec) ? "deleted while open (the writes to it are lost)" : ec.message()));
  commit_.fail(e);
  return e;
}

result<std::uint64_t> data_dir::append(std::string_view body) {
  if (opts_.read_only) return errc::read_only;
  if (closed_.load(std::memory_order_acquire)) return errc::closed;
  if (poisoned()) return errc::io_error;
  const std::string framed = frame(body);
  const std::uint64_t before = file_->size();
  auto r = file_->append(framed);
  if (!r) {
    const auto failed = fail(r.error(), path_ + "/" + wal_name(seq_) + ": " + r.error().message());
    // Leave no half record behind; if even that fails, the log's tail is unknown: stop writing.
    if (!file_->truncate(before)) poisoned_.store(true, std::memory_order_release);
    return failed;
  }
  return appended_.fetch_add(framed.size(), std::memory_order_acq_rel) + framed.size();
}

result<void> data_dir::sync_to(std::uint64_t lsn) {
  return commit_.wait(lsn, [this] { return sync_appended(); });
}

result<std::uint64_t> data_dir::sync_appended() {
  if (poisoned()) return errc::io_error;
  std::shared_ptr<writable_file> f;
  std::uint64_t target = 0;
  std::string file;
  {
    // Read together: every byte counted in appended_ went to this file until the segment switches, and
    // the switch takes file_mu_ after syncing everything appended to the old one.
    std::lock_guard flock(file_mu_);
    if (!file_) return errc::closed;  // close() synced everything it could; the record is not from here
    f = file_;
    target = appended_.load(std::memory_order_acquire);
    file = path_ + "/" + wal_name(seq_);
  }
  if (auto r = f->sync(); !r) return sync_failed(file, r.error()).error();
  return target;
}

result<void> data_dir::close() {
  if (closed_.load(std::memory_order_acquire)) return BOOST_OUTCOME_V2_NAMESPACE::success();
  result<void> r = BOOST_OUTCOME_V2_NAMESPACE::success();
  if (file_ && !opts_.read_only) {
    r = sync_to(appended_.load(std::memory_order_acquire));
    if (r && poisoned()) r = errc::io_error;  // a cut that failed after a failed append: the tail is unknown
  }
  {
    std::lock_guard flock(file_mu_);
    file_.reset();
  }
  lock_.reset();
  closed_.store(true, std::memory_order_release);
  return r;
}

result<bool> data_dir::writer_started() {
  if (!env_->exists(path_)) return false;
  BOOST_OUTCOME_TRY(files, list_dir(*env_, path_));
  if (files.snaps.empty()) return false;  // being created: nothing to read yet
  // This reader holds the empty state: it can follow only a writer that started from it too.
  const std::string file = path_ + "/" + snap_name(1);
  auto data = env_->read_file(file);
  if (!data && is_not_found(data.error())) return errc::stale;
  if (!data) return named(file, std::move(data)).error();
  bool same = true;
  recovery_sink compare{
      [&](const snap_meta_record& m) {
        same = same && m.revision == empty_->revision && m.compacted_revision == empty_->compacted_revision;
        return true;
      },
      [&](const snap_key_record&) { return same = false; },
      [&](std::int64_t, std::int64_t, std::int64_t) { return same = false; }, nullptr};
  auto loaded = load_snapshot(data.value(), snap_name(1), 1, compare);
  if (!same) return errc::stale;
  BOOST_OUTCOME_TRYV(loaded);
  empty_.reset();
  seq_ = 1;
  read_offset_ = 0;
  return true;
}

result<bool> data_dir::follow(const recovery_sink& sink) {
  if (closed_.load(std::memory_order_acquire)) return errc::closed;
  if (empty_) {
    BOOST_OUTCOME_TRY(started, writer_started());
    if (!started) return false;
  }
  bool applied = false;
  for (;;) {
    const std::string name = wal_name(seq_);
    const std::string file = path_ + "/" + name;
    // Look for the next segment first: once it exists, this one is complete.
    const bool moved_on = env_->exists(path_ + "/" + wal_name(seq_ + 1));
    auto read = env_->exists(file) ? env_->read_file_from(file, read_offset_)
                                   : result<std::string>(boost::system::errc::make_error_code(boost::system::errc::no_such_file_or_directory));
    if (!read && is_not_found(read.error())) {
      if (moved_on || read_offset_ > 0) return errc::stale;  // the writer removed it: more than a snapshot behind
      return applied;  // the writer has not started this segment yet
    }
    BOOST_OUTCOME_TRY(data, named(file, std::move(read)));
    if (read_offset_ == 0 && data.size() < file_header_size) return applied;  // its header is being written
    const replay_result r = replay_log(data, read_offset_, seq_, true, [&](const entry_record& rec) {
      if (!sink.entry(rec)) return false;
      applied = true;
      return true;
    });
    read_offset_ = r.valid_end;
    if (!r.error.empty()) return damaged(name, r.error);
    if (!moved_on) return applied;
    ++seq_;
    read_offset_ = 0;
  }
}

bool data_dir::wants_snapshot() const {
  return file_ && file_->size() > std::max(opts_.snapshot_after_bytes, snapshot_retry_size_);
}

result<void> data_dir::snapshot(const record_producer& produce) {
  auto r = try_snapshot(produce);
  // What failed (no room, an I/O error) is likely to fail again soon: wait for more log before retrying.
  snapshot_retry_size_ = !r && file_ ? file_->size() + std::max<std::uint64_t>(opts_.snapshot_after_bytes / 8, 1) : 0;
  return r;
}

result<void> data_dir::try_snapshot(const record_producer& produce) {
  if (closed_.load(std::memory_order_acquire)) return errc::closed;
  if (poisoned()) return errc::io_error;
  const std::uint64_t next = seq_ + 1;
  const std::string snap_file = path_ + "/" + snap_name(next);
  const std::string wal_file = path_ + "/" + wal_name(next);
  const std::string snap_tmp = snap_file + ".tmp";
  const std::string wal_tmp = wal_file + ".tmp";
  // Before the switch, a failure leaves everything as it was: appends go on to the current segment.
  auto abandon = [&](const error& e) {
    (void)env_->remove(snap_tmp);
    (void)env_->remove(wal_tmp);
    return e;
  };
  if (auto r = write_snapshot_temp(*env_, snap_tmp, next, produce); !r) return abandon(r.error());
  auto opened = named(wal_tmp, env_->open_append(wal_tmp));
  if (!opened) return abandon(opened.error());
  std::shared_ptr<writable_file> f = std::move(opened).value();
  result<void> made = named(wal_tmp, f->truncate(0));
  if (made) made = named(wal_tmp, f->append(file_header(wal_magic, next)));
  if (made) made = named(wal_tmp, f->sync());
  if (!made) return abandon(made.error());
  // The snapshot will stand for everything appended so far: make it durable (this also finds a segment
  // deleted under the writer, whatever the sync policy).
  if (file_) {
    const std::uint64_t target = appended_.load(std::memory_order_acquire);
    if (auto r = file_->sync(); !r) return abandon(sync_failed(path_ + "/" + wal_name(seq_), r.error()).error());
    commit_.advance(target);
  }
  if (auto r = named(wal_file, env_->rename(wal_tmp, wal_file)); !r) return abandon(r.error());
  {
    // The switch: wal-next exists, so appends go to it.
    std::lock_guard lock(file_mu_);
    seq_ = next;
    file_ = std::move(f);
  }
  if (auto r = named(path_, env_->sync_dir(path_)); !r) {
    // Whether wal-next survives a crash is unknown, so is whatever is appended to it.
    poisoned_.store(true, std::memory_order_release);
    return abandon(r.error());
  }
  // Only now does the snapshot count; if it does not get there, recovery replays from the one before.
  if (auto r = named(snap_file, env_->rename(snap_tmp, snap_file)); !r) return abandon(r.error());
  BOOST_OUTCOME_TRYV(named(path_, env_->sync_dir(path_)));
  remove_superseded(next);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

}  // namespace leasekv::storage
