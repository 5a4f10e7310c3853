// watch: follows the data directory as a reader beside whoever writes it, so other commands keep
// working; a lease that passes its deadline while no writer is around is expired by briefly taking the
// writer's role.
#include "printer.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <deque>
#include <iostream>
#include <sstream>
#include <mutex>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace leasekvctl {
namespace {

using namespace std::chrono_literals;

// Where execvp would find `name`: itself if it names a path, else the first executable file of that name
// on $PATH; empty if there is none (Go's exec.LookPath, which etcdctl's exec mode uses).
std::string look_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = end > start ? dirs.substr(start, end - start) : ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return {};
}

// A system error as Go prints it (strerror, first letter lower-cased).
std::string go_errno_text(int err) {
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// A signal's name as Go's os/exec prints it ("signal: killed").
std::string go_signal_name(int sig) {
  switch (sig) {
    case SIGHUP: return "hangup";
    case SIGINT: return "interrupt";
    case SIGQUIT: return "quit";
    case SIGILL: return "illegal instruction";
    case SIGABRT: return "aborted";
    case SIGBUS: return "bus error";
    case SIGFPE: return "floating point exception";
    case SIGKILL: return "killed";
    case SIGUSR1: return "user defined signal 1";
    case SIGSEGV: return "segmentation fault";
    case SIGUSR2: return "user defined signal 2";
    case SIGPIPE: return "broken pipe";
    case SIGALRM: return "alarm clock";
    case SIGTERM: return "terminated";
    default: return "signal " + std::to_string(sig);
  }
}

// Runs `cmd` once for an event with etcdctl's ETCD_WATCH_* variables, its output going to ours. Returns
// what etcdctl prints when the command fails ("command [...] error (exit status 3)"), empty if it
// succeeded.
std::string exec_for(const std::vector<std::string>& cmd, std::int64_t rev, const leasekv::watch_event& e) {
  std::string quoted = "[";
  for (std::size_t i = 0; i < cmd.size(); ++i) quoted += (i > 0 ? " " : "") + go_quote(cmd[i]);
  quoted += "]";
  auto failure = [&](const std::string& why) { return "command " + quoted + " error (" + why + ")"; };
  const std::string path = look_path(cmd[0]);
  if (path.empty()) return failure("exec: " + go_quote(cmd[0]) + ": executable file not found in $PATH");

  // The child reports a failed exec through a close-on-exec pipe: the write end closes unread on success.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return failure("pipe: " + go_errno_text(errno));
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(report[0]);
    ::setenv("ETCD_WATCH_REVISION", std::to_string(rev).c_str(), 1);
    ::setenv("ETCD_WATCH_EVENT_TYPE", e.type == leasekv::watch_event::kind::put ? "\"PUT\"" : "\"DELETE\"", 1);
    ::setenv("ETCD_WATCH_KEY", go_quote(e.kv.key).c_str(), 1);
    ::setenv("ETCD_WATCH_VALUE", go_quote(e.kv.value).c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    const int err = errno;
    [[maybe_unused]] const auto n = ::write(report[1], &err, sizeof err);
    std::_Exit(127);
  }
  ::close(report[1]);
  if (pid < 0) {
    const int err = errno;
    ::close(report[0]);
    return failure("fork/exec " + path + ": " + go_errno_text(err));
  }
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(report[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof exec_errno)) return failure("fork/exec " + path + ": " + go_errno_text(exec_errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) return failure("exit status " + std::to_string(WEXITSTATUS(status)));
  if (WIFSIGNALED(status)) return failure(std::string("signal: ") + go_signal_name(WTERMSIG(status)));
  return {};
}

// True if some lease of the replica is past its deadline: a writer should revoke it.
// The reason etcdctl prints for a cancelled watch: the Go client turns a cancel for compaction into
// its "etcdserver: mvcc: ..." error, and prints any other reason as the server sent it.
std::string cancel_text(const boost::system::error_code& ec) {
  return ec == leasekv::errc::compacted ? error_text(ec) : ec.message();
}

bool lease_due(leasekv::store& s) {
  const auto list = s.leases();
  if (!list || list.value().leases.empty()) return false;
  const auto ttl = s.time_to_live(list.value().leases.front().id);
  return ttl && ttl.value().granted_ttl != 0 && ttl.value().remaining <= 0ms;
}

}  // namespace

namespace {

struct watch_request {
  leasekv::key_range range;
  leasekv::watch_options opts;
};

// A watch's arguments (the command line's, or an interactive "watch ..." line's).
watch_request watch_request_of(const args& a, std::vector<std::string> pos) {
  if (pos.empty() || pos.size() > 2) throw cli_error(exit_bad_args, "bad number of arguments");
  if (pos.size() == 2 && a.has("prefix")) throw cli_error(exit_bad_args, "`range_end` and `--prefix` are mutually exclusive");
  watch_request w;
  w.range = a.has("prefix") ? leasekv::prefix(pos[0]) : leasekv::key_range(pos[0]);
  if (pos.size() == 2) w.range.range_end = pos[1];
  w.opts.prev_kv = a.has("prev-kv");
  try {
    if (auto v = a.value("rev")) w.opts.start_revision = parse_int(*v, 10);
  } catch (const std::exception& e) {
    throw cli_error(exit_bad_args, std::string("invalid argument: ") + e.what());
  }
  return w;
}

const flag_spec watch_flags{{{"prefix", false}, {"rev", true}, {"prev-kv", false}}, {}};

// Reads stdin lines for watch -i on its own thread.
struct line_reader {
  std::mutex mu;
  std::deque<std::string> lines;
  bool eof = false;
  std::thread thread{[this] {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::lock_guard lock(mu);
      lines.push_back(line);
    }
    std::lock_guard lock(mu);
    eof = true;
  }};
  ~line_reader() { thread.detach(); }  // it may be blocked on a terminal; the process is ending
};

}  // namespace

