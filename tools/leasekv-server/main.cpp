// leasekv-server: etcd's flags in, a leasekv store served over etcd v3's gRPC API out. Start-up only;
// the server is the leasekv::server library.
//
// Prints etcd's start-up lines on stderr (capnslog format), among them
//   ... N | embed: serving insecure client requests on 127.0.0.1:41235, this is strongly discouraged!
// with the port the OS picked for a port-0 URL, so a test never races for a port. SIGINT or SIGTERM
// stops it (exit 0).
#include "flags.hpp"

#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include <fmt/core.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <exception>
#include <memory>
#include <pthread.h>

namespace {

// capnslog's line prefix: "2026-12-07 12:08:44.637981 I | ".
void log_line(char level, const std::string& text) {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  fmt::print(stderr, "{}.{:06d} {} | {}\n", buf, us, level, text);
  std::fflush(stderr);
}

std::string host_port(const std::string& address) {
  return address.rfind("unix:", 0) == 0 ? address.substr(5) : address;
}

}  // namespace

int main(int argc, char** argv) try {
  leasekv_server::flags f;
  if (auto err = leasekv_server::parse(argc, argv, f)) {
    fmt::print(stderr, "leasekv-server: {}\n{}", *err, leasekv_server::usage);
    return 2;
  }
  if (f.help) {
    fmt::print("{}", leasekv_server::usage);
    return 0;
  }
  leasekv::server_options so;
  so.name = f.name;
  so.peer_urls = leasekv_server::member_peer_urls(f);
  so.client_urls = f.advertise_client_urls;
  so.max_receive_message_bytes = static_cast<int>(f.max_request_bytes + 512 * 1024);
  for (const auto& url : f.listen_client_urls) {
    auto address = leasekv_server::grpc_address(url);
    if (!address) {
      fmt::print(stderr, "leasekv-server: cannot serve {} (http:// and unix:// only)\n", url);
      return 2;
    }
    so.listen.push_back(*address);
  }

  // Signals go to the thread that waits for them, not to gRPC's or the store's threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto id = leasekv::derive_identity(so.peer_urls, f.initial_cluster_token);
  leasekv::options o;
  o.cluster_id = id.cluster_id;
  o.member_id = id.member_id;
  o.data_dir = f.data_dir;
  o.max_request_bytes = f.max_request_bytes;
  o.max_txn_ops = f.max_txn_ops;
  // etcd: 0 means its 2 GiB default, negative no quota.
  o.quota_bytes = f.quota_backend_bytes == 0 ? (2ull << 30)
                  : f.quota_backend_bytes < 0 ? 0
                                              : static_cast<std::uint64_t>(f.quota_backend_bytes);
  o.min_lease_ttl = std::chrono::milliseconds(f.min_lease_ttl_ms);
  auto opened = leasekv::store::open(o);
  if (!opened) {
    fmt::print(stderr, "leasekv-server: cannot open the store: {}\n", opened.error().what());
    return 1;
  }
  std::shared_ptr<leasekv::store> store(std::move(opened).value());
  auto started = leasekv::server::start(store, so);
  if (!started) {
    fmt::print(stderr, "leasekv-server: {}\n", started.error().what());
    return 1;
  }
  auto srv = std::move(started).value();
  const auto ids = srv->identity();
  std::string client_urls;
  for (const auto& u : so.client_urls) client_urls += (client_urls.empty() ? "" : " ") + u;
  log_line('I', fmt::format("etcdserver: published {{Name:{} ClientURLs:[{}]}} to cluster {:x}", so.name, client_urls,
                            ids.cluster_id));
  log_line('I', "embed: ready to serve client requests");
  log_line('I', "etcdserver/api: enabled capabilities for version 3.4");
  for (const auto& a : srv->addresses()) {
    log_line('N', fmt::format("embed: serving insecure client requests on {}, this is strongly discouraged!", host_port(a)));
  }

  int sig = 0;
  sigwait(&signals, &sig);
  log_line('N', fmt::format("osutil: received {} signal, shutting down...", sig == SIGINT ? "interrupt" : "terminated"));
  srv->shutdown();
  srv.reset();
  store->close();
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "leasekv-server: {}\n", e.what());
  return 1;
}
