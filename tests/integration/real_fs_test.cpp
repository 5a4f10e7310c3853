// The data directory on a real file system, where the fault env cannot stand in: a tmpfs that really runs
// out of space in the middle of the store's automatic snapshots, and a log segment really unlinked under
// the writer (the POSIX env's sync must notice that the file has no name left).
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sched.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

using namespace leasekv;
namespace fs = std::filesystem;

namespace {

std::string temp_dir(const char* name) {
  auto p = fs::temp_directory_path() / (std::string("leasekv-") + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

// A small tmpfs mounted for the life of the object, unmounted (and its mount point removed) however the
// test ends. The mount is made in a mount namespace of this process's own when it can, so that not even
// a crash leaves it behind. REQUIRES: root (CAP_SYS_ADMIN).
class tmpfs_mount {
 public:
  tmpfs_mount(std::string dir, const char* size) : dir_(std::move(dir)) {
    // A namespace of our own, not propagating back: the mount vanishes with the process. Not possible
    // once threads run (they share the file system context); the guard's destructor is then the only net.
    if (::unshare(CLONE_NEWNS) == 0) (void)::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    fs::create_directories(dir_);
    const std::string opts = std::string("size=") + size;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      error_ = std::strerror(errno);
      fs::remove(dir_);
      return;
    }
    mounted_ = true;
  }
  ~tmpfs_mount() {
    if (mounted_ && ::umount2(dir_.c_str(), MNT_DETACH) != 0) std::perror(("umount " + dir_).c_str());
    std::error_code ec;
    fs::remove(dir_, ec);
  }
  tmpfs_mount(const tmpfs_mount&) = delete;
  tmpfs_mount& operator=(const tmpfs_mount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

std::uint64_t free_bytes(const std::string& dir) {
  struct statvfs st {};
  REQUIRE(::statvfs(dir.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

// Writes `path` until the file system has at most `leave` bytes free (it may stop short: ENOSPC).
void fill_leaving(const std::string& path, std::uint64_t leave) {
  const std::string dir = fs::path(path).parent_path().string();
  std::ofstream out(path, std::ios::binary);
  const std::string page(4096, 'f');
  while (free_bytes(dir) > leave && out.write(page.data(), static_cast<std::streamsize>(page.size()))) out.flush();
}

std::string value_of(int put, int key) {
  std::string v = "put " + std::to_string(put) + " key " + std::to_string(key) + " ";
  v.resize(900, 'v');
  return v;
}

}  // namespace

TEST_CASE("real file system: a tmpfs filling up during automatic snapshots loses no acknowledged put", "[process][storage]") {
  if (::geteuid() != 0) {
    WARN("skipped: mounting a tmpfs needs root (CI runs the suite as root)");
    return;
  }
  const std::string mnt = temp_dir("tmpfs");
  tmpfs_mount guard(mnt, "2m");
  INFO("mount -t tmpfs -o size=2m tmpfs " << mnt << ": " << guard.error());
  REQUIRE(guard.mounted());

  // Each round leaves a different amount of free space, so the disk fills at a different step of a
  // snapshot: writing the snapshot, creating the next segment's header, or appending an entry.
  // The rounds where a put was acknowledged after an automatic snapshot had failed (the store logs it):
  // the puts the old code lost.
  int rounds_acking_after_failed_snapshot = 0;
  for (std::uint64_t leave = 64 << 10; leave <= (152 << 10); leave += 4 << 10) {
    const std::string dir = mnt + "/db";
    const std::string filler = mnt + "/filler";
    fs::remove_all(dir);
    fs::remove(filler);
    fill_leaving(filler, leave);

    options o;
    o.data_dir = dir;
    o.tuning.snapshot_after_bytes = 48 << 10;
    std::ostringstream log;
    o.logger = std::make_shared<spdlog::logger>("real_fs", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
    bool acked_after_failed_snapshot = false;
    std::map<std::string, std::string> acked;  // key -> the value of its last acknowledged put
    int puts = 0;
    bool failed = false;
    {
      auto s = store::open(o);
      INFO("open with " << leave << " bytes free: " << (s ? std::string() : s.error().detail()));
      REQUIRE(s.has_value());
      auto& st = *s.value();
      while (!failed && puts < 4000) {
        const int k = puts % 20;
        const std::string key = "key" + std::to_string(k);
        const std::string value = value_of(puts, k);
        ++puts;
        if (auto r = st.put(key, value)) {
          acked[key] = value;
          acked_after_failed_snapshot = acked_after_failed_snapshot || log.str().find("snapshot failed") != std::string::npos;
        } else {
          failed = true;
          CHECK((r.error() == boost::system::errc::no_space_on_device || r.error() == errc::io_error));
        }
        if (!failed && puts % 8 == 0) failed = !st.compact(st.revision());
      }
      rounds_acking_after_failed_snapshot += acked_after_failed_snapshot ? 1 : 0;
    }
    INFO(leave << " bytes free; " << puts << " puts");
    REQUIRE(failed);  // the disk did fill up

    auto check_all = [&](const char* how, bool read_only) {
      options r = o;
      r.read_only = read_only;
      auto s = store::open(r);
      INFO(how << ": " << (s ? std::string() : s.error().detail()));
      REQUIRE(s.has_value());
      for (const auto& [key, value] : acked) {
        auto got = s.value()->get(key).value();
        INFO(how << ", " << key);
        REQUIRE(got.kvs.size() == 1);
        INFO("has \"" << got.kvs[0].value.substr(0, 20) << "...\", acknowledged \"" << value.substr(0, 20) << "...\"");
        CHECK((got.kvs[0].value == value));
      }
    };
    check_all("reopened read-only on the full disk", true);
    fs::remove(filler);
    check_all("reopened as the writer with space again", false);
    fs::remove_all(dir);
  }
  CHECK(rounds_acking_after_failed_snapshot > 0);
}

TEST_CASE("real file system: the active log segment unlinked under the writer fails the next put and the reopen", "[process][storage]") {
  const std::string dir = temp_dir("unlinked");
  struct removed_at_exit {
    std::string path;
    ~removed_at_exit() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{dir};
  options o;
  o.data_dir = dir;
  o.sync = sync_policy::per_write;
  std::vector<std::string> acked;
  {
    auto s = store::open(o).value();
    for (int i = 0; i < 5; ++i) {
      s->put("k" + std::to_string(i), "v").value();
      acked.push_back("k" + std::to_string(i));
    }
    const std::string wal = dir + "/wal-0000000000000001.log";
    REQUIRE(fs::remove(wal));
    auto r = s->put("after", "the unlink");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::io_error);
    CHECK(r.error().detail().find(wal) == 0);
    CHECK(s->put("later", "too").error() == errc::io_error);  // poisoned
  }
  // The reopen never takes the missing log for an empty one: it names the segment, or it has every put.
  auto s = store::open(o);
  if (s) {
    CHECK(s.value()->revision() > 1);
    for (const auto& k : acked) CHECK(s.value()->get(k).value().kvs.size() == 1);
  } else {
    CHECK(s.error() == errc::corrupt);
    CHECK(s.error().detail().find("wal-0000000000000001.log: missing") == 0);
  }
}
