#include "metrics.hpp"

#include <google/protobuf/descriptor.h>

#include <fmt/core.h>

namespace leasekv::server_detail {
namespace {

using rpc_type = grpc::experimental::ServerRpcInfo::Type;
using hook = grpc::experimental::InterceptionHookPoints;

// Every service a leasekv server may register; those whose generated code is linked in are counted
// from the start.
constexpr std::string_view service_names[] = {
    "etcdserverpb.KV",      "etcdserverpb.Watch", "etcdserverpb.Lease",    "etcdserverpb.Cluster",
    "etcdserverpb.Maintenance", "etcdserverpb.Auth", "v3lockpb.Lock", "v3electionpb.Election",
    "grpc.health.v1.Health"};

// go-grpc-prometheus' names for the call types and grpc-go's for the status codes: the label values
// dashboards written for etcd filter on.
const char* type_label(rpc_type t) {
  switch (t) {
    case rpc_type::UNARY: return "unary";
    case rpc_type::CLIENT_STREAMING: return "client_stream";
    case rpc_type::SERVER_STREAMING: return "server_stream";
    case rpc_type::BIDI_STREAMING: return "bidi_stream";
  }
  return "unary";
}

constexpr const char* code_labels[17] = {
    "OK",           "Canceled",          "Unknown",          "InvalidArgument",    "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",          "OutOfRange",
    "Unimplemented", "Internal",         "Unavailable",       "DataLoss",           "Unauthenticated"};

// Counts one call. gRPC makes one per call and destroys it with the call.
class counting_interceptor final : public grpc::experimental::Interceptor {
 public:
  explicit counting_interceptor(rpc_counters::method_counts& m) : m_(m) {
    m_.started.fetch_add(1, std::memory_order_relaxed);
  }
  // A call that ended without sending a status was cancelled (the client went away first).
  ~counting_interceptor() override {
    if (!handled_) m_.handled[grpc::StatusCode::CANCELLED].fetch_add(1, std::memory_order_relaxed);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* b) override {
    if (b->QueryInterceptionHookPoint(hook::POST_RECV_MESSAGE) && b->GetRecvMessage() != nullptr) {
      m_.received.fetch_add(1, std::memory_order_relaxed);
    }
    if (b->QueryInterceptionHookPoint(hook::PRE_SEND_MESSAGE)) m_.sent.fetch_add(1, std::memory_order_relaxed);
    if (b->QueryInterceptionHookPoint(hook::PRE_SEND_STATUS) && !handled_) {
      handled_ = true;
      const auto code = static_cast<std::size_t>(b->GetSendStatus().error_code());
      m_.handled[code < m_.handled.size() ? code : static_cast<std::size_t>(grpc::StatusCode::UNKNOWN)].fetch_add(1, std::memory_order_relaxed);
    }
    b->Proceed();
  }

 private:
  rpc_counters::method_counts& m_;
  bool handled_ = false;  // set by the one batch that sends the status; read once every batch is done
};

class counting_factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit counting_factory(rpc_counters& c) : c_(c) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new counting_interceptor(c_.counts_for(info->method() ? info->method() : "", info->type()));
  }

 private:
  rpc_counters& c_;
};

