// What leasekv-server answers on its metrics listeners (--listen-metrics-urls):
//
//   GET  /health                    etcd's: 200 {"health":"true"}; 503 {"health":"false"} while an alarm
//                                   not named in ?exclude= is raised or the store cannot be read
//   GET  /version                   etcd's: {"etcdserver":"3.4.23","etcdcluster":"3.4.0"}
//   GET  /metrics                   Prometheus text (leasekv::server::metrics, and the health counts)
//   GET  /leasekv/clock             with --manual-clock: {"now_ns":...,"now_ms":...}
//   POST /leasekv/clock/advance?by=30s
//                                   with --manual-clock: moves time forward by a Go duration ("1m30s",
//                                   "250ms"); leases that became due expire before the answer (the
//                                   clock's new time, as GET /leasekv/clock answers)
//
// Thread safety: handle() runs on the HTTP server's one thread (http.hpp), so clock advances never
// overlap, as manual_clock requires.
#pragma once

#include "http.hpp"

#include <leasekv/clock.hpp>
#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace leasekv_server {

class endpoints {
 public:
  // `clock` may be null (a real clock: no /leasekv/clock). The server and store must outlive *this.
  endpoints(leasekv::server& srv, leasekv::store& store, std::shared_ptr<leasekv::manual_clock> clock)
      : srv_(srv), store_(store), clock_(std::move(clock)) {}

  http_reply handle(const http_request& r);

 private:
  http_reply health(const http_request& r);
  http_reply clock_now() const;

  leasekv::server& srv_;
  leasekv::store& store_;
  const std::shared_ptr<leasekv::manual_clock> clock_;
  std::atomic<std::uint64_t> health_success_{0}, health_failures_{0};
};

// A Go duration (time.ParseDuration): decimal numbers, each with an optional fraction and a unit (ns,
// us, µs, ms, s, m, h), an optional leading sign; "0" alone. nullopt if malformed or out of range.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view s);

}  // namespace leasekv_server
