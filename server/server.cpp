// leasekv::server — builds the gRPC server with etcd's transport settings and the services.
#include "alarms.hpp"
#include "metrics.hpp"
#include "services.hpp"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <absl/synchronization/mutex.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace leasekv {
namespace {

class grpc_server final : public server {
 public:
  grpc_server() : pool_(1) {}
  ~grpc_server() override { shutdown(); }

  std::vector<std::string> addresses() const override { return addresses_; }
  member_identity identity() const override { return ctx_->identity; }
  std::string metrics() const override { return server_detail::prometheus_text(counters_, *ctx_); }
  std::vector<std::string> active_alarms() const override {
    std::vector<std::string> names;
    for (const auto& a : ctx_->alarms->get(server_detail::alarm_none)) {
      names.emplace_back(a.type == server_detail::alarm_nospace ? "NOSPACE" : "CORRUPT");
    }
    return names;
  }

  void serve_connection(int listener_fd, int fd, std::string_view already_read) override {
    if (!handed_) {
      ::close(fd);
      return;
    }
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
    p.listener_fd = listener_fd;
    p.fd = fd;
    if (!already_read.empty()) {
      grpc::Slice bytes(already_read.data(), already_read.size());
      p.read_buffer = grpc::ByteBuffer(&bytes, 1);
    }
    handed_->HandleNewConnection(&p);  // closes fd once the server is shut down
  }

  stats statistics() const override {
    const auto& n = ctx_->counters;
    return {n.watch_streams,      n.watchers,           n.paused_watchers,        n.store_watches,
            n.keep_alive_streams, n.queued_watch_bytes, n.max_queued_watch_bytes, n.watch_pauses};
  }

  void shutdown() override {
    std::unique_lock lock(mu_);
    if (shut_down_) return;
    if (shutting_down_) {
      cv_.wait(lock, [&] { return shut_down_; });
      return;
    }
    shutting_down_ = true;
    lock.unlock();
    // A deadline of now cancels the streams at once (watch and keep-alive streams never end on their own).
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    pool_.join();
    // Shutdown() returned once every call had finished, so no write is queued or running any more.
    write_guard_.reset();
    for (auto& t : write_threads_) t.join();
    lock.lock();
    shut_down_ = true;
    cv_.notify_all();
  }

  void wait() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return shut_down_; });
  }

  std::shared_ptr<server_detail::context> ctx_;
  std::unique_ptr<server_detail::kv_service> kv_;
  std::unique_ptr<server_detail::lease_service> lease_;
  std::unique_ptr<server_detail::watch_service> watch_;
  std::unique_ptr<server_detail::cluster_service> cluster_;
  std::unique_ptr<server_detail::maintenance_service> maintenance_;
  std::unique_ptr<server_detail::auth_service> auth_;
  std::unique_ptr<server_detail::lock_service> lock_;
  std::unique_ptr<server_detail::election_service> election_;
  std::unique_ptr<server_detail::health_service> health_;
  server_detail::rpc_counters counters_;  // outlives server_, whose interceptors count into it
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> handed_;  // with handed_connections
  boost::asio::thread_pool pool_;
  // server_options::write_threads threads running write_context_ (none without).
  boost::asio::io_context write_context_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> write_guard_;
  std::vector<std::thread> write_threads_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> addresses_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool shutting_down_ = false;
  bool shut_down_ = false;
};

std::string with_port(const std::string& address, int port) {
  if (address.rfind("unix:", 0) == 0) return address;
  auto colon = address.rfind(':');
  return address.substr(0, colon) + ":" + std::to_string(port);
}

// etcd's client TLS (pkg/transport): with client-cert-auth a client must present a certificate the CA
// signed, else none is asked for.
std::shared_ptr<grpc::ServerCredentials> tls_credentials(const server_options::tls_options& t) {
  grpc::SslServerCredentialsOptions o(t.client_cert_auth ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                         : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (t.client_cert_auth) o.pem_root_certs = t.client_ca_pem;
  o.pem_key_cert_pairs.push_back({t.private_key_pem, t.cert_chain_pem});
  return grpc::SslServerCredentials(o);
}

}  // namespace