std::unique_ptr<rpc_counters::method_counts> make_counts(std::string_view path, const char* type) {
  auto m = std::make_unique<rpc_counters::method_counts>();
  // "/etcdserverpb.KV/Range" -> service "etcdserverpb.KV", method "Range".
  const auto slash = path.rfind('/');
  m->service = std::string(path.substr(path.empty() ? 0 : 1, slash == std::string_view::npos || slash == 0 ? 0 : slash - 1));
  m->method = std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
  m->type = type;
  return m;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

rpc_counters::rpc_counters() {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (auto name : service_names) {
    const auto* service = pool->FindServiceByName(std::string(name));
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* m = service->method(i);
      const rpc_type t = m->client_streaming() ? (m->server_streaming() ? rpc_type::BIDI_STREAMING : rpc_type::CLIENT_STREAMING)
                                               : (m->server_streaming() ? rpc_type::SERVER_STREAMING : rpc_type::UNARY);
      std::string path = "/" + std::string(name) + "/" + m->name();
      auto counts = make_counts(path, type_label(t));
      auto [it, inserted] = known_.emplace(std::move(path), std::move(counts));
      if (inserted) by_path_.emplace(it->first, it->second.get());
    }
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> rpc_counters::interceptor_factory() {
  return std::make_unique<counting_factory>(*this);
}

rpc_counters::method_counts& rpc_counters::counts_for(std::string_view path, rpc_type type) {
  if (auto it = by_path_.find(path); it != by_path_.end()) return *it->second;
  std::lock_guard lock(mu_);
  auto it = others_.find(path);
  if (it == others_.end()) it = others_.emplace(std::string(path), make_counts(path, type_label(type))).first;
  return *it->second;
}

void rpc_counters::write(std::string& out) const {
  std::lock_guard lock(mu_);
  auto each = [&](auto&& fn) {
    for (const auto& [path, m] : known_) fn(*m);
    for (const auto& [path, m] : others_) fn(*m);
  };
  auto labels = [](const method_counts& m) {
    return fmt::format("grpc_method=\"{}\",grpc_service=\"{}\",grpc_type=\"{}\"", m.method, m.service, m.type);
  };
  family(out, "grpc_server_handled_total", "counter", "RPCs completed, by method and status code.");
  each([&](const method_counts& m) {
    for (std::size_t code = 0; code < m.handled.size(); ++code) {
      const auto n = m.handled[code].load(std::memory_order_relaxed);
      if (n != 0) out += fmt::format("grpc_server_handled_total{{grpc_code=\"{}\",{}}} {}\n", code_labels[code], labels(m), n);
    }
  });
  family(out, "grpc_server_msg_received_total", "counter", "Stream messages received, by method.");
  each([&](const method_counts& m) {
    out += fmt::format("grpc_server_msg_received_total{{{}}} {}\n", labels(m), m.received.load(std::memory_order_relaxed));
  });
  family(out, "grpc_server_msg_sent_total", "counter", "Stream messages sent, by method.");
  each([&](const method_counts& m) {
    out += fmt::format("grpc_server_msg_sent_total{{{}}} {}\n", labels(m), m.sent.load(std::memory_order_relaxed));
  });
  family(out, "grpc_server_started_total", "counter", "RPCs started, by method.");
  each([&](const method_counts& m) {
    out += fmt::format("grpc_server_started_total{{{}}} {}\n", labels(m), m.started.load(std::memory_order_relaxed));
  });
}

std::string prometheus_text(const rpc_counters& counters, const context& c) {
  std::string out;
  const auto stats = c.store->statistics();
  auto gauge = [&](const char* name, const char* type, const char* help, const std::string& labels, auto value) {
    family(out, name, type, help);
    out += fmt::format("{}{} {}\n", name, labels, value);
  };
  // One member, its own leader since it started; version and id as etcd labels them.
  gauge("etcd_cluster_version", "gauge", "The cluster's version, as a label; always 1.", "{cluster_version=\"3.4\"}", 1);
  gauge("etcd_debugging_mvcc_compact_revision", "gauge", "The last compacted revision (-1: none).", "",
        c.store->compacted_revision());
  gauge("etcd_debugging_mvcc_current_revision", "gauge", "The store's current revision.", "", c.store->revision());
  gauge("etcd_debugging_mvcc_db_total_size_in_bytes", "gauge", "Bytes the store holds, as its quota counts them.", "",
        stats.bytes);
  gauge("etcd_debugging_mvcc_keys_total", "gauge", "Live keys.", "", stats.keys);
  gauge("etcd_mvcc_db_total_size_in_bytes", "gauge", "Bytes the store holds, as its quota counts them.", "", stats.bytes);
  gauge("etcd_mvcc_db_total_size_in_use_in_bytes", "gauge", "Bytes the store holds, as its quota counts them.", "",
        stats.bytes);
  gauge("etcd_server_has_leader", "gauge", "1: this member has a leader (itself).", "", 1);
  gauge("etcd_server_id", "gauge", "This member's id, as a label; always 1.",
        fmt::format("{{server_id=\"{:x}\"}}", c.identity.member_id), 1);
  gauge("etcd_server_is_leader", "gauge", "1: this member leads.", "", 1);
  gauge("etcd_server_is_learner", "gauge", "1: this member is a learner.", "", 0);
  gauge("etcd_server_leader_changes_seen_total", "counter", "Leader changes this member has seen.", "", 1);
  gauge("etcd_server_version", "gauge", "The etcd version served, as a label; always 1.", "{server_version=\"3.4.23\"}", 1);
  counters.write(out);
  return out;
}

}  // namespace leasekv::server_detail
