// leasekv-server's pieces without a process: its flags, the Go durations the clock endpoint takes, the
// raft term file, and the metrics listener's answers (against a real server and a manual clock).
#include "endpoints.hpp"
#include "flags.hpp"
#include "http.hpp"
#include "raft_term.hpp"

#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include "rpc.grpc.pb.h"

#include <catch2/catch.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using leasekv_server::flags;

namespace {

// parse() over {"leasekv-server", args...}; returns its error, empty on success.
std::string parse(std::initializer_list<const char*> args, flags& f) {
  std::vector<char*> argv = {const_cast<char*>("leasekv-server")};
  for (const char* a : args) argv.push_back(const_cast<char*>(a));
  auto err = leasekv_server::parse(static_cast<int>(argv.size()), argv.data(), f);
  return err ? *err : "";
}

}  // namespace

TEST_CASE("leasekv-server flags: https URLs with a certificate are served with TLS, and client-cert-auth is a boolean flag", "[server-tools]") {
  flags f;
  REQUIRE(parse({"--listen-client-urls", "https://127.0.0.1:0,http://127.0.0.1:0,unix:///tmp/s", "--advertise-client-urls",
                 "https://127.0.0.1:2379", "--cert-file", "s.crt", "--key-file=s.key", "--trusted-ca-file", "ca.crt",
                 "--client-cert-auth", "--name", "m1"},
                f) == "");
  CHECK(f.client_cert_auth);
  CHECK(f.cert_file == "s.crt");
  CHECK(f.key_file == "s.key");
  CHECK(f.trusted_ca_file == "ca.crt");
  CHECK(f.name == "m1");  // the flag after the boolean is not taken as its value
  REQUIRE(f.listen_client_urls.size() == 3);
  auto a = leasekv_server::grpc_address(f.listen_client_urls[0]);
  REQUIRE(a);
  CHECK(a->address == "127.0.0.1:0");
  CHECK(a->tls);
  CHECK_FALSE(leasekv_server::grpc_address(f.listen_client_urls[1])->tls);
  CHECK(leasekv_server::grpc_address(f.listen_client_urls[2])->address == "unix:/tmp/s");
  CHECK_FALSE(leasekv_server::grpc_address("ftp://x:1"));

  flags g;
  REQUIRE(parse({"--client-cert-auth=false", "--manual-clock"}, g) == "");
  CHECK_FALSE(g.client_cert_auth);
  CHECK(g.manual_clock);
}

TEST_CASE("leasekv-server flags: an https URL without a certificate, or client-cert-auth without a CA, is refused", "[server-tools]") {
  flags f;
  CHECK(parse({"--listen-client-urls", "https://127.0.0.1:0", "--advertise-client-urls", "https://127.0.0.1:0"}, f) ==
        "the https URL https://127.0.0.1:0 needs --cert-file and --key-file");
  flags g;
  CHECK(parse({"--listen-client-urls", "https://127.0.0.1:0", "--advertise-client-urls", "https://127.0.0.1:0",
               "--cert-file", "a", "--key-file", "b", "--client-cert-auth"},
              g)
            .find("--client-cert-auth needs --trusted-ca-file") == 0);
  flags h;
  CHECK(parse({"--client-cert-auth=maybe"}, h) == "invalid --client-cert-auth maybe");
}

TEST_CASE("leasekv-server flags: metrics URLs, logger, log level and max concurrent streams", "[server-tools]") {
  flags f;
  REQUIRE(parse({"--listen-metrics-urls", "http://127.0.0.1:0,http://[::1]:9000", "--logger", "zap", "--log-level",
                 "warn", "--max-concurrent-streams", "100"},
                f) == "");
  REQUIRE(f.listen_metrics_urls.size() == 2);
  CHECK(leasekv_server::http_host_port(f.listen_metrics_urls[0]) == std::make_pair(std::string("127.0.0.1"), std::string("0")));
  CHECK(leasekv_server::http_host_port(f.listen_metrics_urls[1]) == std::make_pair(std::string("::1"), std::string("9000")));
  CHECK(f.logger == "zap");
  CHECK(f.log_level == "warn");
  CHECK(f.max_concurrent_streams == 100);

  flags etcd_default;
  REQUIRE(parse({"--max-concurrent-streams", "4294967295"}, etcd_default) == "");
  CHECK(etcd_default.max_concurrent_streams == 0);  // unbounded, as etcd's default
  auto refused = [](std::initializer_list<const char*> args) {
    flags bad;
    return parse(args, bad);
  };
  CHECK(refused({"--listen-metrics-urls", "https://127.0.0.1:0"}).find("cannot serve metrics on") == 0);
  CHECK(refused({"--logger", "glog"}) == "invalid --logger glog (capnslog or zap)");
  CHECK(refused({"--log-level", "loud"}).find("invalid --log-level loud") == 0);
  CHECK(refused({"--max-concurrent-streams", "0"}) == "invalid --max-concurrent-streams 0");
}

