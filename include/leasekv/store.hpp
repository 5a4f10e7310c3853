// leasekv — the store: an embedded key-value store with etcd v3's MVCC semantics.
//
//   auto store = leasekv::store::open({}).value();              // in-memory
//   auto put   = store->put("/tmp/pid", "2187").value();        // put.header.revision == 2
//   auto got   = store->get("/tmp/pid").value();                // got.kvs[0].value == "2187"
//   auto page  = store->range(leasekv::prefix("/tmp/"), {.limit = 10}).value();
//
// Revisions: an empty store is at revision 1. Every call that changes something takes the next
// revision; calls that change nothing (deleting nothing, a txn whose branch writes nothing) do not.
//
// Thread safety: a store is safe to use from any number of threads at once. Every read sees one
// consistent revision; readers do not block each other; a write excludes readers only while it applies.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/txn.hpp"
#include "leasekv/types.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace spdlog {
class logger;
}

namespace leasekv {

struct options {
  // The largest request accepted, in bytes (keys + values + range ends). etcd's default: 1.5 MiB.
  std::size_t max_request_bytes = 1572864;
  // The most compares, or ops in one branch, of a txn. etcd's default: 128.
  std::size_t max_txn_ops = 128;
  // Identity reported in every response header; 0 picks a random one, fixed for the store's life.
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
  // Where the store logs; null (the default) keeps it silent.
  std::shared_ptr<spdlog::logger> logger;
};

class store {
 public:
  // Opens a store. With default options: an empty in-memory store at revision 1.
  static result<std::unique_ptr<store>> open(options opts = {});

  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Puts `value` at `key`. Fails with key_not_provided (empty key), request_too_large,
  // value_provided / lease_provided (ignore_* together with a value / lease), key_not_found (ignore_* on
  // a missing key). On failure nothing changes.
  result<put_response> put(std::string_view key, std::string_view value, put_options o = {});

  // Reads one key. Same as range(key, o).
  result<range_response> get(std::string_view key, range_options o = {});

  // Reads the keys of `r` as of o.revision (<= 0: now). Fails with key_not_provided, compacted (below
  // the compacted revision) or future_revision. The header carries the current revision.
  result<range_response> range(const key_range& r, range_options o = {});

  // Deletes the keys of `r` at one revision. Deleting nothing takes no revision.
  result<delete_response> delete_range(const key_range& r, delete_options o = {});

  // Runs a transaction; see txn.hpp. Validation errors (too_many_ops, duplicate_key, key_not_provided,
  // key_not_found, compacted, future_revision, request_too_large) leave the store unchanged.
  result<txn_response> txn(const txn_request& t);
  txn_builder txn() { return txn_builder(*this); }

  // Forgets the versions superseded at or before `revision`: reads below it then fail with compacted.
  // Fails with compacted if revision <= the compacted revision, future_revision if above the current.
  // Memory is freed before the call returns, in batches so that concurrent writers keep going.
  result<compact_response> compact(std::int64_t revision, compact_options o = {});

  // The current revision, and the compacted revision (-1 if never compacted, as in etcd).
  std::int64_t revision() const;
  std::int64_t compacted_revision() const;

  // Statistics for tests and tools.
  struct stats {
    std::size_t keys = 0;          // live keys at the current revision
    std::size_t index_entries = 0; // keys with any retained history (live or tombstoned)
    std::size_t versions = 0;      // retained versions, tombstones included
  };
  stats statistics() const;

 private:
  struct impl;
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace leasekv
