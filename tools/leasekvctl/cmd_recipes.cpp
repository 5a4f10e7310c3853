// lock and elect: clientv3's Mutex and Election as etcdctl 3.4 runs them, with its arguments, output,
// exec mode, exit codes and signal handling.
//
// Over a data directory other processes use too, a command cannot keep the store open as its writer
// while it waits or holds: every other command would wait for it. So each step opens the store for a
// moment, as `lease keep-alive` does: queue the key (clientv3's layout: <name>/<lease id in hex>, oldest
// create revision first), then every poll renew the session's lease when due and look whether any key
// created before ours remains. The keys and their order are exactly leasekv::mutex's and clientv3's, so
// this command, leasekv::mutex and election in other processes, and Go programs on leasekv-server all
// queue in one line.
#include "printer.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace leasekvctl {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr auto poll_interval = 20ms;

std::string key_for(const std::string& prefix, leasekv::lease_id lease) {
  char hex[24];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(lease));
  return prefix + hex;
}

leasekv::range_options first_created() {
  leasekv::range_options o;
  o.order = leasekv::sort_order::ascend;
  o.target = leasekv::sort_target::create;
  o.limit = 1;
  return o;
}

// A session's key in the queue of a lock or election, renewed while this process runs.
class queued_key {
 public:
  // Grants the session's lease and queues `value` under `prefix` (which ends in "/").
  queued_key(context& c, const std::string& prefix, std::chrono::seconds ttl, const std::string& value)
      : c_(c), prefix_(prefix) {
    auto s = open_store(c, access::write);
    auto g = s->grant(ttl);
    if (!g) throw cli_error(exit_error, error_text(g.error()));
    lease_ = g.value().id;
    renew_every_ = std::max<std::chrono::milliseconds>(g.value().granted / 3, 100ms);
    key_ = key_for(prefix, lease_);
    auto t = s->txn().when(leasekv::compare::create_revision(key_) == 0).then(leasekv::op::put(key_, value, {.lease = lease_})).commit();
    if (!t) throw cli_error(exit_error, error_text(t.error()));
    rev_ = t.value().header.revision;
    header_ = t.value().header;
    renewed_ = clock_type::now();
  }

  const std::string& key() const { return key_; }
  std::int64_t header_revision() const { return header_.revision; }

  // One poll: renews the lease if due; true once no key under the prefix was created before ours.
  // Throws `lost` if our key is gone (its lease ended).
  bool turn(const char* lost) {
    auto s = open_store(c_, access::write);
    renew(*s, lost);
    leasekv::range_options o;
    o.order = leasekv::sort_order::descend;
    o.target = leasekv::sort_target::create;
    o.limit = 1;
    o.max_create_revision = rev_ - 1;
    auto older = s->range(leasekv::prefix(prefix_), o);
    if (!older) throw cli_error(exit_error, error_text(older.error()));
    if (!older.value().kvs.empty()) return false;
    header_ = older.value().header;
    return true;
  }

  // Renews the lease if due (throwing cli_error(exit_error, lost) once it is gone).
  void keep_alive(const char* lost) {
    if (clock_type::now() - renewed_ < renew_every_) return;
    auto s = open_store(c_, access::write);
    renew(*s, lost);
  }

  // The key, as `get` prints it.
  leasekv::range_response read() {
    auto s = open_store(c_, access::read);
    auto r = s->get(key_);
    if (!r) throw cli_error(exit_error, error_text(r.error()));
    return std::move(r).value();
  }

  // Deletes the key if it is still the one queued (clientv3's Unlock deletes it unconditionally, Resign
  // only while it has our create revision; for a key named by our own lease they agree).
  void remove() {
    auto s = open_store(c_, access::write);
    auto t = s->txn().when(leasekv::compare::create_revision(key_) == rev_).then(leasekv::op::del(key_)).commit();
    if (!t) throw cli_error(exit_error, error_text(t.error()));
  }

 private:
  void renew(leasekv::store& s, const char* lost) {
    if (clock_type::now() - renewed_ >= renew_every_) {
      auto k = s.keep_alive_once(lease_);
      if (!k) throw cli_error(exit_error, lost);
      renewed_ = clock_type::now();
    }
    auto mine = s.get(key_);
    if (!mine) throw cli_error(exit_error, error_text(mine.error()));
    if (mine.value().kvs.empty() || mine.value().kvs.front().create_revision != rev_) throw cli_error(exit_error, lost);
  }

  context& c_;
  std::string prefix_;
  leasekv::lease_id lease_ = 0;
  std::string key_;
  std::int64_t rev_ = 0;
  leasekv::response_header header_;
  std::chrono::milliseconds renew_every_{};
  clock_type::time_point renewed_;
};

// Waits for our turn; on SIGINT/SIGTERM gives up the place and fails as etcdctl's cancelled context.
void wait_turn(queued_key& q, const char* lost) {
  while (!q.turn(lost)) {
    for (auto until = clock_type::now() + poll_interval; clock_type::now() < until && !interrupted();) {
      std::this_thread::sleep_for(5ms);
    }
    if (interrupted()) {
      q.remove();
      throw cli_error(exit_error, "context canceled");
    }
  }
}

