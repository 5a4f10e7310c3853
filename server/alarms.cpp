#include "alarms.hpp"

#include <string>

namespace leasekv::server_detail {

alarm_member alarm_table::activate(std::uint64_t member, std::int32_t type) {
  std::lock_guard lock(mu_);
  const bool first = count_locked(type) == 0;
  const bool added = raised_.emplace(type, member).second;
  if (added && first) {
    if (type == alarm_nospace) mode_ = mode::capped;
    if (type == alarm_corrupt) mode_ = mode::corrupt;
  }
  return {member, type};
}

std::optional<alarm_member> alarm_table::deactivate(std::uint64_t member, std::int32_t type) {
  std::lock_guard lock(mu_);
  if (raised_.erase({type, member}) == 0) return std::nullopt;
  // As etcd: lifting the last alarm of either kind restores normal writes, whatever else is raised.
  if (count_locked(type) == 0 && (type == alarm_nospace || type == alarm_corrupt)) mode_ = mode::normal;
  return alarm_member{member, type};
}

std::vector<alarm_member> alarm_table::get(std::int32_t type) const {
  std::lock_guard lock(mu_);
  std::vector<alarm_member> out;
  for (const auto& [t, m] : raised_) {
    if (type == alarm_none || t == type) out.push_back({m, t});
  }
  return out;
}

alarm_table::mode alarm_table::current() const {
  std::lock_guard lock(mu_);
  return mode_;
}

std::size_t alarm_table::count_locked(std::int32_t type) const {
  auto first = raised_.lower_bound({type, 0});
  auto last = raised_.upper_bound({type, UINT64_MAX});
  return static_cast<std::size_t>(std::distance(first, last));
}

std::string alarm_text(const alarm_member& a) {
  std::string s;
  if (a.member_id != 0) s += "memberID:" + std::to_string(a.member_id) + " ";
  if (a.type == alarm_nospace) s += "alarm:NOSPACE ";
  else if (a.type == alarm_corrupt) s += "alarm:CORRUPT ";
  else if (a.type != alarm_none) s += "alarm:" + std::to_string(a.type) + " ";
  return s;
}

namespace {

class server_error_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "leasekv-server"; }
  std::string message(int) const override { return "etcdserver: corrupt cluster"; }
};

const server_error_category& server_category() noexcept {
  static const server_error_category c;
  return c;
}

// etcd's backendQuota.Cost for a txn is above zero only if a top-level branch holds a put.
bool puts_anything(const txn_request& t) {
  for (const auto* branch : {&t.success, &t.failure}) {
    for (const auto& op : *branch) {
      if (op.type == request_op::kind::put) return true;
    }
  }
  return false;
}

// etcd serves a txn whose top-level ops are all ranges without raft, so no applier refuses it.
bool read_only(const txn_request& t) {
  for (const auto* branch : {&t.success, &t.failure}) {
    for (const auto& op : *branch) {
      if (op.type != request_op::kind::range) return false;
    }
  }
  return true;
}

class gated_store final : public store {
 public:
  gated_store(std::shared_ptr<store> inner, std::shared_ptr<alarm_table> alarms, std::uint64_t member)
      : inner_(std::move(inner)), alarms_(std::move(alarms)), member_(member) {}
  ~gated_store() override { detach_anchor(); }

  result<put_response> put(std::string_view key, std::string_view value, put_options o) override {
    if (auto refused = refuse(true)) return *refused;
    return noting_no_space(inner_->put(key, value, o));
  }
  result<range_response> range(const key_range& r, range_options o) override { return inner_->range(r, o); }
  result<range_view_response> range_view(const key_range& r, range_options o) override {
    return inner_->range_view(r, o);
  }
  result<delete_response> delete_range(const key_range& r, delete_options o) override {
    if (auto refused = refuse(false)) return *refused;
    return inner_->delete_range(r, o);
  }
  result<txn_response> txn(const txn_request& t) override {
    if (!read_only(t)) {
      if (auto refused = refuse(puts_anything(t))) return *refused;
    }
    return noting_no_space(inner_->txn(t));
  }
  result<compact_response> compact(std::int64_t revision, compact_options o) override {
    if (auto refused = refuse(false)) return *refused;
    return inner_->compact(revision, o);
  }
  std::int64_t revision() const override { return inner_->revision(); }
  std::int64_t compacted_revision() const override { return inner_->compacted_revision(); }

  result<lease_grant_response> grant(std::chrono::milliseconds ttl, lease_id id) override {
    if (auto refused = refuse(true)) return *refused;
    return noting_no_space(inner_->grant(ttl, id));
  }
  result<lease_revoke_response> revoke(lease_id id) override {
    if (auto refused = refuse(false)) return *refused;
    return inner_->revoke(id);
  }
  result<lease_keep_alive_response> keep_alive_once(lease_id id) override { return inner_->keep_alive_once(id); }
  result<std::unique_ptr<keep_alive>> start_keep_alive(lease_id id, boost::asio::any_io_executor ex,
                                                       keep_alive_handler handler) override {
    return inner_->start_keep_alive(id, std::move(ex), std::move(handler));
  }
  result<lease_time_to_live_response> time_to_live(lease_id id, time_to_live_options o) override {
    return inner_->time_to_live(id, o);
  }
  result<lease_leases_response> leases() override { return inner_->leases(); }

  result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                         watch_handler handler) override {
    return inner_->watch(std::move(r), o, std::move(ex), std::move(handler));
  }
  result<void> save_snapshot(const std::string& path) override { return inner_->save_snapshot(path); }
  result<std::int64_t> refresh() override { return inner_->refresh(); }
  void close() override { inner_->close(); }
  stats statistics() const override { return inner_->statistics(); }

 private:
  // The refusal the alarms give a write (`adds` if it adds data: a put, a txn with a top-level put, a
  // grant), or nothing.
  std::optional<error> refuse(bool adds) const {
    switch (alarms_->current()) {
      case alarm_table::mode::normal: return std::nullopt;
      case alarm_table::mode::capped: return adds ? std::optional<error>(errc::no_space) : std::nullopt;
      case alarm_table::mode::corrupt: return error(corrupt_error());
    }
    return std::nullopt;
  }

  template <class T>
  result<T> noting_no_space(result<T> r) {
    if (!r && r.error() == errc::no_space) alarms_->activate(member_, alarm_nospace);
    return r;
  }

  const std::shared_ptr<store> inner_;
  const std::shared_ptr<alarm_table> alarms_;
  const std::uint64_t member_;
};

}  // namespace

const boost::system::error_code& corrupt_error() noexcept {
  static const boost::system::error_code ec(1, server_category());
  return ec;
}

std::shared_ptr<store> gate_by_alarms(std::shared_ptr<store> inner, std::shared_ptr<alarm_table> alarms,
                                      std::uint64_t member) {
  return std::make_shared<gated_store>(std::move(inner), std::move(alarms), member);
}

}  // namespace leasekv::server_detail
