// A store that forwards every call to another and counts each by name: a second backend behind the store
// interface, for tests that check which calls go through it, or that step in (override a call, and
// forward to this class's).
//
// Thread safety: as the inner store's; the count is guarded.
#pragma once

#include <leasekv/leasekv.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace leasekv::testing {

class forwarding_store : public store {
 public:
  explicit forwarding_store(std::unique_ptr<store> inner) : inner_(std::move(inner)) {}
  ~forwarding_store() override { detach_anchor(); }

  // Calls so far by name. Read it once the calls are done.
  std::map<std::string, int> calls;

  result<put_response> put(std::string_view key, std::string_view value, put_options o) override {
    return count("put"), inner_->put(key, value, o);
  }
  result<range_response> range(const key_range& r, range_options o) override { return count("range"), inner_->range(r, o); }
  result<range_view_response> range_view(const key_range& r, range_options o) override {
    return count("range_view"), inner_->range_view(r, o);
  }
  result<delete_response> delete_range(const key_range& r, delete_options o) override {
    return count("delete_range"), inner_->delete_range(r, o);
  }
  result<txn_response> txn(const txn_request& t) override { return count("txn"), inner_->txn(t); }
  using store::txn;
  result<compact_response> compact(std::int64_t rev, compact_options o) override { return count("compact"), inner_->compact(rev, o); }
  std::int64_t revision() const override { return inner_->revision(); }
  std::int64_t compacted_revision() const override { return inner_->compacted_revision(); }
  result<lease_grant_response> grant(std::chrono::milliseconds ttl, lease_id id) override {
    return count("grant"), inner_->grant(ttl, id);
  }
  result<lease_revoke_response> revoke(lease_id id) override { return count("revoke"), inner_->revoke(id); }
  result<lease_keep_alive_response> keep_alive_once(lease_id id) override {
    return count("keep_alive_once"), inner_->keep_alive_once(id);
  }
  result<std::unique_ptr<keep_alive>> start_keep_alive(lease_id id, boost::asio::any_io_executor ex,
                                                       keep_alive_handler handler) override {
    return count("start_keep_alive"), inner_->start_keep_alive(id, std::move(ex), std::move(handler));
  }
  result<lease_time_to_live_response> time_to_live(lease_id id, time_to_live_options o) override {
    return count("time_to_live"), inner_->time_to_live(id, o);
  }
  result<lease_leases_response> leases() override { return count("leases"), inner_->leases(); }
  result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                         watch_handler handler) override {
    return count("watch"), inner_->watch(std::move(r), o, std::move(ex), std::move(handler));
  }
  using store::watch;
  result<void> save_snapshot(const std::string& path) override { return count("save_snapshot"), inner_->save_snapshot(path); }
  result<std::int64_t> refresh() override { return count("refresh"), inner_->refresh(); }
  void close() override { inner_->close(); }
  stats statistics() const override { return inner_->statistics(); }

 private:
  int count(const char* call) {
    std::lock_guard lock(calls_mu_);
    return ++calls[call];
  }
  std::mutex calls_mu_;
  std::unique_ptr<store> inner_;
};

}  // namespace leasekv::testing
