// leasekv-server: etcd's flags in, a leasekv store served over etcd v3's gRPC API out. Start-up only;
// the server is the leasekv::server library.
//
// Prints etcd's start-up lines on stderr (capnslog format, or zap's JSON with --logger zap), among them
//   ... N | embed: serving insecure client requests on 127.0.0.1:41235, this is strongly discouraged!
//   ... I | embed: serving client requests on 127.0.0.1:41236          (an https:// URL)
//   ... I | embed: listening for metrics on http://127.0.0.1:41237    (--listen-metrics-urls)
// with the ports the OS picked for port-0 URLs, so a test never races for a port. A plaintext TCP client
// port also answers HTTP/1 (/health, /version, /metrics), as etcd's does. SIGINT or SIGTERM stops it
// (exit 0).
#include "endpoints.hpp"
#include "flags.hpp"
#include "http.hpp"
#include "log.hpp"
#include "raft_term.hpp"

#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include <fmt/core.h>

#include <chrono>
#include <csignal>
#include <exception>
#include <memory>
#include <pthread.h>

namespace {

std::string host_port(const std::string& address) {
  return address.rfind("unix:", 0) == 0 ? address.substr(5) : address;
}

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// A PEM file's contents, or a message naming the flag and the file.
std::optional<std::string> read_pem(const char* flag, const std::string& path, std::string& out) {
  auto r = leasekv::env::posix()->read_file(path);
  if (!r) return fmt::format("{} {}: {}", flag, path, r.error().what());
  out = std::move(r).value();
  return std::nullopt;
}

int fail(const std::string& what) {
  fmt::print(stderr, "leasekv-server: {}\n", what);
  return 1;
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
  const auto log_out = leasekv_server::logger::make(f.logger, f.log_level).value();  // parse() checked both
  using level = leasekv_server::log_level;

  leasekv::server_options so;
  so.name = f.name;
  so.peer_urls = leasekv_server::member_peer_urls(f);
  so.client_urls = f.advertise_client_urls;
  so.max_receive_message_bytes = static_cast<int>(f.max_request_bytes + 512 * 1024);
  so.max_concurrent_streams = f.max_concurrent_streams;
  // Plaintext TCP client ports are shared as etcd's are: leasekv-server accepts there, answers HTTP/1
  // itself (the metrics listener's requests) and hands HTTP/2 connections to the gRPC server.
  std::vector<leasekv_server::http_listener> http_at;
  for (const auto& url : f.listen_client_urls) {
    const auto a = leasekv_server::grpc_address(url).value();  // parse() checked every URL
    if (auto hp = leasekv_server::http_host_port(url); hp && !a.tls) {
      http_at.push_back({hp->first, hp->second, true});
      so.handed_connections = true;
    } else {
      (a.tls ? so.tls_listen : so.listen).push_back(a.address);
    }
    if (!a.tls && f.client_cert_auth) {
      log_out.print(level::warning,
                fmt::format("embed: {} is plain HTTP, so --client-cert-auth does not apply to it", url),
                "scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL",
                {{"client-url", url}});
    }
  }
  if (!so.tls_listen.empty()) {
    if (auto e = read_pem("--cert-file", f.cert_file, so.tls.cert_chain_pem)) return fail(*e);
    if (auto e = read_pem("--key-file", f.key_file, so.tls.private_key_pem)) return fail(*e);
    if (f.client_cert_auth) {
      if (auto e = read_pem("--trusted-ca-file", f.trusted_ca_file, so.tls.client_ca_pem)) return fail(*e);
      so.tls.client_cert_auth = true;
    }
  }

  // Signals go to the thread that waits for them, not to gRPC's, the store's or the HTTP server's.
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
  // Writers waiting together share one fdatasync; each is still on disk before its call returns.
  o.sync = leasekv::sync_policy::group_commit;
  o.max_request_bytes = f.max_request_bytes;
  o.max_txn_ops = f.max_txn_ops;
  // etcd: 0 means its 2 GiB default, negative no quota.
  o.quota_bytes = f.quota_backend_bytes == 0 ? (2ull << 30)
                  : f.quota_backend_bytes < 0 ? 0
                                              : static_cast<std::uint64_t>(f.quota_backend_bytes);
  o.min_lease_ttl = std::chrono::milliseconds(f.min_lease_ttl_ms);
  std::shared_ptr<leasekv::manual_clock> manual;
  if (f.manual_clock) {
    // Wall-clock time starts now, so deadlines written to a data directory stay meaningful.
    manual = std::make_shared<leasekv::manual_clock>(std::chrono::system_clock::now());
    o.clock = manual;
  }
  const auto env = leasekv::env::posix();
  if (!f.data_dir.empty()) {
    auto term = leasekv_server::next_raft_term(*env, f.data_dir);
    if (!term) return fail(term.error().what());
    o.raft_term = term.value();
  }
  auto opened = leasekv::store::open(o);
  if (!opened) return fail("cannot open the store: " + opened.error().what());
  std::shared_ptr<leasekv::store> store(std::move(opened).value());
  if (!f.data_dir.empty()) {
    // Now that the store holds the directory's lock: this start counts.
    if (auto saved = leasekv_server::save_raft_term(*env, f.data_dir, o.raft_term); !saved) {
      return fail("cannot record the raft term: " + saved.error().what());
    }
  }
  // A durable write waits for its sync: run writes on threads of the server's own, enough of them that
  // many wait at once and share a sync, rather than on gRPC's few callback threads.
  if (!f.data_dir.empty()) so.write_threads = 32;
  auto started = leasekv::server::start(store, so);
  if (!started) return fail(started.error().what());
  auto srv = std::move(started).value();

  // One HTTP server for the shared client ports, then the metrics URLs.
  const std::size_t client_http = http_at.size();
  for (const auto& u : f.listen_metrics_urls) {
    auto hp = leasekv_server::http_host_port(u).value();
    http_at.push_back({hp.first, hp.second, false});
  }
  auto routes = std::make_unique<leasekv_server::endpoints>(*srv, *store, manual);
  std::unique_ptr<leasekv_server::http_server> http;
  if (!http_at.empty()) {
    auto started_http = leasekv_server::http_server::start(
        http_at, [&r = *routes](const leasekv_server::http_request& req) { return r.handle(req); },
        [&s = *srv](int listener, int fd, std::string already_read) { s.serve_connection(listener, fd, already_read); });
    if (!started_http) return fail(started_http.error().what());
    http = std::move(started_http).value();
  }
  const auto http_bound = http ? http->addresses() : std::vector<std::string>{};

  // etcd's lines, in etcd's order.
  const auto ids = srv->identity();
  const std::string published = fmt::format("{{Name:{} ClientURLs:[{}]}}", so.name, joined(so.client_urls, " "));
  log_out.print(level::info, fmt::format("etcdserver: published {} to cluster {:x}", published, ids.cluster_id),
            "published local member to cluster through raft",
            {{"local-member-id", fmt::format("{:x}", ids.member_id)},
             {"local-member-attributes", published},
             {"cluster-id", fmt::format("{:x}", ids.cluster_id)}});
  log_out.print(level::info, "embed: ready to serve client requests", "");  // capnslog only, as etcd 3.4
  log_out.print(level::info, "etcdserver/api: enabled capabilities for version 3.4", "enabled capabilities for version",
            {{"cluster-version", "3.4"}});
  // The client URLs' bound addresses, plaintext before TLS, as etcd prints them.
  std::vector<std::string> bound(http_bound.begin(), http_bound.begin() + static_cast<std::ptrdiff_t>(client_http));
  const std::size_t plaintext = client_http + so.listen.size();
  for (const auto& a : srv->addresses()) bound.push_back(a);
  for (std::size_t i = 0; i < bound.size(); ++i) {
    const auto a = host_port(bound[i]);
    if (i < plaintext) {
      log_out.print(level::notice, fmt::format("embed: serving insecure client requests on {}, this is strongly discouraged!", a),
                "serving client traffic insecurely; this is strongly discouraged!", {{"address", a}});
    } else {
      log_out.print(level::info, fmt::format("embed: serving client requests on {}", a), "serving client traffic securely",
                {{"address", a}});
    }
  }
  for (std::size_t i = client_http; i < http_bound.size(); ++i) {
    const std::string url = "http://" + http_bound[i];
    log_out.print(level::info, "embed: listening for metrics on " + url, "serving metrics", {{"address", url}});
  }

  int sig = 0;
  sigwait(&signals, &sig);
  log_out.print(level::notice, fmt::format("osutil: received {} signal, shutting down...", sig == SIGINT ? "interrupt" : "terminated"),
            "received signal; shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  if (http) http->stop();
  srv->shutdown();
  http.reset();
  routes.reset();
  srv.reset();
  store->close();
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "leasekv-server: {}\n", e.what());
  return 1;
}
