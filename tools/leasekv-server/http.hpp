// A small HTTP/1.1 server (Boost.Beast) for leasekv-server's metrics listeners and plaintext client
// ports: GET and POST requests without bodies that matter, answered by one handler function. Not a
// general web server: it serves a test harness, a health probe and a Prometheus scraper.
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

// Where to listen. With http2_handoff set, the port is shared as etcd's client port is: a connection
// that opens with HTTP/2's preface ("PRI * HTTP/2.0...": a gRPC client) is handed to the start()'s
// handoff function with the bytes read so far; any other is served here as HTTP/1.
struct http_listener {
  std::string host;
  std::string port;
  bool http2_handoff = false;
};

// Takes over an accepted connection: the listening socket's fd, the connection's fd (the callee owns
// it), the bytes already read from it.
using handoff_function = std::function<void(int listener_fd, int fd, std::string already_read)>;

class http_server {
 public:
  // Listens on every listener (port "0": the OS picks one) and answers each request with `handler` (an
  // exception it throws becomes a 500), handing HTTP/2 connections of http2_handoff listeners to
  // `handoff`. Fails with invalid_argument naming the listener that cannot be bound.
  static leasekv::result<std::unique_ptr<http_server>> start(const std::vector<http_listener>& listeners,
                                                             http_handler handler, handoff_function handoff = {});

  virtual ~http_server() = default;
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // The bound addresses, in `listeners`' order, with the ports the OS picked: "127.0.0.1:41236",
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
