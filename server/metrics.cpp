#include "metrics.hpp"

#include <fmt/core.h>

namespace leasekv::server_detail {
namespace {

using rpc_type = grpc::experimental::ServerRpcInfo::Type;
using hook = grpc::experimental::InterceptionHookPoints;

// Every method of every service a leasekv server registers (server.cpp), with its call type, as the
// .proto files in proto/ declare them: counted from the start, so /metrics lists each with 0 as etcd does.
// A table rather than the protobuf descriptors, whose first use builds the descriptor pool: more than half
// of leasekv-server's start-up CPU and ~1 MB of code and heap (docs/performance.md, issue 20).
// tests/server/server_test.cpp checks it against the descriptors.
struct known_method {
  std::string_view path;  // "/etcdserverpb.KV/Range"
  rpc_type type;
};
constexpr known_method known_methods[] = {
    {"/etcdserverpb.KV/Range", rpc_type::UNARY},
    {"/etcdserverpb.KV/Put", rpc_type::UNARY},
    {"/etcdserverpb.KV/DeleteRange", rpc_type::UNARY},
    {"/etcdserverpb.KV/Txn", rpc_type::UNARY},
    {"/etcdserverpb.KV/Compact", rpc_type::UNARY},
    {"/etcdserverpb.Watch/Watch", rpc_type::BIDI_STREAMING},
    {"/etcdserverpb.Lease/LeaseGrant", rpc_type::UNARY},
    {"/etcdserverpb.Lease/LeaseRevoke", rpc_type::UNARY},
    {"/etcdserverpb.Lease/LeaseKeepAlive", rpc_type::BIDI_STREAMING},
    {"/etcdserverpb.Lease/LeaseTimeToLive", rpc_type::UNARY},
    {"/etcdserverpb.Lease/LeaseLeases", rpc_type::UNARY},
    {"/etcdserverpb.Cluster/MemberAdd", rpc_type::UNARY},
    {"/etcdserverpb.Cluster/MemberRemove", rpc_type::UNARY},
    {"/etcdserverpb.Cluster/MemberUpdate", rpc_type::UNARY},
    {"/etcdserverpb.Cluster/MemberList", rpc_type::UNARY},
    {"/etcdserverpb.Cluster/MemberPromote", rpc_type::UNARY},
    {"/etcdserverpb.Maintenance/Alarm", rpc_type::UNARY},
    {"/etcdserverpb.Maintenance/Status", rpc_type::UNARY},
    {"/etcdserverpb.Maintenance/Defragment", rpc_type::UNARY},
    {"/etcdserverpb.Maintenance/Hash", rpc_type::UNARY},
    {"/etcdserverpb.Maintenance/HashKV", rpc_type::UNARY},
    {"/etcdserverpb.Maintenance/Snapshot", rpc_type::SERVER_STREAMING},
    {"/etcdserverpb.Maintenance/MoveLeader", rpc_type::UNARY},
    {"/etcdserverpb.Auth/AuthEnable", rpc_type::UNARY},
    {"/etcdserverpb.Auth/AuthDisable", rpc_type::UNARY},
    {"/etcdserverpb.Auth/Authenticate", rpc_type::UNARY},
    {"/etcdserverpb.Auth/UserAdd", rpc_type::UNARY},
    {"/etcdserverpb.Auth/UserGet", rpc_type::UNARY},
    {"/etcdserverpb.Auth/UserList", rpc_type::UNARY},
    {"/etcdserverpb.Auth/UserDelete", rpc_type::UNARY},
    {"/etcdserverpb.Auth/UserChangePassword", rpc_type::UNARY},
    {"/etcdserverpb.Auth/UserGrantRole", rpc_type::UNARY},
    {"/etcdserverpb.Auth/UserRevokeRole", rpc_type::UNARY},
    {"/etcdserverpb.Auth/RoleAdd", rpc_type::UNARY},
    {"/etcdserverpb.Auth/RoleGet", rpc_type::UNARY},
    {"/etcdserverpb.Auth/RoleList", rpc_type::UNARY},
    {"/etcdserverpb.Auth/RoleDelete", rpc_type::UNARY},
    {"/etcdserverpb.Auth/RoleGrantPermission", rpc_type::UNARY},
    {"/etcdserverpb.Auth/RoleRevokePermission", rpc_type::UNARY},
    {"/v3lockpb.Lock/Lock", rpc_type::UNARY},
    {"/v3lockpb.Lock/Unlock", rpc_type::UNARY},
    {"/v3electionpb.Election/Campaign", rpc_type::UNARY},
    {"/v3electionpb.Election/Proclaim", rpc_type::UNARY},
    {"/v3electionpb.Election/Leader", rpc_type::UNARY},
    {"/v3electionpb.Election/Observe", rpc_type::SERVER_STREAMING},
    {"/v3electionpb.Election/Resign", rpc_type::UNARY},
    {"/grpc.health.v1.Health/Check", rpc_type::UNARY},
    {"/grpc.health.v1.Health/Watch", rpc_type::SERVER_STREAMING},
};

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
  for (const auto& k : known_methods) {
    auto [it, inserted] = known_.emplace(std::string(k.path), make_counts(k.path, type_label(k.type)));
    if (inserted) by_path_.emplace(it->first, it->second.get());
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
