// leasekv::server — builds the gRPC server with etcd's transport settings and the services.
#include "services.hpp"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace leasekv {
namespace {

class grpc_server final : public server {
 public:
  grpc_server() : pool_(1) {}
  ~grpc_server() override { shutdown(); }

  std::vector<std::string> addresses() const override { return addresses_; }
  member_identity identity() const override { return ctx_->identity; }
  stats statistics() const override {
    const auto& n = ctx_->counters;
    return {n.watch_streams, n.watchers, n.paused_watchers, n.keep_alive_streams, n.queued_watch_bytes,
            n.max_queued_watch_bytes, n.watch_pauses};
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
  boost::asio::thread_pool pool_;
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

}  // namespace

result<std::unique_ptr<server>> server::start(std::shared_ptr<store> s, server_options o) {
  if (o.listen.empty()) return error(errc::invalid_argument, "server_options::listen is empty");
  if (!s) return error(errc::invalid_argument, "no store");
  auto srv = std::make_unique<grpc_server>();
  auto ctx = std::make_shared<server_detail::context>();
  // The ids the store reports in its headers (a data directory keeps those it was created with).
  auto probe = s->time_to_live(no_lease);
  if (!probe) return probe.error();
  ctx->identity = {probe.value().header.member_id, probe.value().header.cluster_id};
  ctx->raft_term = probe.value().header.raft_term;
  ctx->store = std::move(s);
  ctx->options = o;
  ctx->watch_executor = srv->pool_.get_executor();
  const auto unix_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  ctx->lease_sequence = (unix_ms & ((std::uint64_t{1} << 40) - 1)) << 8;
  srv->ctx_ = ctx;
  srv->kv_ = std::make_unique<server_detail::kv_service>(ctx);
  srv->lease_ = std::make_unique<server_detail::lease_service>(ctx);
  srv->watch_ = std::make_unique<server_detail::watch_service>(ctx);
  srv->cluster_ = std::make_unique<server_detail::cluster_service>(ctx);
  srv->maintenance_ = std::make_unique<server_detail::maintenance_service>(ctx);
  srv->auth_ = std::make_unique<server_detail::auth_service>();

  grpc::ServerBuilder b;
  std::vector<int> ports(o.listen.size(), 0);
  for (std::size_t i = 0; i < o.listen.size(); ++i) {
    b.AddListeningPort(o.listen[i], grpc::InsecureServerCredentials(), &ports[i]);
  }
  b.SetMaxReceiveMessageSize(o.max_receive_message_bytes);
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
  srv->server_ = b.BuildAndStart();
  if (!srv->server_) return error(errc::invalid_argument, "cannot listen on the given addresses");
  for (std::size_t i = 0; i < o.listen.size(); ++i) {
    const bool is_unix = o.listen[i].rfind("unix:", 0) == 0;
    if (!is_unix && ports[i] == 0) {
      srv->server_->Shutdown();
      return error(errc::invalid_argument, "cannot listen on " + o.listen[i]);
    }
    srv->addresses_.push_back(with_port(o.listen[i], ports[i]));
  }
  return std::unique_ptr<server>(std::move(srv));
}

}  // namespace leasekv
