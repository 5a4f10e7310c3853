#include "durable/engines.hpp"

#include <leasekv/leasekv.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace durable_bench {
namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "durable bench: %s\n", what.c_str());
  std::abort();
}

bool is_log(const std::string& path) {
  return path.size() >= 4 && path.compare(path.size() - 4, 4, ".log") == 0;
}

struct shared_counters {
  std::atomic<std::uint64_t> log_syncs{0};
  std::atomic<std::uint64_t> bytes{0};
  io_counters get() const { return {log_syncs.load(), bytes.load()}; }
};

// ---- leasekv: an env counting around the POSIX one ----

class counting_file final : public leasekv::writable_file {
 public:
  counting_file(std::unique_ptr<leasekv::writable_file> f, shared_counters& c, bool log)
      : f_(std::move(f)), c_(c), log_(log) {}
  leasekv::result<void> append(std::string_view data) override {
    c_.bytes.fetch_add(data.size(), std::memory_order_relaxed);
    return f_->append(data);
  }
  leasekv::result<void> sync() override {
    if (log_) c_.log_syncs.fetch_add(1, std::memory_order_relaxed);
    return f_->sync();
  }
  leasekv::result<void> truncate(std::uint64_t size) override { return f_->truncate(size); }
  std::uint64_t size() const override { return f_->size(); }

 private:
  std::unique_ptr<leasekv::writable_file> f_;
  shared_counters& c_;
  const bool log_;
};

class counting_env final : public leasekv::env {
 public:
  explicit counting_env(shared_counters& c) : base_(leasekv::env::posix()), c_(c) {}
  leasekv::result<std::string> read_file(const std::string& p) override { return base_->read_file(p); }
  leasekv::result<std::string> read_file_from(const std::string& p, std::uint64_t o) override {
    return base_->read_file_from(p, o);
  }
  leasekv::result<std::unique_ptr<leasekv::writable_file>> open_append(const std::string& p) override {
    BOOST_OUTCOME_TRY(f, base_->open_append(p));
    return std::unique_ptr<leasekv::writable_file>(new counting_file(std::move(f), c_, p.find("/wal-") != std::string::npos));
  }
  leasekv::result<void> rename(const std::string& a, const std::string& b) override { return base_->rename(a, b); }
  leasekv::result<void> remove(const std::string& p) override { return base_->remove(p); }
  leasekv::result<void> create_dir(const std::string& p) override { return base_->create_dir(p); }
  leasekv::result<void> sync_dir(const std::string& p) override { return base_->sync_dir(p); }
  leasekv::result<std::vector<std::string>> list(const std::string& d) override { return base_->list(d); }
  bool exists(const std::string& p) override { return base_->exists(p); }
  leasekv::result<std::unique_ptr<leasekv::file_lock>> lock(const std::string& p, std::chrono::milliseconds t,
                                                            std::string* holder) override {
    return base_->lock(p, t, holder);
  }

 private:
  std::shared_ptr<leasekv::env> base_;
  shared_counters& c_;
};

class leasekv_engine final : public engine {
 public:
  leasekv_engine(const std::string& path, leasekv::sync_policy policy) {
    leasekv::options o;
    o.data_dir = path;
    o.sync = policy;
    o.env = std::make_shared<counting_env>(c_);
    auto s = leasekv::store::open(std::move(o));
    if (!s) die("leasekv open: " + s.error().message());
    store_ = std::move(s).value();
  }
  void put(std::string_view key, std::string_view value) override {
    if (auto r = store_->put(key, value); !r) die("leasekv put: " + r.error().message());
  }
  io_counters counters() const override { return c_.get(); }

 private:
  shared_counters c_;  // before store_: the store's env counts into it until the store is gone
  std::unique_ptr<leasekv::store> store_;
};

// ---- RocksDB: a FileSystem counting around the default one ----