// Holds until SIGINT/SIGTERM, renewing the lease; throws `lost` if it ends first.
void hold(queued_key& q, const char* lost) {
  while (!interrupted()) {
    q.keep_alive(lost);
    std::this_thread::sleep_for(poll_interval);
  }
}

// Runs the exec-mode command with ETCD_LOCK_KEY and ETCD_LOCK_REV, renewing the lease meanwhile, and
// returns etcdctl's error for its exit ("exit status N"), if any. Signals do not stop it (etcdctl waits
// for the command too).
std::optional<std::string> run_locked(queued_key& q, const std::vector<std::string>& cmd) {
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("ETCD_LOCK_KEY", q.key().c_str(), 1);
    ::setenv("ETCD_LOCK_REV", std::to_string(q.header_revision()).c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::_Exit(127);
  }
  if (pid < 0) return std::string("fork failed");
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    try {
      q.keep_alive("session expired");
    } catch (const cli_error&) {
      // As etcdctl: the command runs to its end whatever happens to the session.
    }
    std::this_thread::sleep_for(poll_interval);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return "exec: \"" + cmd[0] + "\": executable file not found in $PATH";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal: ") + ::strsignal(WTERMSIG(status));
  return std::nullopt;
}

}  // namespace

int cmd_lock(context& c) {
  std::vector<std::string> pos = c.a.positional;
  std::vector<std::string> exec(pos.size() > 1 ? pos.begin() + 1 : pos.end(), pos.end());
  if (pos.empty() && !c.a.after_dash.empty()) {
    pos.push_back(c.a.after_dash.front());
    exec.assign(c.a.after_dash.begin() + 1, c.a.after_dash.end());
  } else {
    exec.insert(exec.end(), c.a.after_dash.begin(), c.a.after_dash.end());
  }
  if (pos.empty()) throw cli_error(exit_bad_args, "lock takes a lock name argument and an optional command to execute");
  std::int64_t ttl = 10;
  if (auto t = c.a.value("ttl")) {
    try {
      ttl = parse_int(*t, 10);
    } catch (const std::exception& e) {
      throw cli_error(exit_bad_args, "invalid argument \"" + *t + "\" for \"--ttl\" flag: " + e.what());
    }
  }
  install_signal_handlers();
  queued_key q(c, pos[0] + "/", std::chrono::seconds(std::max<std::int64_t>(ttl, 1)), "");
  wait_turn(q, "session expired");
  if (!exec.empty()) {
    auto failed = run_locked(q, exec);
    q.remove();
    if (failed) throw cli_error(exit_error, *failed);
    return exit_success;
  }
  auto held = q.read();
  if (held.kvs.empty()) throw cli_error(exit_error, "lock lost on init");
  make_printer(c, {.hex = c.hex})->get(held);
  hold(q, "session expired");
  q.remove();
  return exit_success;
}

namespace {

// elect -l: prints the leader, then each change of its value and each new leader, until interrupted.
// Polls the store; a leader that came and went between two polls is not seen.
int observe(context& c, const std::string& prefix) {
  auto p = make_printer(c, {.hex = c.hex});
  std::string key;
  std::int64_t mod = 0;
  while (!interrupted()) {
    {
      auto s = open_store(c, access::read);
      auto r = s->range(leasekv::prefix(prefix), first_created());
      if (!r) throw cli_error(exit_error, "elect: observer lost");
      if (!r.value().kvs.empty()) {
        const auto& kv = r.value().kvs.front();
        if (kv.key != key || kv.mod_revision != mod) {
          key = kv.key;
          mod = kv.mod_revision;
          p->get(r.value());
        }
      }
    }
    for (auto until = clock_type::now() + poll_interval; clock_type::now() < until && !interrupted();) {
      std::this_thread::sleep_for(5ms);
    }
  }
  return exit_success;
}

}  // namespace

int cmd_elect(context& c) {
  const auto& pos = c.a.positional;
  const bool listen = c.a.has("listen");
  if (pos.size() != 1 && pos.size() != 2) {
    throw cli_error(exit_bad_args, "elect takes one election name argument and an optional proposal argument");
  }
  if (pos.size() == 1 && !listen) throw cli_error(exit_bad_args, "no proposal argument but -l not set");
  if (pos.size() == 2 && listen) throw cli_error(exit_bad_args, "proposal given but -l is set");
  install_signal_handlers();
  if (listen) return observe(c, pos[0] + "/");
  queued_key q(c, pos[0] + "/", std::chrono::seconds(60), pos[1]);  // clientv3's default session TTL
  wait_turn(q, "elect: session expired");
  make_printer(c, {.hex = c.hex})->get(q.read());
  hold(q, "elect: session expired");
  q.remove();  // resign
  return exit_success;
}

}  // namespace leasekvctl
