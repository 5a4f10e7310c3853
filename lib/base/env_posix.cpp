// The POSIX env: the only file in leasekv that calls the operating system's file API.
#include "leasekv/env.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

namespace leasekv {
namespace {

boost::system::error_code last_errno() { return {errno, boost::system::system_category()}; }

class posix_file final : public writable_file {
 public:
  posix_file(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  ~posix_file() override { ::close(fd_); }

  result<void> append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_errno();
      }
      size_ += static_cast<std::uint64_t>(n);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> sync() override {
    if (::fdatasync(fd_) != 0) return last_errno();
    // A file whose last name was removed syncs fine, but nothing written to it can be found again: say
    // so, or a deleted log would go on acknowledging writes.
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return last_errno();
    if (st.st_nlink == 0) return boost::system::errc::make_error_code(boost::system::errc::no_such_file_or_directory);
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return last_errno();
    size_ = size;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  std::uint64_t size() const override { return size_; }

 private:
  int fd_;
  std::uint64_t size_;
};

class posix_lock final : public file_lock {
 public:
  explicit posix_lock(int fd) : fd_(fd) {}
  ~posix_lock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class posix_env final : public env {
 public:
  result<std::string> read_file(const std::string& path) override { return read_file_from(path, 0); }

  result<std::string> read_file_from(const std::string& path, std::uint64_t offset) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return last_errno();
    std::string out;
    char buf[1 << 16];
    auto at = static_cast<off_t>(offset);
    for (;;) {
      const ssize_t n = ::pread(fd, buf, sizeof buf, at);
      if (n < 0) {
        if (errno == EINTR) continue;
        const auto ec = last_errno();
        ::close(fd);
        return ec;
      }
      if (n == 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      at += n;
    }
    ::close(fd);
    return out;
  }

  result<std::unique_ptr<writable_file>> open_append(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return last_errno();
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const auto ec = last_errno();
      ::close(fd);
      return ec;
    }
    return std::unique_ptr<writable_file>(new posix_file(fd, static_cast<std::uint64_t>(st.st_size)));
  }

  result<void> rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return last_errno();
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> remove(const std::string& path) override {
    if (::unlink(path.c_str()) == 0 || errno == ENOENT) return BOOST_OUTCOME_V2_NAMESPACE::success();
    if (errno != EISDIR) return last_errno();
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return last_errno();
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> create_dir(const std::string& path) override {
    // Each missing parent first, as mkdir -p (and etcd's data directory) does.
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      if (::mkdir(path.substr(0, slash).c_str(), 0755) != 0 && errno != EEXIST) return last_errno();
    }
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return last_errno();
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> sync_dir(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return last_errno();
    const int rc = ::fsync(fd);
    const auto ec = last_errno();
    ::close(fd);
    if (rc != 0) return ec;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return last_errno();
    std::vector<std::string> out;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    ::closedir(d);
    return out;
  }
  bool exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }

  result<std::unique_ptr<file_lock>> lock(const std::string& path, std::chrono::milliseconds timeout,
                                          std::string* holder) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return last_errno();
    // Polls: flock has no timed wait. The timeout is counted in polling intervals (no clock is read
    // here: clock.cpp is the only reader of a real clock), so under load the wait can run a little long.
    constexpr auto interval = std::chrono::milliseconds(5);
    for (auto waited = std::chrono::milliseconds(0); ::flock(fd, LOCK_EX | LOCK_NB) != 0; waited += interval) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        const auto ec = last_errno();
        ::close(fd);
        return ec;
      }
      if (waited >= timeout) {
        if (holder != nullptr) {
          char buf[64] = {};
          const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
          *holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("unknown");
          while (!holder->empty() && (holder->back() == '\n' || holder->back() == ' ')) holder->pop_back();
        }
        ::close(fd);
        return errc::locked;
      }
      std::this_thread::sleep_for(interval);
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      const auto ec = last_errno();
      ::close(fd);
      return ec;
    }
    return std::unique_ptr<file_lock>(new posix_lock(fd));
  }
};

}  // namespace

std::shared_ptr<env> env::posix() {
  static const std::shared_ptr<env> instance = std::make_shared<posix_env>();
  return instance;
}

}  // namespace leasekv