TEST_CASE("leasekv-server: Go durations as time.ParseDuration reads them", "[server-tools]") {
  using leasekv_server::parse_go_duration;
  CHECK(parse_go_duration("30s") == 30s);
  CHECK(parse_go_duration("1m30s") == 90s);
  CHECK(parse_go_duration("1.5h") == 90min);
  CHECK(parse_go_duration("250ms") == 250ms);
  CHECK(parse_go_duration("10us") == 10us);
  CHECK(parse_go_duration("\xc2\xb5s") == std::nullopt);  // a unit needs a number
  CHECK(parse_go_duration("3\xc2\xb5s") == 3us);
  CHECK(parse_go_duration("7ns") == 7ns);
  CHECK(parse_go_duration("0") == 0s);
  CHECK(parse_go_duration("-2s") == -2s);
  CHECK(parse_go_duration("30") == std::nullopt);
  CHECK(parse_go_duration("") == std::nullopt);
  CHECK(parse_go_duration("s") == std::nullopt);
  CHECK(parse_go_duration("3d") == std::nullopt);
  CHECK(parse_go_duration("9999999999h") == std::nullopt);
}

TEST_CASE("leasekv-server: the raft term is 2 on a new data directory and one more at every start after", "[server-tools]") {
  const auto dir = std::filesystem::temp_directory_path() / ("leasekv-term-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto env = leasekv::env::posix();
  CHECK(leasekv_server::next_raft_term(*env, dir.string()).value() == 2);
  REQUIRE(leasekv_server::save_raft_term(*env, dir.string(), 2));
  CHECK(leasekv_server::next_raft_term(*env, dir.string()).value() == 3);
  REQUIRE(leasekv_server::save_raft_term(*env, dir.string(), 3));
  CHECK(leasekv_server::next_raft_term(*env, dir.string()).value() == 4);
  CHECK_FALSE(std::filesystem::exists(dir / "raft_term.tmp"));
  {
    auto f = env->open_append((dir / "raft_term").string()).value();
    REQUIRE(f->truncate(0));
    REQUIRE(f->append("x\n"));
  }
  auto damaged = leasekv_server::next_raft_term(*env, dir.string());
  REQUIRE_FALSE(damaged);
  CHECK(damaged.error() == leasekv::errc::corrupt);
  std::filesystem::remove_all(dir);
}

TEST_CASE("leasekv-server endpoints: health, version, metrics and the manual clock answer as documented", "[server-tools]") {
  auto clock = std::make_shared<leasekv::manual_clock>();
  std::shared_ptr<leasekv::store> store(leasekv::store::open({.clock = clock, .min_lease_ttl = 2s}).value());
  leasekv::server_options o;
  o.listen = {"127.0.0.1:0"};
  auto srv = leasekv::server::start(store, o).value();
  leasekv_server::endpoints e(*srv, *store, clock);
  auto get = [&](const std::string& method, const std::string& path, std::multimap<std::string, std::string> q = {}) {
    return e.handle({method, path, std::move(q)});
  };

  auto health = get("GET", "/health");
  CHECK(health.status == 200);
  CHECK(health.body == R"({"health":"true"})");
  auto post_health = get("POST", "/health");
  CHECK(post_health.status == 405);
  CHECK(post_health.headers == std::vector<std::pair<std::string, std::string>>{{"Allow", "GET"}});
  CHECK(get("GET", "/version").body == R"({"etcdserver":"3.4.23","etcdcluster":"3.4.0"})");
  CHECK(get("GET", "/nothing").status == 404);

  auto lease = store->grant(30s).value();
  REQUIRE(store->put("/tmp/pid", "2187", {.lease = lease.id}));
  auto metrics = get("GET", "/metrics").body;
  CHECK(metrics.find("\netcd_debugging_mvcc_keys_total 1\n") != std::string::npos);
  CHECK(metrics.find("\netcd_server_has_leader 1\n") != std::string::npos);
  CHECK(metrics.find("\netcd_debugging_mvcc_current_revision 2\n") != std::string::npos);
  CHECK(metrics.find("\netcd_server_health_success 1\n") != std::string::npos);
  CHECK(metrics.find("grpc_server_started_total{grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 0\n") !=
        std::string::npos);

  CHECK(get("GET", "/leasekv/clock").body == R"({"now_ns":0,"now_ms":0})");
  CHECK(get("GET", "/leasekv/clock/advance", {{"by", "31s"}}).status == 405);
  CHECK(get("POST", "/leasekv/clock/advance").status == 400);
  CHECK(get("POST", "/leasekv/clock/advance", {{"by", "31"}}).status == 400);
  CHECK(get("POST", "/leasekv/clock/advance", {{"by", "-1s"}}).status == 400);
  auto early = get("POST", "/leasekv/clock/advance", {{"by", "29s"}});
  CHECK(early.body == R"({"now_ns":29000000000,"now_ms":29000})");
  CHECK(store->get("/tmp/pid").value().kvs.size() == 1);
  // The lease is due at 30 s: it has expired, and its key is gone, when the answer comes.
  auto later = get("POST", "/leasekv/clock/advance", {{"by", "2s"}});
  CHECK(later.status == 200);
  CHECK(later.body == R"({"now_ns":31000000000,"now_ms":31000})");
  CHECK(store->get("/tmp/pid").value().kvs.empty());
  CHECK(store->time_to_live(lease.id).value().ttl == -1);

  leasekv_server::endpoints real(*srv, *store, nullptr);
  CHECK(real.handle({"POST", "/leasekv/clock/advance", {{"by", "1s"}}}).status == 404);
  srv->shutdown();
}

TEST_CASE("leasekv-server: a shared client port answers HTTP/1 itself and hands gRPC connections over with TCP_NODELAY set", "[server-tools]") {
  std::shared_ptr<leasekv::store> store(leasekv::store::open().value());
  leasekv::server_options o;
  o.handed_connections = true;
  auto srv = leasekv::server::start(store, o).value();
  leasekv_server::endpoints e(*srv, *store, nullptr);
  std::atomic<int> handed{0};
  std::atomic<int> nodelay{-1};
  auto http = leasekv_server::http_server::start(
                  {{"127.0.0.1", "0", true}}, [&](const leasekv_server::http_request& r) { return e.handle(r); },
                  [&](int listener, int fd, std::string already_read) {
                    // Without TCP_NODELAY each small answer waits for the client's delayed ACK (~40 ms).
                    int on = 0;
                    socklen_t len = sizeof on;
                    ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len);
                    nodelay = on;
                    ++handed;
                    srv->serve_connection(listener, fd, already_read);
                  })
                  .value();
  const std::string addr = http->addresses().at(0);

  // HTTP/1 on the port.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  boost::asio::ip::tcp::resolver resolver(io);
  const auto colon = addr.rfind(':');
  boost::asio::connect(sock, resolver.resolve(addr.substr(0, colon), addr.substr(colon + 1)));
  const std::string request = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  boost::asio::write(sock, boost::asio::buffer(request));
  std::string answer;
  boost::system::error_code ec;
  boost::asio::read(sock, boost::asio::dynamic_buffer(answer), ec);
  CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(answer.substr(answer.size() - 17) == R"({"health":"true"})");
  CHECK(handed == 0);

  // gRPC on the same port.
  auto kv = etcdserverpb::KV::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    etcdserverpb::PutRequest req;
    req.set_key("k" + std::to_string(i));
    req.set_value("v");
    etcdserverpb::PutResponse resp;
    REQUIRE(kv->Put(&ctx, req, &resp).ok());
    CHECK(resp.header().revision() == i + 2);
  }
  CHECK(handed == 1);
  CHECK(nodelay == 1);
  http->stop();
  srv->shutdown();
}

