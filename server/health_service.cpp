// grpc.health.v1.Health, as grpc-go's health server answers it (etcd registers one, SERVING for "").
#include "services.hpp"

#include <algorithm>
#include <atomic>

namespace leasekv::server_detail {
namespace {

using grpc::health::v1::HealthCheckResponse;

// Watch: the status now, then nothing more (it never changes while the server runs) until the client
// cancels or the server shuts down.
class health_watch final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  explicit health_watch(HealthCheckResponse::ServingStatus s) {
    resp_.set_status(s);
    StartWrite(&resp_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) end();
  }
  void OnCancel() override { end(); }
  void OnDone() override { delete this; }

 private:
  // A failed write and the cancellation may both come; Finish only once.
  void end() {
    if (!ended_.exchange(true)) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "health watch cancelled"));
  }

  HealthCheckResponse resp_;
  std::atomic<bool> ended_{false};
};

}  // namespace

bool health_service::serves(const std::string& name) const {
  return name.empty() || std::find(services_.begin(), services_.end(), name) != services_.end();
}

grpc::ServerUnaryReactor* health_service::Check(grpc::CallbackServerContext* ctx,
                                                const grpc::health::v1::HealthCheckRequest* req,
                                                HealthCheckResponse* resp) {
  if (!serves(req->service())) return finish(ctx, grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  resp->set_status(HealthCheckResponse::SERVING);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerWriteReactor<HealthCheckResponse>* health_service::Watch(grpc::CallbackServerContext*,
                                                                     const grpc::health::v1::HealthCheckRequest* req) {
  return new health_watch(serves(req->service()) ? HealthCheckResponse::SERVING : HealthCheckResponse::SERVICE_UNKNOWN);
}

}  // namespace leasekv::server_detail
