#include "base/executor_liveness.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include <utility>
#include <vector>

namespace leasekv::base {

namespace {

// Lives as long as its context; shut down before the context's scheduler (services shut down newest
// first, and the scheduler is the context's first).
class liveness_service final : public boost::asio::execution_context::service {
 public:
  static boost::asio::execution_context::id id;

  explicit liveness_service(boost::asio::execution_context& ctx)
      : boost::asio::execution_context::service(ctx), liveness_(std::make_shared<context_liveness>()) {}
  const std::shared_ptr<context_liveness>& liveness() const { return liveness_; }

 private:
  void shutdown() override { liveness_->shut_down(); }  // may run twice (thread_pool): idempotent

  std::shared_ptr<context_liveness> liveness_;
};

boost::asio::execution_context::id liveness_service::id;

}  // namespace

std::shared_ptr<context_liveness> context_liveness::of(boost::asio::execution_context& ctx) {
  return boost::asio::use_service<liveness_service>(ctx).liveness();
}

std::shared_ptr<context_liveness> context_liveness::of(const boost::asio::any_io_executor& ex) {
  return of(boost::asio::query(ex, boost::asio::execution::context));
}

bool context_liveness::alive() const {
  std::lock_guard lock(mu_);
  return alive_;
}

context_liveness::registration context_liveness::on_shutdown(std::function<void()> cleanup) {
  std::lock_guard lock(mu_);
  if (!alive_) return {};
  const std::uint64_t id = next_id_++;
  cleanups_.emplace(id, std::move(cleanup));
  return {shared_from_this(), id};
}

void context_liveness::unregister(std::uint64_t id) {
  std::lock_guard lock(mu_);
  cleanups_.erase(id);
}

void context_liveness::shut_down() {
  std::map<std::uint64_t, std::function<void()>> run;
  {
    std::lock_guard lock(mu_);  // waits for a run_if_alive in progress
    alive_ = false;
    run.swap(cleanups_);
  }
  for (auto& [id, cleanup] : run) cleanup();
}

context_liveness::registration& context_liveness::registration::operator=(registration&& o) noexcept {
  if (this != &o) {
    reset();
    owner_ = std::move(o.owner_);
    id_ = o.id_;
  }
  return *this;
}

void context_liveness::registration::reset() {
  if (owner_) owner_->unregister(id_);
  owner_.reset();
}

}  // namespace leasekv::base
