#include "remote/backends.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

namespace leasekv::testing {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::unique_ptr<etcd_process> etcd_process::start(std::string dir) {
  std::unique_ptr<etcd_process> p(new etcd_process());
  if (dir.empty()) {
    // tmpfs when there is one: etcd syncs every write.
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string tmpl = std::string(base) + "/leasekv-etcd-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    p->own_dir_ = true;
  }
  p->dir_ = dir;
  p->client_port_ = free_port();
  p->peer_port_ = free_port();
  p->spawn();
  return p;
}

void etcd_process::spawn() {
  const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {"etcd", "--name", "default", "--data-dir", dir_ + "/etcd",
                                   "--listen-client-urls", client, "--advertise-client-urls", client,
                                   "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                   "--initial-cluster", "default=" + peer};
  std::vector<char*> argv;  // built before fork: the child only execs
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int log_fd = ::open((dir_ + "/etcd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(log_fd >= 0);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execvp("etcd", argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  // Ready once it answers a read.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    remote_options o;
    o.endpoints = {client};
    o.dial_timeout = std::chrono::milliseconds(200);
    o.call_timeout = std::chrono::milliseconds(500);
    if (auto s = connect(o); s && s.value()->get("probe")) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ifstream log(dir_ + "/etcd.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  FAIL("etcd did not start; its log:\n" << text.substr(text.size() > 3000 ? text.size() - 3000 : 0));
}

void etcd_process::signal(int sig) const { ::kill(pid_, sig); }

void etcd_process::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

void etcd_process::restart() {
  stop();
  spawn();
}

etcd_process::~etcd_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (own_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

served_store serve(options o, const std::string& listen) {
  served_store out;
  if (!o.clock) {
    out.clk = std::make_shared<manual_clock>();
    o.clock = out.clk;
  }
  const auto id = derive_identity({"http://localhost:2380"}, "etcd-cluster");
  o.cluster_id = id.cluster_id;
  o.member_id = id.member_id;
  out.backend = store::open(std::move(o)).value();
  out.srv = server::start(out.backend, {.listen = {listen}}).value();
  const std::string a = out.srv->addresses().at(0);
  out.endpoint = a.rfind("unix:", 0) == 0 ? a : "http://" + a;
  return out;
}

std::unique_ptr<store> connect_to(const std::string& endpoint, std::chrono::milliseconds call_timeout) {
  remote_options o;
  o.endpoints = {endpoint};
  o.call_timeout = call_timeout;
  return connect(o).value();
}

opened_store open_on_leasekv_server(options o) {
  auto served = std::make_shared<served_store>(serve(std::move(o)));
  opened_store out;
  out.clk = served->clk;
  out.s = connect_to(served->endpoint);
  out.keep = served;
  return out;
}

opened_store open_on_etcd(options) {
  std::shared_ptr<etcd_process> etcd = etcd_process::start();
  opened_store out;
  out.s = connect_to(etcd->endpoint());
  out.keep = etcd;
  return out;
}

}  // namespace leasekv::testing
