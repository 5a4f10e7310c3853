#include "recipes.hpp"

#include "status.hpp"

#include <chrono>
#include <cstdio>

namespace leasekv::server_detail {

grpc::Status recipe_status(const error& e) {
  return grpc::Status(grpc::StatusCode::UNKNOWN, to_status(e).error_message());
}

grpc::Status recipe_status(const std::string& message) { return grpc::Status(grpc::StatusCode::UNKNOWN, message); }

result<lease_id> session_lease(context& c, lease_id requested) {
  if (requested != no_lease) return requested;
  constexpr std::chrono::seconds default_session_ttl{60};
  // As LeaseGrant: an id of ours may collide with one a client chose; take the next.
  for (int attempt = 0;; ++attempt) {
    auto r = c.store->grant(default_session_ttl, c.next_lease_id());
    if (r) return r.value().id;
    if (r.error() != errc::lease_exists || attempt == 15) return r.error();
  }
}

std::string session_key(std::string_view prefix, lease_id lease) {
  char hex[24];
  const auto magnitude = lease < 0 ? 0 - static_cast<unsigned long long>(lease) : static_cast<unsigned long long>(lease);
  std::snprintf(hex, sizeof hex, "%s%llx", lease < 0 ? "-" : "", magnitude);
  std::string key(prefix);
  key += hex;
  return key;
}

range_options first_created() {
  range_options o;
  o.order = sort_order::ascend;
  o.target = sort_target::create;
  o.limit = 1;
  return o;
}

range_options last_created_up_to(std::int64_t max_create_revision) {
  range_options o;
  o.order = sort_order::descend;
  o.target = sort_target::create;
  o.limit = 1;
  o.max_create_revision = max_create_revision;
  return o;
}

response_header with_ids(const context& c, response_header h) {
  if (h.cluster_id == 0) h = {c.identity.cluster_id, c.identity.member_id, h.revision, c.raft_term};
  return h;
}

wait_deletes::wait_deletes(std::shared_ptr<context> c, strand s, std::string prefix,
                           std::int64_t max_create_revision, handler h)
    : c_(std::move(c)),
      strand_(std::move(s)),
      prefix_(std::move(prefix)),
      max_create_revision_(max_create_revision),
      handler_(std::move(h)) {}

void wait_deletes::cancel() {
  done_ = true;
  if (watcher_) watcher_->cancel();
}

void wait_deletes::look() {
  if (done_) return;
  auto r = c_->store->range(leasekv::prefix(prefix_), last_created_up_to(max_create_revision_));
  if (!r) {
    complete(r.error());
    return;
  }
  if (r.value().kvs.empty()) {
    complete(r.value().header);
    return;
  }
  // The newest older key: wait for its delete, watching from the revision just read so that a delete
  // after the read is not missed.
  watch_options o;
  o.start_revision = r.value().header.revision;
  o.no_put = true;
  auto w = c_->store->watch(key_range(r.value().kvs.front().key), o, strand_,
                            [this](const watch_response& wr) { on_watch(wr); });
  if (!w) {
    complete(w.error());
    return;
  }
  if (watcher_) {
    watcher_->cancel();
    retired_ = std::move(watcher_);
  }
  watcher_ = std::move(w).value();
}

void wait_deletes::on_watch(const watch_response& r) {
  if (done_) return;
  if (r.canceled) {
    // A history compacted below the revision read: clientv3's watch ends with ErrCompacted.
    if (r.compact_revision != 0) {
      complete(error(errc::compacted));
    } else {
      complete(r.cancel_reason ? error(r.cancel_reason) : error(errc::watch_canceled));
    }
    return;
  }
  for (const auto& e : r.events) {
    if (e.type == watch_event::kind::del) {
      look();
      return;
    }
  }
}

void wait_deletes::complete(result<response_header> r) {
  done_ = true;
  if (watcher_) {
    watcher_->cancel();
    retired_ = std::move(watcher_);
  }
  handler_(std::move(r));
}

}  // namespace leasekv::server_detail
