// The embedded store: the store interface implemented in this process, over the MVCC store, the lessor,
// the watch hub and (optionally) a data directory. store::open() makes one; its state and write path are
// in store_impl.hpp, and its calls in the files named after what they serve (store.cpp: keys and
// lifetime; txn.cpp; store_leases.cpp; store_watch.cpp; persistence.cpp: snapshots and refresh).
//
// Thread safety: as store's.
#pragma once

#include "leasekv/store.hpp"

#include <memory>

namespace leasekv {

class embedded_store final : public store {
 public:
  struct impl;
  explicit embedded_store(std::unique_ptr<impl> p);
  ~embedded_store() override;

  result<put_response> put(std::string_view key, std::string_view value, put_options o) override;
  result<range_response> range(const key_range& r, range_options o) override;
  result<range_view_response> range_view(const key_range& r, range_options o) override;
  result<delete_response> delete_range(const key_range& r, delete_options o) override;
  result<txn_response> txn(const txn_request& t) override;
  using store::txn;
  result<compact_response> compact(std::int64_t revision, compact_options o) override;
  std::int64_t revision() const override;
  std::int64_t compacted_revision() const override;

  result<lease_grant_response> grant(std::chrono::milliseconds ttl, lease_id id) override;
  result<lease_revoke_response> revoke(lease_id id) override;
  result<lease_keep_alive_response> keep_alive_once(lease_id id) override;
  result<std::unique_ptr<keep_alive>> start_keep_alive(lease_id id, boost::asio::any_io_executor ex,
                                                       keep_alive_handler handler) override;
  result<lease_time_to_live_response> time_to_live(lease_id id, time_to_live_options o) override;
  result<lease_leases_response> leases() override;

  result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                         watch_handler handler) override;
  using store::watch;

  result<void> save_snapshot(const std::string& path) override;
  result<std::int64_t> refresh() override;
  void close() override;
  stats statistics() const override;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace leasekv
