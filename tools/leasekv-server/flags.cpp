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
    "log-outputs", "heartbeat-interval", "election-timeout", "enable-v2", "snapshot-count",
    "grpc-keepalive-min-time", "grpc-keepalive-interval", "grpc-keepalive-timeout",
    "experimental-watch-progress-notify-interval", "max-snapshots", "max-wals", "enable-pprof", "metrics",
    "strict-reconfig-check", "debug", "log-package-levels", "peer-cert-file", "peer-key-file",
    "peer-trusted-ca-file", "peer-client-cert-auth", "peer-auto-tls", "cipher-suites", "cors"};

// Flags that take no argument: "--flag" means true, "--flag=false" false (Go's flag package).
const std::set<std::string> booleans = {"enable-v2", "enable-pprof", "debug", "strict-reconfig-check",
                                        "client-cert-auth", "peer-client-cert-auth", "peer-auto-tls",
                                        "manual-clock"};

// Go's strconv.ParseBool.
std::optional<bool> to_bool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") return false;
  return std::nullopt;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

const char* usage =
    "usage: leasekv-server [flags]\n"
    "  --name NAME                       member name (default \"default\")\n"
    "  --data-dir DIR                    keep the store in DIR (default: in memory)\n"
    "  --listen-client-urls URLS         http://host:port[,...], https://host:port or unix://path;\n"
    "                                    port 0: the OS picks (default http://localhost:2379)\n"
    "  --advertise-client-urls URLS      shown by MemberList (default http://localhost:2379)\n"
    "  --initial-advertise-peer-urls U   with --initial-cluster(-token): the member and cluster ids\n"
    "  --initial-cluster NAME=URL,...    --initial-cluster-token TOKEN\n"
    "  --max-request-bytes N  --max-txn-ops N  --quota-backend-bytes N\n"
    "  --max-concurrent-streams N        streams per client connection (default: unbounded)\n"
    "  --cert-file F --key-file F        the server's TLS certificate and key, for https:// URLs\n"
    "  --trusted-ca-file F --client-cert-auth\n"
    "                                    require client certificates signed by this CA\n"
    "  --listen-metrics-urls URLS        http://host:port[,...]: GET /health, /version, /metrics\n"
    "  --logger capnslog|zap  --log-level debug|info|warn|error\n"
    "leasekv's own:\n"
    "  --min-lease-ttl-ms N              TTL floor (default 2000, etcd's 2 s)\n"
    "  --manual-clock                    time stands still until told: POST /leasekv/clock/advance?by=30s\n"
    "                                    on a metrics or http:// client URL advances it (leases expire\n"
    "                                    in that call); GET /leasekv/clock reads it\n"
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
    } else if (booleans.count(a) != 0) {
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
      {"max-concurrent-streams", [&](const std::string& v) -> std::optional<std::string> {
         std::int64_t n = 0;
         if (!to_int(v, n) || n <= 0 || n > 0xffffffffLL) return "invalid --max-concurrent-streams " + v;
         // etcd's default, 2^32-1, is gRPC's: unbounded.
         out.max_concurrent_streams = n == 0xffffffffLL ? 0 : static_cast<std::uint32_t>(n);
         return std::nullopt;
       }},
      {"cert-file", [&](const std::string& v) -> std::optional<std::string> { out.cert_file = v; return std::nullopt; }},
      {"key-file", [&](const std::string& v) -> std::optional<std::string> { out.key_file = v; return std::nullopt; }},
      {"trusted-ca-file", [&](const std::string& v) -> std::optional<std::string> {
         out.trusted_ca_file = v;
         return std::nullopt;
       }},
      {"client-cert-auth", [&](const std::string& v) -> std::optional<std::string> {
         auto b = to_bool(v);
         if (!b) return "invalid --client-cert-auth " + v;
         out.client_cert_auth = *b;
         return std::nullopt;
       }},
      {"manual-clock", [&](const std::string& v) -> std::optional<std::string> {
         auto b = to_bool(v);
         if (!b) return "invalid --manual-clock " + v;
         out.manual_clock = *b;
         return std::nullopt;
       }},
      {"listen-metrics-urls", [&](const std::string& v) -> std::optional<std::string> {
         out.listen_metrics_urls = split(v, ',');
         for (const auto& u : out.listen_metrics_urls) {
           if (!http_host_port(u)) return "cannot serve metrics on " + u + " (http://host:port only)";
         }
         return std::nullopt;
       }},
      {"logger", [&](const std::string& v) -> std::optional<std::string> { out.logger = v; return std::nullopt; }},
      {"log-level", [&](const std::string& v) -> std::optional<std::string> { out.log_level = v; return std::nullopt; }},
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
  for (const auto& url : out.listen_client_urls) {
    auto a = grpc_address(url);
    if (!a) return "cannot serve " + url + " (http://, https://, unix:// and unixs:// only)";
    if (a->tls && (out.cert_file.empty() || out.key_file.empty())) {
      return "the https URL " + url + " needs --cert-file and --key-file";
    }
  }
  if (out.client_cert_auth && out.trusted_ca_file.empty()) {
    return std::string("--client-cert-auth needs --trusted-ca-file (the CA client certificates are checked against)");
  }
  if (out.logger != "capnslog" && out.logger != "zap") return "invalid --logger " + out.logger + " (capnslog or zap)";
  if (out.log_level != "debug" && out.log_level != "info" && out.log_level != "warn" && out.log_level != "error" &&
      out.log_level != "panic" && out.log_level != "fatal") {
    return "invalid --log-level " + out.log_level + " (debug, info, warn, error, panic or fatal)";
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

std::optional<listen_address> grpc_address(const std::string& url) {
  for (const bool tls : {false, true}) {
    const std::string http = tls ? "https://" : "http://";
    const std::string local = tls ? "unixs://" : "unix://";
    if (starts_with(url, http.c_str())) {
      std::string hostport = url.substr(http.size());
      if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
      if (hostport.empty()) return std::nullopt;
      return listen_address{hostport, tls};
    }
    if (starts_with(url, local.c_str()) && url.size() > local.size()) return listen_address{"unix:" + url.substr(local.size()), tls};
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> http_host_port(const std::string& url) {
  if (!starts_with(url, "http://")) return std::nullopt;
  std::string hostport = url.substr(7);
  if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hostport.size()) return std::nullopt;
  std::string host = hostport.substr(0, colon);
  const std::string port = hostport.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5) return std::nullopt;
  if (host.front() == '[') {
    if (host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, port);
}

}  // namespace leasekv_server