class counting_rocks_file final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  counting_rocks_file(std::unique_ptr<rocksdb::FSWritableFile>&& f, shared_counters& c, bool log)
      : FSWritableFileOwnerWrapper(std::move(f)), c_(c), log_(log) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    c_.bytes.fetch_add(data.size(), std::memory_order_relaxed);
    return target()->Append(data, o, d);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* d) override {
    c_.bytes.fetch_add(data.size(), std::memory_order_relaxed);
    return target()->Append(data, o, v, d);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t off, const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* d) override {
    c_.bytes.fetch_add(data.size(), std::memory_order_relaxed);
    return target()->PositionedAppend(data, off, o, d);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (log_) c_.log_syncs.fetch_add(1, std::memory_order_relaxed);
    return target()->Sync(o, d);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (log_) c_.log_syncs.fetch_add(1, std::memory_order_relaxed);
    return target()->Fsync(o, d);
  }

 private:
  shared_counters& c_;
  const bool log_;
};

class counting_fs final : public rocksdb::FileSystemWrapper {
 public:
  explicit counting_fs(shared_counters& c) : FileSystemWrapper(rocksdb::FileSystem::Default()), c_(c) {}
  const char* Name() const override { return "counting_fs"; }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override {
    auto s = target()->NewWritableFile(f, o, r, d);
    if (s.ok()) *r = std::make_unique<counting_rocks_file>(std::move(*r), c_, is_log(f));
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override {
    auto s = target()->ReopenWritableFile(f, o, r, d);
    if (s.ok()) *r = std::make_unique<counting_rocks_file>(std::move(*r), c_, is_log(f));
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override {
    auto s = target()->ReuseWritableFile(f, old, o, r, d);
    if (s.ok()) *r = std::make_unique<counting_rocks_file>(std::move(*r), c_, is_log(f));
    return s;
  }

 private:
  shared_counters& c_;
};

class rocksdb_engine final : public engine {
 public:
  explicit rocksdb_engine(const std::string& path) {
    env_ = rocksdb::NewCompositeEnv(std::make_shared<counting_fs>(c_));
    rocksdb::Options o;
    o.create_if_missing = true;
    o.env = env_.get();
    rocksdb::DB* db = nullptr;
    auto s = rocksdb::DB::Open(o, path, &db);
    if (!s.ok()) die("rocksdb open: " + s.ToString());
    db_.reset(db);
    wo_.sync = true;  // the WAL is on by default (disableWAL = false)
  }
  ~rocksdb_engine() override {
    if (db_) (void)db_->Close();
  }
  void put(std::string_view key, std::string_view value) override {
    auto s = db_->Put(wo_, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
    if (!s.ok()) die("rocksdb put: " + s.ToString());
  }
  io_counters counters() const override { return c_.get(); }

 private:
  shared_counters c_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;  // after env_: closed before it
  rocksdb::WriteOptions wo_;
};

// ---- the bound: append and fdatasync, nothing else ----

class raw_engine final : public engine {
 public:
  explicit raw_engine(const std::string& path) {
    std::filesystem::create_directories(path);
    fd_ = ::open((path + "/raw.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd_ < 0) die("raw open: " + path);
  }
  ~raw_engine() override { ::close(fd_); }
  void put(std::string_view key, std::string_view value) override {
    char rec[100] = {};
    std::snprintf(rec, sizeof rec, "%.*s", static_cast<int>(key.size()), key.data());
    (void)value;
    if (::write(fd_, rec, sizeof rec) != static_cast<ssize_t>(sizeof rec) || ::fdatasync(fd_) != 0) die("raw write");
    c_.bytes.fetch_add(sizeof rec, std::memory_order_relaxed);
    c_.log_syncs.fetch_add(1, std::memory_order_relaxed);
  }
  io_counters counters() const override { return c_.get(); }

 private:
  int fd_ = -1;
  shared_counters c_;
};

}  // namespace

std::unique_ptr<engine> make_engine(const std::string& name, const std::string& path) {
  if (name == "group_commit") return std::make_unique<leasekv_engine>(path, leasekv::sync_policy::group_commit);
  if (name == "per_write") return std::make_unique<leasekv_engine>(path, leasekv::sync_policy::per_write);
  if (name == "rocksdb") return std::make_unique<rocksdb_engine>(path);
  if (name == "raw") return std::make_unique<raw_engine>(path);
  return nullptr;
}

}  // namespace durable_bench
