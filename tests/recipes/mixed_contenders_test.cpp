// leasekv::mutex and clientv3's concurrency.Mutex contend for one lock: the C++ side on the store that a
// leasekv::server in this process serves (port 0), the Go side a clientv3 program (go_contender) talking
// to that server. They take the lock in turn, C++ first, and never both at once: each holder claims a
// marker key that must be free and checks that the other side held the lock last. The Go program's path
// comes from LEASEKV_GO_CONTENDER (ctest builds it first, fixture recipes_go_contender).
#include <leasekv/leasekv.hpp>
#include <leasekv/server.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using namespace leasekv;

// The Go program, its stdout on a pipe; killed and reaped by the destructor if still running.
struct go_child {
  pid_t pid = -1;
  int out = -1;
  explicit go_child(const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out = fds[0];
    REQUIRE(rc == 0);
  }
  ~go_child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
  }
  go_child(const go_child&) = delete;
  go_child& operator=(const go_child&) = delete;
  std::string line() const {
    std::string s;
    char c;
    while (::read(out, &c, 1) == 1 && c != '\n') s += c;
    return s;
  }
  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

}  // namespace

TEST_CASE("recipes: a leasekv::mutex and a Go clientv3 Mutex take one lock in turn, never both at once",
          "[recipes][server]") {
  const char* program = std::getenv("LEASEKV_GO_CONTENDER");
  REQUIRE(program != nullptr);  // set by ctest (tests/CMakeLists.txt)
  std::shared_ptr<store> st = store::open({.min_lease_ttl = 2s}).value();
  auto srv = server::start(st, {.listen = {"127.0.0.1:0"}}).value();
  const std::string name = "/mixed";
  const std::string marker = name + "-holder", last = name + "-last";
  constexpr int rounds = 5;

  auto s = session::open(*st, {.ttl = 10s}).value();
  mutex m(*s, name);
  REQUIRE(m.lock());  // C++ first, before the Go side exists
  go_child go({program, srv->addresses().at(0), name, std::to_string(rounds)});
  REQUIRE(go.line() == "ready");
  for (int round = 1; round <= rounds; ++round) {
    if (round > 1) REQUIRE(m.lock());
    // Nobody else holds it, and after the first round the Go side held it last.
    auto claim = st->txn().when(compare::version(marker) == 0).then(op::put(marker, "cpp"), op::put(last, "cpp"));
    if (round > 1) claim.when(compare::value_of(last) == "go");
    REQUIRE(claim.commit().value().succeeded);
    // Hold on until the Go side waits: its round follows this one.
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (st->range(prefix(name + "/"), {.count_only = true}).value().count < 2) {
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(1ms);
    }
    auto release = st->txn().when(compare::value_of(marker) == "cpp").then(op::del(marker)).commit().value();
    REQUIRE(release.succeeded);
    REQUIRE(m.unlock());
    CHECK(go.line() == "locked " + std::to_string(round));
  }
  CHECK(go.wait() == 0);
  // The Go side held last; nothing is left under the lock's prefix.
  CHECK(st->get(last).value().kvs.at(0).value == "go");
  CHECK(st->range(prefix(name + "/"), {.count_only = true}).value().count == 0);
  srv->shutdown();
}
