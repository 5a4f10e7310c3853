// leasekv-server's command line: etcd 3.4's flags (and their ETCD_* environment variables) that matter
// to a single in-process member; the rest of etcd's flags are accepted and ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace leasekv_server {

struct flags {
  std::string name = "default";
  std::string data_dir;  // empty: in memory
  std::vector<std::string> listen_client_urls = {"http://localhost:2379"};
  std::vector<std::string> advertise_client_urls = {"http://localhost:2379"};
  std::vector<std::string> initial_advertise_peer_urls = {"http://localhost:2380"};
  std::string initial_cluster;  // empty: name=initial_advertise_peer_urls
  std::string initial_cluster_token = "etcd-cluster";
  std::uint64_t max_request_bytes = 1572864;
  std::uint64_t max_txn_ops = 128;
  std::int64_t quota_backend_bytes = 0;  // 0: 2 GiB; negative: none
  std::int64_t min_lease_ttl_ms = 2000;  // leasekv's own: etcd's 2 s floor by default
  std::uint32_t max_concurrent_streams = 0;  // 0: unbounded (etcd's default, 2^32-1)
  // TLS for https:// client URLs.
  std::string cert_file, key_file, trusted_ca_file;
  bool client_cert_auth = false;
  std::vector<std::string> listen_metrics_urls;  // http://host:port: /health, /version, /metrics
  std::string logger = "capnslog";               // or zap
  std::string log_level = "info";
  bool manual_clock = false;  // leasekv's own: time moves only through POST /leasekv/clock/advance
  bool help = false;
};

// Parses argv (then ETCD_<FLAG> variables for flags not given). Returns an error message on failure.
std::optional<std::string> parse(int argc, char** argv, flags& out);

// This member's peer URLs: those --initial-cluster gives its name, else --initial-advertise-peer-urls.
std::vector<std::string> member_peer_urls(const flags& f);

// A client URL as a gRPC listen address: http://host:port -> host:port, unix://path -> unix:path;
// https:// and unixs:// the same, served with TLS. nullopt for any other scheme.
struct listen_address {
  std::string address;
  bool tls = false;
};
std::optional<listen_address> grpc_address(const std::string& url);

// A metrics URL as host and port: http://127.0.0.1:0 -> {"127.0.0.1", "0"}. nullopt for anything but
// http://host:port (an IPv6 host in brackets).
std::optional<std::pair<std::string, std::string>> http_host_port(const std::string& url);

extern const char* usage;

}  // namespace leasekv_server
