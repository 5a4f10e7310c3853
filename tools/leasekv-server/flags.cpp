#include "flags.hpp"

#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace leasekv_server {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool to_int(const std::string& s, std::int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  out = v;
  return true;
}

// etcd flags a drop-in must accept whose effect a single in-process member does not need (yet).
const std::set<std::string> ignored = {
    "listen-peer-urls", "initial-cluster-state", "auto-compaction-mode", "auto-compaction-retention",
    "logger", "log-level", "log-outputs", "listen-metrics-urls", "heartbeat-interval", "election-timeout",
    "enable-v2", "snapshot-count", "grpc-keepalive-min-time", "grpc-keepalive-interval",
    "grpc-keepalive-timeout", "experimental-watch-progress-notify-interval", "max-snapshots", "max-wals",
    "enable-pprof", "metrics", "strict-reconfig-check", "debug"};

}  // namespace

const char* usage =
    "usage: leasekv-server [flags]\n"
    "  --name NAME                       member name (default \"default\")\n"
    "  --data-dir DIR                    keep the store in DIR (default: in memory)\n"
    "  --listen-client-urls URLS         http://host:port[,...] or unix://path; port 0: the OS picks\n"
    "                                    (default http://localhost:2379)\n"
    "  --advertise-client-urls URLS      shown by MemberList (default http://localhost:2379)\n"
    "  --initial-advertise-peer-urls U   with --initial-cluster(-token): the member and cluster ids\n"
    "  --initial-cluster NAME=URL,...    --initial-cluster-token TOKEN\n"
    "  --max-request-bytes N  --max-txn-ops N  --quota-backend-bytes N\n"
    "  --min-lease-ttl-ms N              TTL floor (default 2000, etcd's 2 s)\n"
    "Other etcd flags are accepted and ignored. ETCD_<FLAG> variables are read for flags not given.\n";

std::optional<std::string> parse(int argc, char** argv, flags& out) {
  std::map<std::string, std::string> given;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      out.help = true;
      return std::nullopt;
    }
    if (a.rfind("--", 0) != 0 && a.rfind("-", 0) != 0) return "unexpected argument " + a;
    a = a.substr(a.rfind("--", 0) == 0 ? 2 : 1);
    std::string value;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a == "enable-v2" || a == "enable-pprof" || a == "debug" || a == "strict-reconfig-check") {
      value = "true";
    } else {
      if (i + 1 >= argc) return "flag needs an argument: --" + a;
      value = argv[++i];
    }
    given[a] = value;
  }
  // ETCD_<FLAG> for every flag not on the command line.
  auto lookup = [&](const std::string& flag) -> std::optional<std::string> {
    if (auto it = given.find(flag); it != given.end()) return it->second;
    std::string env = "ETCD_";
    for (char c : flag) env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (const char* v = std::getenv(env.c_str())) return std::string(v);
    return std::nullopt;
  };

  std::map<std::string, std::function<std::optional<std::string>(const std::string&)>> handlers = {
      {"name", [&](const std::string& v) -> std::optional<std::string> { out.name = v; return std::nullopt; }},
      {"data-dir", [&](const std::string& v) -> std::optional<std::string> { out.data_dir = v; return std::nullopt; }},
      {"listen-client-urls", [&](const std::string& v) -> std::optional<std::string> {
         out.listen_client_urls = split(v, ',');
         return std::nullopt;
       }},
      {"advertise-client-urls", [&](const std::string& v) -> std::optional<std::string> {
         out.advertise_client_urls = split(v, ',');
         return std::nullopt;
       }},
      {"initial-advertise-peer-urls", [&](const std::string& v) -> std::optional<std::string> {
         out.initial_advertise_peer_urls = split(v, ',');
         return std::nullopt;
       }},
      {"initial-cluster", [&](const std::string& v) -> std::optional<std::string> { out.initial_cluster = v; return std::nullopt; }},
      {"initial-cluster-token", [&](const std::string& v) -> std::optional<std::string> {
         out.initial_cluster_token = v;
         return std::nullopt;
       }},
      {"max-request-bytes", [&](const std::string& v) -> std::optional<std::string> {
         std::int64_t n = 0;
         if (!to_int(v, n) || n <= 0) return "invalid --max-request-bytes " + v;
         out.max_request_bytes = static_cast<std::uint64_t>(n);
         return std::nullopt;
       }},
      {"max-txn-ops", [&](const std::string& v) -> std::optional<std::string> {
         std::int64_t n = 0;
         if (!to_int(v, n) || n <= 0) return "invalid --max-txn-ops " + v;
         out.max_txn_ops = static_cast<std::uint64_t>(n);
         return std::nullopt;
       }},
      {"quota-backend-bytes", [&](const std::string& v) -> std::optional<std::string> {
         if (!to_int(v, out.quota_backend_bytes)) return "invalid --quota-backend-bytes " + v;
         return std::nullopt;
       }},
      {"min-lease-ttl-ms", [&](const std::string& v) -> std::optional<std::string> {
         if (!to_int(v, out.min_lease_ttl_ms) || out.min_lease_ttl_ms < 0) return "invalid --min-lease-ttl-ms " + v;
         return std::nullopt;
       }},
  };
  for (const auto& [flag, value] : given) {
    if (handlers.count(flag) == 0 && ignored.count(flag) == 0) return "unknown flag: --" + flag;
  }
  for (auto& [flag, handle] : handlers) {
    if (auto v = lookup(flag)) {
      if (auto err = handle(*v)) return err;
    }
  }
  // etcd: --advertise-client-urls is required once --listen-client-urls is set explicitly.
  if (lookup("listen-client-urls") && !lookup("advertise-client-urls")) {
    return std::string("--advertise-client-urls is required when --listen-client-urls is set explicitly");
  }
  return std::nullopt;
}

std::vector<std::string> member_peer_urls(const flags& f) {
  if (f.initial_cluster.empty()) return f.initial_advertise_peer_urls;
  std::vector<std::string> urls;
  for (const auto& entry : split(f.initial_cluster, ',')) {
    auto eq = entry.find('=');
    if (eq != std::string::npos && entry.substr(0, eq) == f.name) urls.push_back(entry.substr(eq + 1));
  }
  return urls.empty() ? f.initial_advertise_peer_urls : urls;
}

std::optional<std::string> grpc_address(const std::string& url) {
  if (url.rfind("http://", 0) == 0) {
    std::string hostport = url.substr(7);
    if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
    return hostport;
  }
  if (url.rfind("unix://", 0) == 0) return "unix:" + url.substr(7);
  return std::nullopt;
}

}  // namespace leasekv_server
