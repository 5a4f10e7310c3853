#include "connection.hpp"

#include "etcd_status.hpp"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <cstring>

namespace leasekv::remote_detail {

error to_error(const grpc::Status& s) {
  const std::string& msg = s.error_message();
  for (const auto& m : wire::etcd_statuses) {
    if (m.code != errc::closed && msg == m.message) return error(m.code, msg);
  }
  if (msg == "mvcc: watcher range is empty") return error(errc::watch_range_empty, msg);
  namespace se = boost::system::errc;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: return error(se::make_error_code(se::resource_unavailable_try_again), msg);
    case grpc::StatusCode::DEADLINE_EXCEEDED: return error(se::make_error_code(se::timed_out), msg);
    case grpc::StatusCode::CANCELLED: return error(se::make_error_code(se::operation_canceled), msg);
    case grpc::StatusCode::INVALID_ARGUMENT: return error(errc::invalid_argument, msg);
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return error(errc::request_too_large, msg);  // gRPC's size limit
    case grpc::StatusCode::DATA_LOSS: return error(errc::corrupt, msg);
    default:
      return error(se::make_error_code(se::protocol_error),
                   "rpc error: code = " + std::to_string(static_cast<int>(s.error_code())) + " desc = " + msg);
  }
}

std::shared_ptr<grpc::ClientContext> stream_context() {
  auto ctx = std::make_shared<grpc::ClientContext>();
  ctx->AddMetadata("hasleader", "true");
  return ctx;
}

bool next_attempt(std::mutex& mu, std::condition_variable& cv, std::shared_ptr<grpc::ClientContext>& ctx,
                  const bool& closing, const connection& conn, std::size_t index, std::chrono::milliseconds pause) {
  {
    std::lock_guard lock(mu);
    ctx.reset();
    if (closing) return false;
  }
  conn.failed(index);
  std::unique_lock lock(mu);
  return !cv.wait_for(lock, pause, [&] { return closing; });
}

bool is_unavailable(const grpc::Status& s) { return s.error_code() == grpc::StatusCode::UNAVAILABLE; }

namespace {

struct endpoint {
  std::string target;
  bool tls = false;
};

result<endpoint> parse(const std::string& e) {
  auto starts = [&e](const char* p) { return e.rfind(p, 0) == 0; };
  if (starts("http://")) return endpoint{e.substr(7), false};
  if (starts("https://")) return endpoint{e.substr(8), true};
  if (starts("unix:")) return endpoint{e, false};
  if (e.find("://") != std::string::npos || e.empty()) {
    return error(errc::invalid_argument, "endpoint \"" + e + "\": use http://, https:// or unix://");
  }
  return endpoint{e, false};  // host:port, as etcdctl takes it
}

}  // namespace

result<std::shared_ptr<connection>> connection::make(const remote_options& o) {
  if (o.endpoints.empty()) return error(errc::invalid_argument, "remote_options::endpoints is empty");
  if (o.call_timeout.count() <= 0 || o.dial_timeout.count() <= 0) {
    return error(errc::invalid_argument, "remote_options: timeouts must be positive");
  }
  if (o.cert_pem.empty() != o.key_pem.empty()) {
    return error(errc::invalid_argument, "remote_options: a client certificate needs both cert_pem and key_pem");
  }
  std::shared_ptr<connection> c(new connection(o));
  for (const auto& e : o.endpoints) {
    BOOST_OUTCOME_TRY(ep, parse(e));
    grpc::ChannelArguments args;
    // A server that stops answering (a stopped process, a partition) is noticed on idle streams too.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    // Reconnect soon after a server comes back (gRPC's default backoff reaches 2 minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetMaxReceiveMessageSize(-1);
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (ep.tls) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = o.ca_pem;
      ssl.pem_private_key = o.key_pem;
      ssl.pem_cert_chain = o.cert_pem;
      creds = grpc::SslCredentials(ssl);
    } else {
      creds = grpc::InsecureChannelCredentials();
    }
    // Each store has channels of its own: streams of different stores never share a connection's limits.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    c->channels_.push_back(grpc::CreateCustomChannel(ep.target, creds, args));
  }
  return c;
}

std::shared_ptr<grpc::Channel> connection::channel(std::size_t* index) const {
  const std::size_t i = current_.load(std::memory_order_acquire) % channels_.size();
  if (index != nullptr) *index = i;
  return channels_[i];
}

void connection::failed(std::size_t index) const {
  std::size_t expected = index;
  current_.compare_exchange_strong(expected, (index + 1) % channels_.size(), std::memory_order_acq_rel);
}

result<void> connection::dial(std::chrono::steady_clock::time_point deadline) {
  // Each endpoint in turn gets a slice of the time left; the last one gets what remains.
  while (true) {
    std::size_t index = 0;
    auto ch = channel(&index);
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    const auto slice = channels_.size() == 1 ? deadline : now + (deadline - now) / 2;
    if (ch->WaitForConnected(grpc_deadline(slice))) return BOOST_OUTCOME_V2_NAMESPACE::success();
    failed(index);
  }
  std::string all;
  for (const auto& e : opts_.endpoints) all += (all.empty() ? "" : ",") + e;
  return error(boost::system::errc::make_error_code(boost::system::errc::timed_out),
               "no endpoint answered within the dial timeout: " + all);
}

}  // namespace leasekv::remote_detail
