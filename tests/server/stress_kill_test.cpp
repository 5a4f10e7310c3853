// leasekv::server in this process, its clients Go clientv3 programs (tests/server/stress_client) that
// are SIGKILLed with their watch and keep-alive streams busy and their puts in flight: the server lets
// go of every stream and store watcher and still answers. The Go program's path comes from
// LEASEKV_STRESS_CLIENT (ctest builds it first, as the fixture server_stress_client_build).
#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include "rpc.grpc.pb.h"

#include <catch2/catch.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A child process whose stdout we read; killed (SIGKILL) and reaped by the destructor if still running.
struct child {
  pid_t pid = -1;
  int out = -1;

  child(const std::string& program, const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid, program.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out = fds[0];
    REQUIRE(rc == 0);
  }
  ~child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  // The first line it prints (blocking; the Go program prints "ready" or exits with its error).
  std::string line() const {
    std::string s;
    char c;
    while (::read(out, &c, 1) == 1 && c != '\n') s += c;
    return s;
  }
  // SIGKILL and reap; returns the signal that ended it.
  int kill() {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
};

}  // namespace

TEST_CASE("server stress: Go clients SIGKILLed with busy watch and keep-alive streams leave nothing behind", "[server][stress]") {
  const char* program = std::getenv("LEASEKV_STRESS_CLIENT");
  REQUIRE(program != nullptr);  // set by ctest (tests/CMakeLists.txt)

  auto clock = std::make_shared<leasekv::manual_clock>();
  leasekv::options o{.clock = clock, .min_lease_ttl = std::chrono::seconds(2)};
  o.tuning.prefault_memory = false;
  std::shared_ptr<leasekv::store> store = leasekv::store::open(o).value();
  auto server = leasekv::server::start(store, {.listen = {"127.0.0.1:0"}}).value();
  const std::string addr = server->addresses().at(0);

  // Each process: two connections, each with a keep-alive stream and a watch stream of four watchers.
  constexpr std::size_t processes = 4;
  std::vector<std::unique_ptr<child>> clients;
  for (std::size_t i = 0; i < processes; ++i) {
    clients.push_back(std::make_unique<child>(program, std::vector<std::string>{addr, "p" + std::to_string(i)}));
  }
  for (auto& c : clients) REQUIRE(c->line() == "ready");
  REQUIRE(eventually([&] {
    const auto s = server->statistics();
    return s.watch_streams == 2 * processes && s.watchers == 8 * processes && s.keep_alive_streams == 2 * processes;
  }));
  // Their puts keep every watch stream busy; each process has put something by now.
  const auto busy = store->revision();
  REQUIRE(eventually([&] { return store->revision() > busy + 100; }));

  // Killed mid-stream: no goodbye on the wire, the kernel just closes their sockets.
  for (auto& c : clients) CHECK(c->kill() == SIGKILL);
  CHECK(eventually([&] {
    const auto s = server->statistics();
    return s.watch_streams == 0 && s.watchers == 0 && s.keep_alive_streams == 0 && s.queued_watch_bytes == 0;
  }));
  const auto s = server->statistics();
  CHECK(s.watch_streams == 0);
  CHECK(s.watchers == 0);
  CHECK(s.keep_alive_streams == 0);
  CHECK(s.queued_watch_bytes == 0);

  // The server still answers, and the store took no write after the kills.
  const auto after = store->revision();
  auto kv = etcdserverpb::KV::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  etcdserverpb::PutRequest put;
  put.set_key("after");
  put.set_value("kill");
  etcdserverpb::PutResponse resp;
  REQUIRE(kv->Put(&ctx, put, &resp).ok());
  CHECK(resp.header().revision() == after + 1);
  server->shutdown();
}
