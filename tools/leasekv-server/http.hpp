// A small HTTP/1.1 server (Boost.Beast) for leasekv-server's metrics listeners: GET and POST requests
// without bodies that matter, answered by one handler function. Not a general web server: it serves a
// test harness, a health probe and a Prometheus scraper.
//
// Thread safety: the handler runs on the server's one thread, one request at a time, so handlers never
// overlap (POST /leasekv/clock/advance relies on that: manual_clock::advance calls may not overlap).
// addresses() and stop() may be called from any other thread; stop() is idempotent, and the destructor
// stops.
#pragma once

#include <leasekv/error.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace leasekv_server {

struct http_request {
  std::string method;                      // "GET"
  std::string path;                        // "/leasekv/clock/advance", without the query
  std::multimap<std::string, std::string> query;  // percent-decoded: ?by=30s -> {"by", "30s"}
};

struct http_reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // further headers (Allow, ...)
};

using http_handler = std::function<http_reply(const http_request&)>;

class http_server {
 public:
  // Listens on every (host, port) of `endpoints` (port "0": the OS picks one) and answers each request
  // with `handler` (an exception it throws becomes a 500). Fails with invalid_argument naming the
  // endpoint that cannot be bound.
  static leasekv::result<std::unique_ptr<http_server>> start(
      const std::vector<std::pair<std::string, std::string>>& endpoints, http_handler handler);

  virtual ~http_server() = default;
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // The bound addresses, in `endpoints`' order, with the ports the OS picked: "127.0.0.1:41236",
  // "[::1]:41237".
  virtual std::vector<std::string> addresses() const = 0;
  // Stops listening, drops open connections and waits for a handler in progress to return.
  virtual void stop() = 0;

 protected:
  http_server() = default;
};

// "a%2Fb+c" -> "a/b c".
std::string percent_decode(const std::string& s);

}  // namespace leasekv_server
