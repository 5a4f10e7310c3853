// The reference model: etcd's key-value semantics in the plainest form — a std::map of every key's full
// history, scanned linearly. Model-based tests run the same operations here and on the store and compare
// every response. It never forgets history: compaction only moves the floor below which reads fail, so
// the store's physical removal must never change an answer.
//
// Its request validation (keys provided, ignore_* flags, txn op counts, duplicate keys, sizes, and the
// order of those errors) is its own, written from etcd 3.4's documented behaviour, never leasekv's: a
// deviation in the library's validation shows as a mismatch.
#pragma once

#include <leasekv/leasekv.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace leasekv::testing {

class reference_model {
 public:
  explicit reference_model(std::size_t max_request_bytes = 1572864, std::size_t max_txn_ops = 128)
      : max_request_bytes_(max_request_bytes), max_txn_ops_(max_txn_ops) {}

  result<put_response> put(const std::string& key, const std::string& value, put_options o = {});
  result<range_response> range(const key_range& r, range_options o = {});
  result<delete_response> delete_range(const key_range& r, delete_options o = {});
  result<txn_response> txn(const txn_request& t);
  result<compact_response> compact(std::int64_t rev);

  std::int64_t revision() const { return current_; }

  // Leases, on a millisecond clock that starts at 0. A lease's keys are not tracked separately: they are
  // the keys whose current version names it, which is what etcd's attachment rules amount to.
  struct model_lease {
    std::int64_t ttl_ms;
    std::int64_t deadline_ms;
  };
  std::map<lease_id, model_lease> leases;
  result<lease_grant_response> grant(std::int64_t ttl_ms, lease_id id);
  result<lease_revoke_response> revoke(lease_id id);
  result<lease_keep_alive_response> keep_alive(lease_id id);
  lease_time_to_live_response time_to_live(lease_id id);
  lease_leases_response list_leases() const;
  // Moves the clock and expires what is due, by deadline then id.
  void advance(std::int64_t ms);

 private:
  struct record {
    std::int64_t main;
    bool tombstone;
    key_value kv;
  };
  result<void> check_put(const std::string& key, const std::string& value, const put_options& o) const;
  result<void> check_range(const key_range& r) const;
  result<void> check_txn(const txn_request& t) const;
  std::optional<key_value> visible(const std::string& key, std::int64_t rev) const;
  std::vector<key_value> visible_range(const key_range& r, std::int64_t rev) const;
  result<std::int64_t> read_rev(std::int64_t rev) const;
  range_response do_range(const key_range& r, const range_options& o, std::int64_t view) const;
  void do_put(const std::string& key, const std::string& value, const put_options& o, std::optional<key_value>* prev);
  std::int64_t do_delete(const key_range& r, std::vector<key_value>* prev);
  bool holds(const compare& c) const;
  void path_of(const txn_request& t, std::vector<bool>& path) const;
  result<void> check(const txn_request& t, const std::vector<bool>& path, std::size_t& i, bool puts) const;
  void apply(const txn_request& t, const std::vector<bool>& path, std::size_t& i, txn_response& out);
  response_header header(std::int64_t rev) const { return {0, 0, rev, 0}; }
  std::int64_t write_rev();
  std::vector<std::string> lease_keys(lease_id id) const;
  std::int64_t now_ms_ = 0;

  std::size_t max_request_bytes_;
  std::size_t max_txn_ops_;
  std::map<std::string, std::vector<record>> history_;
  std::int64_t current_ = 1;
  std::int64_t compacted_ = -1;
  bool in_write_ = false;
  bool wrote_ = false;
};

}  // namespace leasekv::testing
