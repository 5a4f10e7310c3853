#include "support/fault_env.hpp"

#include <algorithm>

namespace leasekv::testing {

namespace {

boost::system::error_code sys(boost::system::errc::errc_t e) { return boost::system::errc::make_error_code(e); }

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

bool under(const std::string& path, const std::string& dir) {
  if (dir == "/") return path.size() > 1 && path[0] == '/';
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

}  // namespace

class fault_file final : public writable_file {
 public:
  fault_file(std::shared_ptr<fault_env> env, fault_env::node n, std::string path)
      : env_(std::move(env)), n_(std::move(n)), path_(std::move(path)) {}

  result<void> append(std::string_view data) override {
    std::lock_guard lock(env_->mu_);
    BOOST_OUTCOME_TRYV(env_->tick());
    if (!env_->fail_append_to_.empty() && path_.find(env_->fail_append_to_) != std::string::npos &&
        env_->fail_append_spared_-- <= 0) {
      return sys(env_->fail_append_with_);
    }
    if (env_->space_ != UINT64_MAX) {
      const std::uint64_t total = env_->total_locked();
      if (total + data.size() > env_->space_) {
        // A disk that fills up mid-write keeps part of it.
        const auto room = env_->space_ > total ? env_->space_ - total : 0;
        n_->data.append(data.substr(0, static_cast<std::size_t>(room)));
        return sys(boost::system::errc::no_space_on_device);
      }
    }
    n_->data.append(data);
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> sync() override {
    std::lock_guard lock(env_->mu_);
    BOOST_OUTCOME_TRYV(env_->tick());
    n_->synced = n_->data.size();
    // As the POSIX env: a file whose every name was removed is reported, since nothing written to it
    // can be found again.
    if (n_->links == 0) return sys(boost::system::errc::no_such_file_or_directory);
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  result<void> truncate(std::uint64_t size) override {
    std::lock_guard lock(env_->mu_);
    BOOST_OUTCOME_TRYV(env_->tick());
    n_->data.resize(static_cast<std::size_t>(size));
    n_->synced = std::min<std::size_t>(n_->synced, n_->data.size());
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  std::uint64_t size() const override {
    std::lock_guard lock(env_->mu_);
    return n_->data.size();
  }

 private:
  std::shared_ptr<fault_env> env_;
  fault_env::node n_;
  std::string path_;
};

result<void> fault_env::tick() {
  ++ops_;
  if (ops_ >= crash_at_) down_ = true;
  if (down_) return sys(boost::system::errc::io_error);
  if (ops_ == fail_at_) {
    fail_at_ = UINT64_MAX;
    return sys(fail_with_);
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> fault_env::writable() const {
  if (read_only_) return sys(boost::system::errc::read_only_file_system);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

std::uint64_t fault_env::total_locked() const {
  std::set<const inode*> seen;
  std::uint64_t n = 0;
  for (const auto& [p, f] : files_) {
    if (seen.insert(f.get()).second) n += f->data.size();
  }
  return n;
}

void fault_env::link(const std::string& path, node n) {
  if (auto it = files_.find(path); it != files_.end()) --it->second->links;
  ++n->links;
  files_[path] = n;
  pending_.push_back({{{{}, path, std::move(n)}}});
}

void fault_env::unlink(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return;
  --it->second->links;
  files_.erase(it);
  pending_.push_back({{{path, {}, nullptr}}});
}

result<std::string> fault_env::read_file(const std::string& path) {
  std::function<void(const std::string&)> hook;
  {
    std::lock_guard lock(mu_);
    if (read_hook_ && path.find(read_hook_part_) != std::string::npos) hook = read_hook_;
  }
  if (hook) hook(path);
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return sys(boost::system::errc::no_such_file_or_directory);
  return it->second->data;
}

result<std::unique_ptr<writable_file>> fault_env::open_append(const std::string& path) {
  node n;
  {
    std::lock_guard lock(mu_);
    BOOST_OUTCOME_TRYV(tick());
    BOOST_OUTCOME_TRYV(writable());
    auto it = files_.find(path);
    if (it != files_.end()) {
      n = it->second;
    } else {
      const std::string parent = dir_of(path);
      const bool parent_exists = parent.empty() || dirs_.count(parent) != 0 ||
                                 std::any_of(files_.begin(), files_.end(), [&](const auto& e) { return under(e.first, parent); });
      if (!parent_exists) return sys(boost::system::errc::no_such_file_or_directory);
      n = std::make_shared<inode>();
      link(path, n);
    }
  }
  return std::unique_ptr<writable_file>(new fault_file(shared_from_this(), n, path));
}

result<void> fault_env::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  BOOST_OUTCOME_TRYV(tick());
  BOOST_OUTCOME_TRYV(writable());
  if (auto it = files_.find(from); it != files_.end()) {
    node n = it->second;
    files_.erase(it);
    if (auto old = files_.find(to); old != files_.end()) --old->second->links;
    files_[to] = n;
    pending_.push_back({{{from, to, n}}});
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  // A directory: each of its files moves (the model keeps no directory inodes).
  std::vector<std::string> inside;
  for (const auto& [p, n] : files_) {
    if (under(p, from)) inside.push_back(p);
  }
  if (inside.empty() && dirs_.count(from) == 0) return sys(boost::system::errc::no_such_file_or_directory);
  if (std::any_of(files_.begin(), files_.end(), [&](const auto& e) { return under(e.first, to); })) {
    return sys(boost::system::errc::directory_not_empty);
  }
  dir_op op;
  for (const auto& p : inside) {
    node n = files_[p];
    const std::string q = to + p.substr(from.size());
    files_.erase(p);
    files_[q] = n;
    op.moves.push_back({p, q, n});
  }
  pending_.push_back(std::move(op));
  std::set<std::string> dirs;
  for (const auto& d : dirs_) dirs.insert(d == from || under(d, from) ? to + d.substr(from.size()) : d);
  dirs_ = std::move(dirs);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> fault_env::remove(const std::string& path) {
  std::lock_guard lock(mu_);
  BOOST_OUTCOME_TRYV(tick());
  BOOST_OUTCOME_TRYV(writable());
  if (files_.count(path) != 0) {
    unlink(path);
  } else if (dirs_.count(path) != 0) {
    if (std::any_of(files_.begin(), files_.end(), [&](const auto& e) { return under(e.first, path); })) {
      return sys(boost::system::errc::directory_not_empty);
    }
    dirs_.erase(path);
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> fault_env::create_dir(const std::string& path) {
  std::lock_guard lock(mu_);
  BOOST_OUTCOME_TRYV(tick());
  if (dirs_.count(path) != 0) return BOOST_OUTCOME_V2_NAMESPACE::success();
  BOOST_OUTCOME_TRYV(writable());
  for (std::string d = path; !d.empty(); d = dir_of(d)) dirs_.insert(d);
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<void> fault_env::sync_dir(const std::string& dir) {
  std::lock_guard lock(mu_);
  BOOST_OUTCOME_TRYV(tick());
  // The names under the directory become durable (its subdirectories' too: a model without directory
  // inodes cannot tell them apart), each with whatever its file has synced.
  std::erase_if(durable_, [&](const auto& e) { return under(e.first, dir); });
  for (const auto& [path, n] : files_) {
    if (under(path, dir)) durable_[path] = n;
  }
  std::erase_if(pending_, [&](const dir_op& op) {
    return std::all_of(op.moves.begin(), op.moves.end(), [&](const move& m) {
      return (m.from.empty() || under(m.from, dir)) && (m.to.empty() || under(m.to, dir));
    });
  });
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

result<std::vector<std::string>> fault_env::list(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (dirs_.count(dir) == 0 && std::none_of(files_.begin(), files_.end(), [&](const auto& e) { return under(e.first, dir); })) {
    return sys(boost::system::errc::no_such_file_or_directory);
  }
  std::vector<std::string> out;
  for (const auto& [path, f] : files_) {
    if (dir_of(path) == dir) out.push_back(path.substr(dir.size() + 1));
  }
  return out;
}

bool fault_env::exists(const std::string& path) {
  std::lock_guard lock(mu_);
  if (files_.count(path) != 0 || dirs_.count(path) != 0) return true;
  return std::any_of(files_.begin(), files_.end(), [&](const auto& e) { return under(e.first, path); });
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
  BOOST_OUTCOME_TRYV(writable());  // opened for writing, as the POSIX env does
  if (!locks_.insert(path).second) {
    if (holder != nullptr) *holder = "this test process";
    return errc::locked;
  }
  if (files_.count(path) == 0) link(path, std::make_shared<inode>());
  return std::unique_ptr<file_lock>(new fault_lock(shared_from_this(), locks_, mu_, path));
}

void fault_env::crash(bool tear) {
  std::lock_guard lock(mu_);
  crash_locked(tear, tear ? rng_() % (pending_.size() + 1) : 0);
}

void fault_env::crash_keeping(std::size_t dir_ops_kept) {
  std::lock_guard lock(mu_);
  crash_locked(false, dir_ops_kept);
}

std::size_t fault_env::pending_dir_ops() {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void fault_env::crash_locked(bool tear, std::size_t dir_ops_kept) {
  std::map<std::string, node> names = durable_;
  for (std::size_t i = 0; i < std::min(dir_ops_kept, pending_.size()); ++i) {
    for (const move& m : pending_[i].moves) names.erase(m.from);
    for (const move& m : pending_[i].moves) {
      if (!m.to.empty()) names[m.to] = m.n;
    }
  }
  // Each file keeps what was synced, plus maybe part of the rest; hard links keep sharing one file.
  std::map<const inode*, node> after;
  files_.clear();
  for (const auto& [path, n] : names) {
    auto& f = after[n.get()];
    if (!f) {
      f = std::make_shared<inode>();
      f->data = n->data.substr(0, std::min(n->synced, n->data.size()));
      if (tear && n->data.size() > f->data.size()) {
        const std::size_t extra = n->data.size() - f->data.size();
        f->data.append(n->data.substr(f->data.size(), rng_() % (extra + 1)));
      }
      f->synced = f->data.size();
    }
    ++f->links;
    files_[path] = f;
  }
  durable_ = files_;
  pending_.clear();
  locks_.clear();
  down_ = false;
  crash_at_ = UINT64_MAX;
  fail_at_ = UINT64_MAX;
}

std::shared_ptr<fault_env> fault_env::clone() {
  std::lock_guard lock(mu_);
  auto copy = std::make_shared<fault_env>();
  std::map<const inode*, node> copies;
  auto copy_of = [&](const node& n) -> node {
    if (!n) return nullptr;
    auto& c = copies[n.get()];
    if (!c) c = std::make_shared<inode>(*n);
    return c;
  };
  for (const auto& [p, n] : files_) copy->files_[p] = copy_of(n);
  for (const auto& [p, n] : durable_) copy->durable_[p] = copy_of(n);
  for (const auto& op : pending_) {
    dir_op c;
    for (const auto& m : op.moves) c.moves.push_back({m.from, m.to, copy_of(m.n)});
    copy->pending_.push_back(std::move(c));
  }
  copy->dirs_ = dirs_;
  return copy;
}

std::string& fault_env::contents(const std::string& path) {
  std::lock_guard lock(mu_);
  auto& n = files_[path];
  if (!n) {
    n = std::make_shared<inode>();
    n->links = 1;
    durable_[path] = n;
  }
  return n->data;
}

std::uint64_t fault_env::total_bytes() {
  std::lock_guard lock(mu_);
  return total_locked();
}

}  // namespace leasekv::testing