int cmd_watch(context& c) {
  args& a = c.a;
  const bool interactive = a.has("interactive");
  std::vector<std::string> pos = a.positional;
  std::vector<std::string> exec = a.after_dash;
  if (const char* k = std::getenv("ETCDCTL_WATCH_KEY"); k != nullptr && pos.empty()) pos.push_back(k);
  if (const char* e = std::getenv("ETCDCTL_WATCH_RANGE_END"); e != nullptr && pos.size() == 1) pos.push_back(e);
  std::vector<watch_request> initial;
  if (!interactive) initial.push_back(watch_request_of(a, pos));
  refuse_unsupported_format(c);
  install_signal_handlers();

  // Make sure the directory exists (a fresh one is created by a writer), then follow it as a reader.
  open_store(c, access::read).reset();
  leasekv::options ro;
  ro.data_dir = c.data_dir;
  ro.min_lease_ttl = std::chrono::seconds(2);
  ro.read_only = true;
  auto s = leasekv::store::open(ro);
  if (!s) throw cli_error(exit_error, error_text(s.error()));
  auto store = std::move(s).value();

  boost::asio::io_context ioc;
  std::mutex mu;
  std::deque<leasekv::watch_response> pending;
  std::vector<std::unique_ptr<leasekv::watcher>> watchers;
  auto add = [&](const watch_request& w) {
    auto r = store->watch(w.range, w.opts, ioc.get_executor(), [&](const leasekv::watch_response& resp) {
      std::lock_guard lock(mu);
      pending.push_back(resp);
    });
    if (!r) {
      std::fprintf(stderr, "watch was canceled (%s)\n", cancel_text(r.error()).c_str());
      throw cli_error(exit_interrupted, "watch is canceled by the server");
    }
    watchers.push_back(std::move(r).value());
  };
  for (const auto& w : initial) add(w);
  std::unique_ptr<line_reader> input;
  if (interactive) input = std::make_unique<line_reader>();

  // Events carry prev_kv only when their watch asked for it.
  auto p = make_printer(c, {.hex = c.hex, .prev_kv = true});
  while (!interrupted()) {
    ioc.restart();
    ioc.poll();
    std::deque<leasekv::watch_response> ready;
    {
      std::lock_guard lock(mu);
      ready.swap(pending);
    }
    for (const auto& r : ready) {
      if (r.canceled) {
        if (c.out == format::json) p->watch(r);
        std::fprintf(stderr, "watch was canceled (%s)\n", cancel_text(r.cancel_reason).c_str());
        throw cli_error(exit_interrupted, "watch is canceled by the server");
      }
      if (r.is_progress_notify()) {
        out_line("progress notify: " + std::to_string(r.header.revision));
        if (c.out == format::json) p->watch(r);
        continue;
      }
      // Exec mode prints the response as without a command, then runs the command once per event.
      p->watch(r);
      if (!exec.empty()) {
        for (const auto& e : r.events) {
          if (const auto failed = exec_for(exec, r.header.revision, e); !failed.empty()) {
            std::fprintf(stderr, "%s\n", failed.c_str());
            return exit_error;
          }
        }
      }
    }
    if (input) {
      std::deque<std::string> lines;
      bool eof = false;
      {
        std::lock_guard lock(input->mu);
        lines.swap(input->lines);
        eof = input->eof;
      }
      for (const auto& raw : lines) {
        std::vector<std::string> words;
        std::istringstream in(raw);
        for (std::string w; in >> w;) words.push_back(w);
        if (words.empty()) continue;
        if (words[0] == "progress") {
          if (!watchers.empty()) watchers.front()->request_progress();
          continue;
        }
        if (words[0] != "watch") {
          std::fprintf(stderr, "Invalid command %s (only support watch)\n", raw.c_str());
          continue;
        }
        std::vector<std::string> storage(words.begin(), words.end());
        std::vector<char*> argv{const_cast<char*>("watch")};
        for (auto& w : storage) argv.push_back(w.data());
        try {
          const args wa = parse(static_cast<int>(argv.size()), argv.data(), 2, watch_flags);
          if (wa.positional.empty()) throw cli_error(exit_bad_args, "");
          add(watch_request_of(wa, wa.positional));
        } catch (const cli_error&) {
          std::fprintf(stderr, "Invalid command %s (command type or key is not provided)\n", raw.c_str());
        }
      }
      if (eof && lines.empty()) {
        // Deliver what arrived, then end as etcdctl does when its input ends.
        ioc.restart();
        ioc.poll();
        throw cli_error(exit_invalid_input, "Error reading watch request line: EOF");
      }
    }
    std::this_thread::sleep_for(20ms);
    if (lease_due(*store)) open_store(c, access::read).reset();  // a writer's open revokes what is due
    auto refreshed = store->refresh();
    if (!refreshed && refreshed.error() == leasekv::errc::stale) {
      throw cli_error(exit_interrupted, "watch fell behind the writer's log; start it again with --rev");
    }
  }
  return exit_success;
}

}  // namespace leasekvctl