result<std::unique_ptr<server>> server::start(std::shared_ptr<store> s, server_options o) {
  if (o.listen.empty() && o.tls_listen.empty() && !o.handed_connections) {
    return error(errc::invalid_argument, "server_options::listen is empty");
  }
  if (!o.tls_listen.empty() && (o.tls.cert_chain_pem.empty() || o.tls.private_key_pem.empty())) {
    return error(errc::invalid_argument, "server_options::tls_listen needs tls.cert_chain_pem and tls.private_key_pem");
  }
  if (!s) return error(errc::invalid_argument, "no store");
  // Debian's Abseil is built without NDEBUG, so by default every absl::Mutex gRPC locks (several per
  // call) is also recorded in a process-wide lock-order graph behind one global lock, looking for
  // inversions inside gRPC: ~3% of leasekv-server's CPU under load, all of it gRPC's debugging, none of
  // it ours (docs/performance.md, issue 20). Process-wide and idempotent: it only stops that check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto srv = std::make_unique<grpc_server>();
  auto ctx = std::make_shared<server_detail::context>();
  // The ids the store reports in its headers (a data directory keeps those it was created with).
  auto probe = s->time_to_live(no_lease);
  if (!probe) return probe.error();
  ctx->identity = {probe.value().header.member_id, probe.value().header.cluster_id};
  ctx->raft_term = probe.value().header.raft_term;
  // The services reach the store through this member's alarms (a NOSPACE alarm refuses writes).
  ctx->alarms = std::make_shared<server_detail::alarm_table>();
  ctx->store = server_detail::gate_by_alarms(std::move(s), ctx->alarms, ctx->identity.member_id);
  ctx->options = o;
  ctx->watch_executor = srv->pool_.get_executor();
  if (o.write_threads > 0) {
    srv->write_guard_.emplace(srv->write_context_.get_executor());
    for (std::size_t i = 0; i < o.write_threads; ++i) {
      srv->write_threads_.emplace_back([&io = srv->write_context_] {
        pthread_setname_np(pthread_self(), "leasekv-write");
        io.run();
      });
    }
    ctx->write_executor = srv->write_context_.get_executor();
  }
  const auto unix_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  ctx->lease_sequence = (unix_ms & ((std::uint64_t{1} << 40) - 1)) << 8;
  srv->ctx_ = ctx;
  srv->kv_ = std::make_unique<server_detail::kv_service>(ctx);
  srv->lease_ = std::make_unique<server_detail::lease_service>(ctx);
  srv->watch_ = std::make_unique<server_detail::watch_service>(ctx);
  srv->cluster_ = std::make_unique<server_detail::cluster_service>(ctx);
  srv->maintenance_ = std::make_unique<server_detail::maintenance_service>(ctx);
  srv->auth_ = std::make_unique<server_detail::auth_service>(ctx);
  // Health answers SERVING for "" and for each service registered here.
  srv->health_ = std::make_unique<server_detail::health_service>(std::vector<std::string>{
      etcdserverpb::KV::service_full_name(), etcdserverpb::Watch::service_full_name(),
      etcdserverpb::Lease::service_full_name(), etcdserverpb::Cluster::service_full_name(),
      etcdserverpb::Maintenance::service_full_name(), etcdserverpb::Auth::service_full_name(),
      v3lockpb::Lock::service_full_name(), v3electionpb::Election::service_full_name(),
      grpc::health::v1::Health::service_full_name()});
  srv->lock_ = std::make_unique<server_detail::lock_service>(ctx);
  srv->election_ = std::make_unique<server_detail::election_service>(ctx);

  grpc::ServerBuilder b;
  std::vector<std::string> listen = o.listen;
  listen.insert(listen.end(), o.tls_listen.begin(), o.tls_listen.end());
  std::vector<int> ports(listen.size(), 0);
  for (std::size_t i = 0; i < listen.size(); ++i) {
    b.AddListeningPort(listen[i], i < o.listen.size() ? grpc::InsecureServerCredentials() : tls_credentials(o.tls),
                       &ports[i]);
  }
  if (o.handed_connections) {
    srv->handed_ = b.experimental().AddExternalConnectionAcceptor(
        grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, grpc::InsecureServerCredentials());
  }
  b.SetMaxReceiveMessageSize(o.max_receive_message_bytes);
  if (o.max_concurrent_streams != 0) {
    b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                         static_cast<int>(std::min<std::uint32_t>(o.max_concurrent_streams, std::numeric_limits<int>::max())));
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(srv->counters_.interceptor_factory());
  b.experimental().SetInterceptorCreators(std::move(interceptors));
  // etcd's keepalive policy (docs/server.md): clients ping every few seconds on quiet streams; grpc's
  // default would close such connections after a few pings.
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  b.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 7200000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  b.RegisterService(srv->kv_.get());
  b.RegisterService(srv->lease_.get());
  b.RegisterService(srv->watch_.get());
  b.RegisterService(srv->cluster_.get());
  b.RegisterService(srv->maintenance_.get());
  b.RegisterService(srv->auth_.get());
  b.RegisterService(srv->lock_.get());
  b.RegisterService(srv->election_.get());
  b.RegisterService(srv->health_.get());
  srv->server_ = b.BuildAndStart();
  if (!srv->server_) return error(errc::invalid_argument, "cannot listen on the given addresses");
  for (std::size_t i = 0; i < listen.size(); ++i) {
    const bool is_unix = listen[i].rfind("unix:", 0) == 0;
    if (!is_unix && ports[i] == 0) {
      srv->server_->Shutdown();
      return error(errc::invalid_argument, "cannot listen on " + listen[i]);
    }
    srv->addresses_.push_back(with_port(listen[i], ports[i]));
  }
  return std::unique_ptr<server>(std::move(srv));
}

}  // namespace leasekv
