#include "endpoints.hpp"

#include <fmt/core.h>

#include <cmath>
#include <utility>

namespace leasekv_server {
namespace {

http_reply method_not_allowed(const char* allowed) {
  return {405, "text/plain; charset=utf-8", "Method Not Allowed\n", {{"Allow", allowed}}};
}

http_reply not_found(std::string body = "404 page not found\n") {
  return {404, "text/plain; charset=utf-8", std::move(body), {}};
}

http_reply bad_request(const std::string& why) { return {400, "text/plain; charset=utf-8", why + "\n", {}}; }

}  // namespace

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return std::nullopt;
  long double total = 0;
  while (!s.empty()) {
    long double value = 0;
    std::size_t digits = 0;
    while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
      value = value * 10 + (s[0] - '0');
      s.remove_prefix(1);
      ++digits;
    }
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      long double scale = 0.1L;
      while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
        value += (s[0] - '0') * scale;
        scale /= 10;
        s.remove_prefix(1);
        ++digits;
      }
    }
    if (digits == 0) return std::nullopt;
    static constexpr std::pair<std::string_view, long double> units[] = {
        {"ns", 1.0L}, {"us", 1e3L}, {"\xc2\xb5s", 1e3L}, {"\xce\xbcs", 1e3L}, {"ms", 1e6L},
        {"s", 1e9L},  {"m", 60e9L}, {"h", 3600e9L}};
    // The longest unit that matches ("ms" before "m").
    std::size_t best = 0;
    long double per = 0;
    for (const auto& [name, ns] : units) {
      if (s.substr(0, name.size()) == name && name.size() > best) {
        best = name.size();
        per = ns;
      }
    }
    if (best == 0) return std::nullopt;
    s.remove_prefix(best);
    total += value * per;
    if (total > 9223372036854775807.0L) return std::nullopt;
  }
  const auto ns = static_cast<std::int64_t>(std::llround(total));
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

http_reply endpoints::handle(const http_request& r) {
  if (r.path == "/health") return health(r);
  if (r.path == "/version") {
    if (r.method != "GET") return method_not_allowed("GET");
    return {200, "application/json", R"({"etcdserver":"3.4.23","etcdcluster":"3.4.0"})", {}};
  }
  if (r.path == "/metrics") {
    if (r.method != "GET") return method_not_allowed("GET");
    std::string text = srv_.metrics();
    text += "# HELP etcd_server_health_failures Failed /health checks.\n# TYPE etcd_server_health_failures counter\n";
    text += fmt::format("etcd_server_health_failures {}\n", health_failures_.load(std::memory_order_relaxed));
    text += "# HELP etcd_server_health_success Successful /health checks.\n# TYPE etcd_server_health_success counter\n";
    text += fmt::format("etcd_server_health_success {}\n", health_success_.load(std::memory_order_relaxed));
    return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(text), {}};
  }
  if (r.path == "/leasekv/clock" || r.path == "/leasekv/clock/advance") {
    if (!clock_) return not_found("leasekv-server: the clock is the real one (start with --manual-clock to move it)\n");
    if (r.path == "/leasekv/clock") {
      if (r.method != "GET") return method_not_allowed("GET");
      return clock_now();
    }
    if (r.method != "POST") return method_not_allowed("POST");
    const auto by = r.query.find("by");
    if (by == r.query.end()) return bad_request("leasekv-server: say how far to advance: ?by=30s");
    const auto d = parse_go_duration(by->second);
    if (!d) return bad_request("leasekv-server: invalid duration " + by->second + " (e.g. 30s, 1m30s, 250ms)");
    if (d->count() < 0) return bad_request("leasekv-server: time only moves forward, got " + by->second);
    // Every lease that became due expires (its keys deleted, watchers notified) before this returns.
    clock_->advance(*d);
    return clock_now();
  }
  return not_found();
}

http_reply endpoints::health(const http_request& r) {
  if (r.method != "GET") return method_not_allowed("GET");
  bool ok = true;
  for (const auto& alarm : srv_.active_alarms()) {
    bool excluded = false;
    for (auto [it, end] = r.query.equal_range("exclude"); it != end; ++it) excluded = excluded || it->second == alarm;
    if (!excluded) ok = false;
  }
  // etcd also reads through raft: here, a read the store must answer.
  if (ok && !store_.time_to_live(leasekv::no_lease)) ok = false;
  (ok ? health_success_ : health_failures_).fetch_add(1, std::memory_order_relaxed);
  if (ok) return {200, "text/plain; charset=utf-8", R"({"health":"true"})", {}};
  return {503, "text/plain; charset=utf-8", "{\"health\":\"false\"}\n", {}};
}

http_reply endpoints::clock_now() const {
  const auto ns = clock_->now().time_since_epoch().count();
  return {200, "application/json", fmt::format(R"({{"now_ns":{},"now_ms":{}}})", ns, ns / 1000000), {}};
}

}  // namespace leasekv_server
