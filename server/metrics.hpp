// leasekv::server — what /metrics reports: gRPC call counts, counted by an interceptor as etcd's
// go-grpc-prometheus counts them, and etcd's gauges read from the store when asked.
#pragma once

#include "services.hpp"

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace leasekv::server_detail {

// Call counts per method: started, handled per status code, messages received and sent.
//
// The methods of the services a leasekv server registers (etcd's, lock, election, health) are known
// from a table at construction and counted without a lock; a method found nowhere (a path no service
// has) is counted under a mutex.
//
// Thread safety: interceptor_factory()'s interceptors count from gRPC's threads while write() reads;
// counters are relaxed atomics, so a scrape may see one call started but not yet handled.
class rpc_counters {
 public:
  rpc_counters();
  rpc_counters(const rpc_counters&) = delete;
  rpc_counters& operator=(const rpc_counters&) = delete;

  // An interceptor factory for a grpc::ServerBuilder; *this must outlive the server built.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> interceptor_factory();

  // Appends the grpc_server_* families in Prometheus' text format: started_total for every known method
  // (0 included, as etcd), handled_total for each status code seen, msg_received_total, msg_sent_total.
  void write(std::string& out) const;

  struct method_counts {
    std::string service, method, type;  // "etcdserverpb.KV", "Range", "unary"
    std::atomic<std::uint64_t> started{0}, received{0}, sent{0};
    std::array<std::atomic<std::uint64_t>, 17> handled{};  // by grpc::StatusCode
  };
  method_counts& counts_for(std::string_view path, grpc::experimental::ServerRpcInfo::Type type);

 private:
  // Filled in the constructor, then only read: the known methods by path ("/etcdserverpb.KV/Range").
  std::map<std::string, std::unique_ptr<method_counts>, std::less<>> known_;
  std::unordered_map<std::string_view, method_counts*> by_path_;
  mutable std::mutex mu_;  // guards others_
  std::map<std::string, std::unique_ptr<method_counts>, std::less<>> others_;
};

// The whole /metrics page: counters' families, then etcd's gauges for this member and its store.
std::string prometheus_text(const rpc_counters& counters, const context& c);

}  // namespace leasekv::server_detail
