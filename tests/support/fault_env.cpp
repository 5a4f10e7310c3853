#include "support/fault_env.hpp"

#include <algorithm>

namespace leasekv::testing {

namespace {

boost::system::error_code sys(boost::system::errc::errc_t e) { return boost::system::errc::make_error_code(e); }

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

class fault_file final : public writable_file {
 public:
  fault_file(std::shared_ptr<fault_env> env, std::string path) : env_(std::move(env)), path_(std::move(path)) {}

  result<void> append(std::string_view data) override {
    std::lock_guard lock(env_->mu_);
    BOOST_OUTCOME_TRYV(env_->tick());
    auto& f = env_->files_[path_];
    if (env_->space_ != UINT64_MAX) {
      std::uint64_t total = 0;
      for (const auto& [p, other] : env_->files_) total += other.data.size();
      if (total + data.size() > env_->space_) {
        // A disk that fills up mid-write keeps part of it.
        const auto room = env_->space_ > total ? env_->space_ - total : 0;
        f.data.append(data.substr(0, static_cast<std::size_t>(room)));
        return sys(boost::system::errc::no_space_on_device);
      }
    }
    f.data.append(data);
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> sync() override {
    std::lock_guard lock(env_->mu_);
    BOOST_OUTCOME_TRYV(env_->tick());
    auto& f = env_->files_[path_];
    f.synced = f.data.size();
    // A synced file's contents survive even if its name was never synced in the directory: fsync of the
    // file makes its data durable; the name is what sync_dir adds.
    if (auto it = env_->durable_names_.find(path_); it != env_->durable_names_.end()) it->second = f;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> truncate(std::uint64_t size) override {
    std::lock_guard lock(env_->mu_);
    BOOST_OUTCOME_TRYV(env_->tick());
    auto& f = env_->files_[path_];
    f.data.resize(static_cast<std::size_t>(size));
    f.synced = std::min<std::size_t>(f.synced, f.data.size());
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  std::uint64_t size() const override {
    std::lock_guard lock(env_->mu_);
    return env_->files_[path_].data.size();
  }

 private:
  std::shared_ptr<fault_env> env_;
  std::string path_;
};

result<void> fault_env::tick() {
  ++ops_;
  if (ops_ >= crash_at_) down_ = true;
  if (down_) return sys(boost::system::errc::io_error);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<std::string> fault_env::read_file(const std::string& path) {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return sys(boost::system::errc::no_such_file_or_directory);
  return it->second.data;
}

result<std::unique_ptr<writable_file>> fault_env::open_append(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    BOOST_OUTCOME_TRYV(tick());
    files_.try_emplace(path);
  }
  return std::unique_ptr<writable_file>(new fault_file(shared_from_this(), path));
}

result<void> fault_env::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  BOOST_OUTCOME_TRYV(tick());
  auto it = files_.find(from);
  if (it == files_.end()) return sys(boost::system::errc::no_such_file_or_directory);
  files_[to] = it->second;
  files_.erase(it);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> fault_env::remove(const std::string& path) {
  std::lock_guard lock(mu_);
  BOOST_OUTCOME_TRYV(tick());
  files_.erase(path);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> fault_env::create_dir(const std::string&) {
  std::lock_guard lock(mu_);
  return tick();
}

result<void> fault_env::sync_dir(const std::string& dir) {
  std::lock_guard lock(mu_);
  BOOST_OUTCOME_TRYV(tick());
  // The directory's names become durable, each with the file's synced contents.
  std::erase_if(durable_names_, [&](const auto& e) { return dir_of(e.first) == dir; });
  for (const auto& [path, f] : files_) {
    if (dir_of(path) == dir) {
      file durable = f;
      durable.data.resize(f.synced);
      durable_names_[path] = durable;
    }
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<std::vector<std::string>> fault_env::list(const std::string& dir) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [path, f] : files_) {
    if (dir_of(path) == dir) out.push_back(path.substr(dir.size() + 1));
  }
  return out;
}

bool fault_env::exists(const std::string& path) {
  std::lock_guard lock(mu_);
  if (files_.count(path) != 0) return true;
  const std::string prefix = path + "/";
  return std::any_of(files_.begin(), files_.end(), [&](const auto& e) { return e.first.rfind(prefix, 0) == 0; });
}

namespace {
class fault_lock final : public file_lock {
 public:
  fault_lock(std::shared_ptr<fault_env> env, std::set<std::string>& locks, std::mutex& mu, std::string path)
      : env_(std::move(env)), locks_(locks), mu_(mu), path_(std::move(path)) {}
  ~fault_lock() override {
    std::lock_guard lock(mu_);
    locks_.erase(path_);
  }

 private:
  std::shared_ptr<fault_env> env_;  // keeps the sets alive
  std::set<std::string>& locks_;
  std::mutex& mu_;
  std::string path_;
};
}  // namespace

result<std::unique_ptr<file_lock>> fault_env::lock(const std::string& path, std::chrono::milliseconds, std::string* holder) {
  std::lock_guard lock(mu_);
  if (!locks_.insert(path).second) {
    if (holder != nullptr) *holder = "this test process";
    return errc::locked;
  }
  files_.try_emplace(path);
  return std::unique_ptr<file_lock>(new fault_lock(shared_from_this(), locks_, mu_, path));
}

void fault_env::crash(bool tear) {
  std::lock_guard lock(mu_);
  std::map<std::string, file> after;
  for (const auto& [path, durable] : durable_names_) {
    file f = durable;
    // The name survived; its data is what was synced, plus maybe part of the rest.
    if (auto live = files_.find(path); live != files_.end()) {
      f.data = live->second.data.substr(0, std::min(live->second.synced, live->second.data.size()));
      if (tear && live->second.data.size() > f.data.size()) {
        const std::size_t extra = live->second.data.size() - f.data.size();
        f.data.append(live->second.data.substr(f.data.size(), rng_() % (extra + 1)));
      }
    }
    f.synced = f.data.size();
    after[path] = f;
  }
  files_ = std::move(after);
  durable_names_ = files_;
  locks_.clear();
  down_ = false;
  crash_at_ = UINT64_MAX;
}

std::shared_ptr<fault_env> fault_env::clone() {
  std::lock_guard lock(mu_);
  auto copy = std::make_shared<fault_env>();
  copy->files_ = files_;
  copy->durable_names_ = durable_names_;
  return copy;
}

std::uint64_t fault_env::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& [p, f] : files_) n += f.data.size();
  return n;
}

}  // namespace leasekv::testing
