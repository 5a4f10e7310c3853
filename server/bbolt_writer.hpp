// leasekv::server — writes a bbolt database file (go.etcd.io/bbolt 1.3, file format version 2), the
// storage etcd's snapshots are made of, so that `etcdctl snapshot status` and `snapshot restore` open
// what leasekv-server's Snapshot streams.
//
// The file is written whole and never updated, so its layout is the simplest bbolt accepts:
//
//   page 0, 1   meta pages (magic 0xED0CDAED, version 2, page size 4096, root bucket, freelist page,
//               high-water mark, txid; FNV-64a checksum of the fields before it)
//   page 2      an empty freelist: every page below the high-water mark is in use
//   page 3...   each bucket's B+tree, leaves first, then the branch levels above them, then the root
//               bucket's tree, whose leaf values are the buckets' headers (root page, sequence 0)
//
// A page holds a 16-byte header (id u64, flags u16, count u16, overflow u32), `count` 16-byte element
// headers, then the elements' keys and values; an element too large for a page makes it span overflow
// pages. Integers are little-endian (bbolt writes its structs in the machine's order; etcd's files come
// from x86 and arm64). bbolt's own checks (`tx.Check`, run by `etcdctl snapshot status`) hold: every page
// below the high-water mark is reachable exactly once, keys are in order.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace leasekv::server_detail {

struct bbolt_bucket {
  std::string name;
  std::vector<std::pair<std::string, std::string>> items;  // key -> value, ascending by key (bytewise)
};

// The database holding `buckets` (ascending by name, no two alike), as bytes: a multiple of 4096.
std::string write_bbolt(const std::vector<bbolt_bucket>& buckets);

}  // namespace leasekv::server_detail
