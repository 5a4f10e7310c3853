// leasekv::server — the bbolt database an etcd 3.4 member would hold for a leasekv store's data, made from
// the store's snapshot file (docs/storage-format.md), so that Maintenance.Snapshot streams what
// `etcdctl snapshot save` expects from etcd and `etcdctl snapshot status` / `snapshot restore` read.
//
// etcd's buckets (mvcc/kvstore.go, lease/lessor.go, etcdserver/api/membership, auth/store.go):
//   key      one entry per retained version: 8-byte big-endian main revision, '_', 8-byte big-endian
//            sub-revision (and 't' for a deletion) -> the encoded mvccpb.KeyValue (a deletion: the key
//            alone). The store keeps etcd's sub-revisions and tombstones, so the entries are etcd's.
//   lease    8-byte big-endian lease id -> leasepb.Lease{ID, TTL in seconds}
//   meta     consistent_index (the store's revision, as Status reports its raft index), and after a
//            compaction scheduledCompactRev and finishedCompactRev (the compacted revision, sub 0)
//   members  this member, as etcd writes it (id in hex -> JSON); cluster: clusterVersion 3.4.0;
//   auth     authRevision 1; alarm, authRoles, authUsers, members_removed: empty.
// Users, roles and alarms, which leasekv-server keeps in memory only, are not included.
//
// The whole database is built in memory: a store of N bytes needs about 2N more while a snapshot is
// taken.
#pragma once

#include "leasekv/error.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace leasekv::server_detail {

struct etcd_member {
  std::uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
};

// The bbolt file's bytes (see bbolt_writer.hpp) for the leasekv snapshot at `path`. Fails with
// errc::corrupt (the detail names the file and offset) if it is not a whole snapshot, or with the
// system's error if it cannot be read.
result<std::string> etcd_backend_from_snapshot(const std::string& path, const etcd_member& member);

// etcd's HashKV over that key bucket (mvcc/kvstore.go HashByRev): CRC-32C of "key" and each entry, in
// revision order, up to revision `rev` (0: the snapshot's), where entries at or below the compacted
// revision count only if a compaction at `rev` would keep them. Since the bucket is etcd's, so is the
// hash, for the same history. Fails with errc::compacted if rev <= the compacted revision, with
// future_revision if above the snapshot's, or as etcd_backend_from_snapshot does.
struct hash_kv_result {
  std::uint32_t hash = 0;
  std::int64_t revision = 0;          // the snapshot's revision
  std::int64_t compact_revision = 0;  // -1 if never compacted
};
result<hash_kv_result> hash_kv_from_snapshot(const std::string& path, std::int64_t rev);

}  // namespace leasekv::server_detail
