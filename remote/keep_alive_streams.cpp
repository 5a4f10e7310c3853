#include "keep_alive_streams.hpp"

#include "convert.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>

#include <algorithm>
#include <atomic>
#include <utility>

namespace leasekv::remote_detail {

// One keep-alive handle's delivery: the handler runs under `mu`, which cancel() takes, so no handler runs
// after cancel() returns (recursive: the handler may cancel its own stream).
struct keep_alive_entry {
  lease_id id = no_lease;
  boost::asio::any_io_executor executor;
  keep_alive_handler handler;
  std::recursive_mutex mu;
  // Set under mu; read without it by the renewal thread, which must not wait for a running handler.
  std::atomic<bool> cancelled{false};

  static void deliver(const std::shared_ptr<keep_alive_entry>& e, boost::system::error_code ec,
                      lease_keep_alive_response r) {
    boost::asio::post(e->executor, [e, ec, r = std::move(r)] {
      std::lock_guard lock(e->mu);
      if (e->cancelled.load()) return;
      if (ec) e->cancelled.store(true);  // lease_not_found is the last call
      e->handler(ec, r);
    });
  }
  void cancel() {
    std::lock_guard lock(mu);
    cancelled.store(true);
  }
};

namespace {

class remote_keep_alive final : public keep_alive {
 public:
  explicit remote_keep_alive(std::shared_ptr<keep_alive_entry> e) : e_(std::move(e)) {}
  ~remote_keep_alive() override { cancel(); }
  lease_id id() const override { return e_->id; }
  void cancel() override { e_->cancel(); }

 private:
  std::shared_ptr<keep_alive_entry> e_;
};

using clock_type = std::chrono::steady_clock;

}  // namespace

keep_alive_streams::~keep_alive_streams() { close(); }

result<std::unique_ptr<keep_alive>> keep_alive_streams::start(lease_id id, const lease_keep_alive_response& first,
                                                              boost::asio::any_io_executor ex,
                                                              keep_alive_handler handler) {
  auto e = std::make_shared<keep_alive_entry>();
  e->id = id;
  e->executor = ex ? std::move(ex) : boost::asio::any_io_executor(boost::asio::system_executor());
  e->handler = std::move(handler);
  {
    std::lock_guard lock(mu_);
    if (closing_) return errc::closed;
    auto& l = leases_[id];
    const auto now = clock_type::now();
    l.ttl = std::chrono::seconds(std::max<std::int64_t>(1, first.ttl));
    l.deadline = now + l.ttl;
    l.next_renewal = now + std::max<clock_type::duration>(std::chrono::milliseconds(100), l.ttl / 3);
    l.entries.push_back(e);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    cv_.notify_all();
  }
  keep_alive_entry::deliver(e, {}, first);
  return std::unique_ptr<keep_alive>(std::make_unique<remote_keep_alive>(std::move(e)));
}

void keep_alive_streams::lost(lease_id id, const response_header& h) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  lease_keep_alive_response r;
  r.header = h;
  r.id = id;
  for (auto& w : it->second.entries) {
    if (auto e = w.lock()) keep_alive_entry::deliver(e, make_error_code(errc::lease_not_found), r);
  }
  leases_.erase(it);
}

void keep_alive_streams::on_response(const etcdserverpb::LeaseKeepAliveResponse& resp) {
  std::lock_guard lock(mu_);
  auto it = leases_.find(resp.id());
  if (it == leases_.end()) return;
  if (resp.ttl() <= 0) return lost(resp.id(), from_pb(resp.header()));
  auto& l = it->second;
  const auto now = clock_type::now();
  l.ttl = std::chrono::seconds(resp.ttl());
  l.deadline = now + l.ttl;
  l.next_renewal = now + std::max<clock_type::duration>(std::chrono::milliseconds(100), l.ttl / 3);
  l.awaiting_since = {};
  lease_keep_alive_response r{from_pb(resp.header()), resp.id(), resp.ttl(), std::chrono::seconds(resp.ttl())};
  for (auto& w : l.entries) {
    if (auto e = w.lock()) keep_alive_entry::deliver(e, {}, r);
  }
}

void keep_alive_streams::run() {
  stream_backoff backoff(conn_->options().retry_backoff);
  const auto timeout = conn_->options().call_timeout;
  while (true) {
    std::size_t index = 0;
    auto ch = conn_->channel(&index);
    auto stub = etcdserverpb::Lease::NewStub(ch);
    auto ctx = stream_context();
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      ctx_ = ctx;
      broken_ = false;
      for (auto& [id, l] : leases_) {
        l.awaiting_since = {};
        l.next_renewal = std::min(l.next_renewal, clock_type::now());  // renew at once on a new stream
      }
    }
    std::shared_ptr<stream_type> stream(stub->LeaseKeepAlive(ctx.get()));
    std::thread reader([this, stream] {
      etcdserverpb::LeaseKeepAliveResponse resp;
      while (stream->Read(&resp)) on_response(resp);
      std::lock_guard lock(mu_);
      broken_ = true;
      cv_.notify_all();
    });
    const auto opened = clock_type::now();
    while (true) {
      std::vector<lease_id> due;
      {
        std::unique_lock lock(mu_);
        if (closing_ || broken_) break;
        const auto now = clock_type::now();
        auto wake = now + std::chrono::milliseconds(500);
        for (auto it = leases_.begin(); it != leases_.end();) {
          auto& l = it->second;
          std::erase_if(l.entries, [](const auto& w) {
            auto e = w.lock();
            return !e || e->cancelled.load();
          });
          if (l.entries.empty()) {
            it = leases_.erase(it);
            continue;
          }
          if (now >= l.deadline) {  // its TTL ran out with no renewal acknowledged: it is gone
            const lease_id id = it->first;
            ++it;
            lost(id, {});
            continue;
          }
          if (l.awaiting_since != clock_type::time_point{}) {
            if (now - l.awaiting_since > timeout) broken_ = true;  // unanswered: the server is not serving
          } else {
            if (now >= l.next_renewal) {
              due.push_back(it->first);
              l.awaiting_since = now;
            } else {
              wake = std::min(wake, l.next_renewal);
            }
          }
          wake = std::min(wake, l.deadline);
          ++it;
        }
        if (broken_) break;
        if (due.empty()) {
          cv_.wait_until(lock, wake);
          continue;
        }
      }
      for (const lease_id id : due) {
        etcdserverpb::LeaseKeepAliveRequest req;
        req.set_id(id);
        if (!stream->Write(req)) break;
      }
    }
    ctx->TryCancel();
    reader.join();
    stream->Finish();
    const bool worked = clock_type::now() - opened > std::chrono::seconds(1);
    if (!next_attempt(mu_, cv_, ctx_, closing_, *conn_, index, backoff.after(worked))) return;
  }
}

void keep_alive_streams::close() {
  std::vector<std::shared_ptr<keep_alive_entry>> all;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    if (ctx_) ctx_->TryCancel();
    for (auto& [id, l] : leases_) {
      for (auto& w : l.entries) {
        if (auto e = w.lock()) all.push_back(e);
      }
    }
    leases_.clear();
    cv_.notify_all();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  for (auto& e : all) e->cancel();
}

}  // namespace leasekv::remote_detail