TEST_CASE("leasekv-server: max_concurrent_streams holds a connection's further calls while its streams are open", "[server-tools]") {
  std::shared_ptr<leasekv::store> store(leasekv::store::open().value());
  leasekv::server_options o;
  o.listen = {"127.0.0.1:0"};
  o.max_concurrent_streams = 1;
  auto srv = leasekv::server::start(store, o).value();
  auto ch = grpc::CreateChannel(srv->addresses().at(0), grpc::InsecureChannelCredentials());
  auto kv = etcdserverpb::KV::NewStub(ch);
  auto watch = etcdserverpb::Watch::NewStub(ch);
  auto range = [&](std::chrono::milliseconds within) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + within);
    etcdserverpb::RangeRequest req;
    req.set_key("k");
    etcdserverpb::RangeResponse resp;
    return kv->Range(&ctx, req, &resp).error_code();
  };
  REQUIRE(range(30s) == grpc::StatusCode::OK);

  grpc::ClientContext watch_ctx;
  auto stream = watch->Watch(&watch_ctx);
  etcdserverpb::WatchRequest create;
  create.mutable_create_request()->set_key("k");
  REQUIRE(stream->Write(create));
  etcdserverpb::WatchResponse created;
  REQUIRE(stream->Read(&created));
  REQUIRE(created.created());
  // The watch stream is the one stream allowed: the call waits for it, here until its deadline.
  CHECK(range(300ms) == grpc::StatusCode::DEADLINE_EXCEEDED);
  watch_ctx.TryCancel();
  stream->Finish();
  CHECK(range(30s) == grpc::StatusCode::OK);
  srv->shutdown();
}
