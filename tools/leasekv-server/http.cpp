#include "http.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

namespace leasekv_server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A connection idle this long (no request arriving, an answer not taken) is closed.
constexpr auto idle_timeout = std::chrono::seconds(60);

int from_hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

http_request parse_target(std::string method, const std::string& target) {
  http_request r;
  r.method = std::move(method);
  const auto q = target.find('?');
  r.path = percent_decode(target.substr(0, q));
  if (q == std::string::npos) return r;
  std::string rest = target.substr(q + 1);
  std::size_t start = 0;
  while (start <= rest.size()) {
    auto amp = rest.find('&', start);
    if (amp == std::string::npos) amp = rest.size();
    const std::string pair = rest.substr(start, amp - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      r.query.emplace(percent_decode(pair.substr(0, eq)), eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1)));
    }
    start = amp + 1;
  }
  return r;
}

// One connection: read a request, answer it, again while the client keeps the connection.
class session : public std::enable_shared_from_this<session> {
 public:
  // `buf`: what was read from the connection already.
  session(beast::tcp_stream s, beast::flat_buffer buf, const http_handler& h)
      : stream_(std::move(s)), handler_(h), buf_(std::move(buf)) {}

  void read() {
    req_ = {};
    stream_.expires_after(idle_timeout);
    http::async_read(stream_, buf_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->answer();
    });
  }

 private:
  void answer() {
    http_reply reply;
    try {
      reply = handler_(parse_target(std::string(req_.method_string()), std::string(req_.target())));
    } catch (const std::exception& e) {
      reply = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n", {}};
    }
    res_ = {};
    res_.version(req_.version());
    res_.result(static_cast<unsigned>(reply.status));
    res_.set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers) res_.set(name, value);
    res_.body() = std::move(reply.body);
    res_.keep_alive(req_.keep_alive());
    res_.prepare_payload();
    stream_.expires_after(idle_timeout);
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || !self->res_.keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  const http_handler& handler_;  // the server's, which outlives its sessions
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

// The first bytes of a connection on a shared port: HTTP/2's preface begins "PRI", no HTTP/1 method
// does. Reads until it can tell, then hands the connection on.
class sniffer : public std::enable_shared_from_this<sniffer> {
 public:
  sniffer(tcp::socket s, int listener_fd, const http_handler& h, const handoff_function& handoff)
      : stream_(std::move(s)), listener_fd_(listener_fd), handler_(h), handoff_(handoff) {}

  void read() {
    stream_.expires_after(idle_timeout);
    stream_.async_read_some(buf_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return;  // the connection closes with the sniffer
      self->buf_.commit(n);
      self->decide();
    });
  }

 private:
  void decide() {
    static constexpr std::string_view preface = "PRI";
    const std::string_view got(static_cast<const char*>(buf_.data().data()), buf_.size());
    const std::size_t n = std::min(got.size(), preface.size());
    if (got.substr(0, n) != preface.substr(0, n)) {
      std::make_shared<session>(std::move(stream_), std::move(buf_), handler_)->read();
      return;
    }
    if (n < preface.size()) return read();
    stream_.expires_never();
    beast::error_code ec;
    tcp::socket s = stream_.release_socket();
    // As gRPC sets on the connections it accepts: without it, Nagle's algorithm holds back small
    // answers until the client's delayed ACK, some 40 ms a call.
    s.set_option(tcp::no_delay(true), ec);
    const int fd = s.release(ec);
    if (ec) return;
    // gRPC reads without blocking, as Asio did.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    handoff_(listener_fd_, fd, std::string(got));
  }

  beast::tcp_stream stream_;
  const int listener_fd_;
  const http_handler& handler_;          // the server's, which outlives its sniffers
  const handoff_function& handoff_;
  beast::flat_buffer buf_;
};

class beast_server final : public http_server {
 public:
  beast_server(http_handler h, handoff_function handoff) : handler_(std::move(h)), handoff_(std::move(handoff)) {}
  ~beast_server() override { stop(); }

  leasekv::result<void> listen(const std::string& host, const std::string& port, bool shared) {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto found = resolver.resolve(host, port, tcp::resolver::numeric_service, ec);
    if (ec || found.empty()) return leasekv::error(leasekv::errc::invalid_argument, "cannot resolve " + host + ": " + ec.message());
    const tcp::endpoint at = found.begin()->endpoint();
    auto a = std::make_unique<tcp::acceptor>(ioc_);
    a->open(at.protocol(), ec);
    if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a->bind(at, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    tcp::endpoint bound;
    if (!ec) bound = a->local_endpoint(ec);
    if (ec) return leasekv::error(leasekv::errc::invalid_argument, "cannot listen on " + host + ":" + port + ": " + ec.message());
    const auto ip = bound.address().to_string();
    addresses_.push_back((bound.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(bound.port()));
    acceptors_.push_back(std::move(a));
    shared_.push_back(shared && handoff_);
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  void run() {
    for (std::size_t i = 0; i < acceptors_.size(); ++i) accept(*acceptors_[i], shared_[i]);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  std::vector<std::string> addresses() const override { return addresses_; }

  void stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    // The sessions live in ioc_'s pending handlers and are destroyed with it.
  }

 private:
  void accept(tcp::acceptor& a, bool shared) {
    a.async_accept([this, &a, shared](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec && shared) {
        std::make_shared<sniffer>(std::move(s), a.native_handle(), handler_, handoff_)->read();
      } else if (!ec) {
        std::make_shared<session>(beast::tcp_stream(std::move(s)), beast::flat_buffer(), handler_)->read();
      }
      accept(a, shared);
    });
  }

  const http_handler handler_;
  const handoff_function handoff_;
  asio::io_context ioc_{1};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<bool> shared_;  // acceptors_[i] hands HTTP/2 connections off
  std::vector<std::string> addresses_;  // constant once started
  std::thread thread_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace

std::string percent_decode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && from_hex(s[i + 1]) >= 0 && from_hex(s[i + 2]) >= 0) {
      out += static_cast<char>(from_hex(s[i + 1]) * 16 + from_hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

leasekv::result<std::unique_ptr<http_server>> http_server::start(const std::vector<http_listener>& listeners,
                                                                  http_handler handler, handoff_function handoff) {
  auto s = std::make_unique<beast_server>(std::move(handler), std::move(handoff));
  for (const auto& l : listeners) {
    if (auto r = s->listen(l.host, l.port, l.http2_handoff); !r) return r.error();
  }
  s->run();
  return std::unique_ptr<http_server>(std::move(s));
}

}  // namespace leasekv_server
