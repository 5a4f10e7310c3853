#include "etcd_backend.hpp"

#include "bbolt_writer.hpp"

#include "kv.pb.h"

#include <boost/crc.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <string_view>

namespace leasekv::server_detail {
namespace {

// Reads the little-endian fields of docs/storage-format.md; every get fails once past the end.
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  template <class T>
  bool get(T& v) {
    if (in_.size() < sizeof(T)) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) x |= std::uint64_t{static_cast<unsigned char>(in_[i])} << (8 * i);
    v = static_cast<T>(x);
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool get_bytes(std::string_view& v) {
    std::uint32_t n = 0;
    if (!get(n) || in_.size() < n) return false;
    v = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

std::string big_endian(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

std::uint64_t read_big_endian(std::string_view s, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// etcd's revision key: main, '_', sub (mvcc/revision.go).
std::string revision_key(std::int64_t main, std::int64_t sub) {
  return big_endian(static_cast<std::uint64_t>(main)) + "_" + big_endian(static_cast<std::uint64_t>(sub));
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// leasepb.Lease{ID = 1, TTL = 2} (zero fields left out, as protobuf does).
std::string encode_lease(std::int64_t id, std::int64_t ttl_seconds) {
  std::string out;
  if (id != 0) {
    out.push_back(0x08);
    put_varint(out, static_cast<std::uint64_t>(id));
  }
  if (ttl_seconds != 0) {
    out.push_back(0x10);
    put_varint(out, static_cast<std::uint64_t>(ttl_seconds));
  }
  return out;
}

// A JSON string as Go's encoding/json writes it (<, > and & escaped too).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string json_strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + json_string(v[i]);
  return out + "]";
}

// etcd's membership.Member as JSON (empty name and client URLs left out, as its omitempty tags say).
std::string member_json(const etcd_member& m) {
  std::string out = "{\"id\":" + std::to_string(m.id) + ",\"peerURLs\":" + json_strings(m.peer_urls);
  if (!m.name.empty()) out += ",\"name\":" + json_string(m.name);
  if (!m.client_urls.empty()) out += ",\"clientURLs\":" + json_strings(m.client_urls);
  return out + "}";
}

error damaged(const std::string& path, std::size_t offset) {
  return error(errc::corrupt, path + ": not a whole leasekv snapshot at offset " + std::to_string(offset));
}

// What etcd's buckets need from a leasekv snapshot file.
struct snapshot_contents {
  std::int64_t revision = 0;
  std::int64_t compacted = -1;
  std::vector<std::pair<std::string, std::string>> keys;    // the key bucket, unsorted
  std::vector<std::pair<std::string, std::string>> leases;  // the lease bucket, unsorted
  std::set<std::pair<std::int64_t, std::int64_t>> keep;     // see read_snapshot's keep_at
};

// etcd's keyIndex.keep (mvcc/key_index.go): the revision of this key that a compaction at `at` would
// keep, if any. `revs` are the key's retained revisions, oldest first, `tombstone` marking deletions.
// A key's generations end at its deletions; the last one (possibly empty) is the current one.
struct key_revision {
  std::int64_t main = 0;
  std::int64_t sub = 0;
  bool tombstone = false;
};
void add_kept(const std::vector<key_revision>& revs, std::int64_t at, std::set<std::pair<std::int64_t, std::int64_t>>& keep) {
  std::vector<std::pair<std::size_t, std::size_t>> generations;  // [first, last) into revs
  std::size_t first = 0;
  for (std::size_t i = 0; i < revs.size(); ++i) {
    if (revs[i].tombstone) {
      generations.emplace_back(first, i + 1);
      first = i + 1;
    }
  }
  generations.emplace_back(first, revs.size());
  // The first generation holding `at` or made after it.
  std::size_t g = 0;
  while (g + 1 < generations.size() && revs[generations[g].second - 1].main <= at) ++g;
  const auto [begin, end] = generations[g];
  for (std::size_t i = end; i > begin; --i) {
    if (revs[i - 1].main > at) continue;
    // The newest revision at or before `at`, unless it is the deletion that ended its generation.
    if (!(i == end && g + 1 != generations.size())) keep.emplace(revs[i - 1].main, revs[i - 1].sub);
    break;
  }
}

// Reads a leasekv snapshot file. With keep_at (0: the snapshot's revision), also the revisions etcd's
// index would keep if compacted there (treeIndex.Keep), which etcd's HashKV needs.
result<snapshot_contents> read_snapshot(const std::string& path, std::optional<std::int64_t> keep_at = std::nullopt) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(boost::system::error_code(errno, boost::system::system_category()), path);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < 20 || file.compare(0, 8, "LKVSNAP1") != 0) return damaged(path, 0);
  snapshot_contents out;
  bool ended = false;
  std::size_t at = 20;
  mvccpb::KeyValue kv;
  while (!ended) {
    reader header(std::string_view(file).substr(at));
    std::uint32_t length = 0, check = 0, crc = 0;
    if (!header.get(length) || !header.get(check) || !header.get(crc) || check != ~length ||
        file.size() - at - 12 < length || length == 0) {
      return damaged(path, at);
    }
    const std::string_view body = std::string_view(file).substr(at + 12, length);
    reader r(body.substr(1));
    bool ok = true;
    switch (body[0]) {
      case 2: {  // meta: revision, compacted revision, cluster id, member id
        std::uint64_t cluster = 0, member_id = 0;
        ok = r.get(out.revision) && r.get(out.compacted) && r.get(cluster) && r.get(member_id);
        break;
      }
      case 3: {  // a key and its versions, oldest first
        std::string_view key;
        std::uint32_t n = 0;
        ok = r.get_bytes(key) && r.get(n);
        std::vector<key_revision> revs;
        for (std::uint32_t i = 0; ok && i < n; ++i) {
          std::int64_t mod = 0, sub = 0, create = 0, version = 0, lease = 0;
          std::string_view value;
          ok = r.get(mod) && r.get(sub) && r.get(create) && r.get(version) && r.get(lease) && r.get_bytes(value);
          if (!ok) break;
          revs.push_back({mod, sub, version == 0});
          kv.Clear();
          kv.set_key(std::string(key));
          if (version == 0) {  // a deletion: etcd stores the key alone, under a marked revision
            out.keys.emplace_back(revision_key(mod, sub) + "t", kv.SerializeAsString());
          } else {
            kv.set_create_revision(create);
            kv.set_mod_revision(mod);
            kv.set_version(version);
            kv.set_value(std::string(value));
            kv.set_lease(lease);
            out.keys.emplace_back(revision_key(mod, sub), kv.SerializeAsString());
          }
        }
        if (ok && keep_at) add_kept(revs, *keep_at == 0 ? out.revision : *keep_at, out.keep);
        break;
      }
      case 4: {  // a lease: id, TTL in ms, deadline
        std::int64_t id = 0, ttl_ms = 0, deadline = 0;
        ok = r.get(id) && r.get(ttl_ms) && r.get(deadline);
        if (ok) out.leases.emplace_back(big_endian(static_cast<std::uint64_t>(id)), encode_lease(id, (ttl_ms + 999) / 1000));
        break;
      }
      case 5: {  // the end
        std::uint64_t records = 0;
        ok = r.get(records);
        ended = true;
        break;
      }
      default:
        ok = false;
    }
    if (!ok || !r.empty()) return damaged(path, at);
    at += 12 + length;
  }
  return out;
}

}  // namespace

result<std::string> etcd_backend_from_snapshot(const std::string& path, const etcd_member& member) {
  auto read = read_snapshot(path);  // the file itself is let go before the database is built
  if (!read) return read.error();
  auto& c = read.value();
  auto& keys = c.keys;
  auto& leases = c.leases;
  std::sort(keys.begin(), keys.end());
  std::sort(leases.begin(), leases.end());

  std::vector<bbolt_bucket> buckets;  // by name
  buckets.push_back({"alarm", {}});
  buckets.push_back({"auth", {{"authRevision", big_endian(1)}}});
  buckets.push_back({"authRoles", {}});
  buckets.push_back({"authUsers", {}});
  buckets.push_back({"cluster", {{"clusterVersion", "3.4.0"}}});
  buckets.push_back({"key", std::move(keys)});
  buckets.push_back({"lease", std::move(leases)});
  char id_hex[17];
  std::snprintf(id_hex, sizeof id_hex, "%llx", static_cast<unsigned long long>(member.id));
  buckets.push_back({"members", {{id_hex, member_json(member)}}});
  buckets.push_back({"members_removed", {}});
  bbolt_bucket meta{"meta", {{"consistent_index", big_endian(static_cast<std::uint64_t>(c.revision))}}};
  if (c.compacted > 0) {
    // etcd records the compaction it scheduled and the one it finished; here they are one.
    meta.items.emplace_back("finishedCompactRev", revision_key(c.compacted, 0));
    meta.items.emplace_back("scheduledCompactRev", revision_key(c.compacted, 0));
  }
  buckets.push_back(std::move(meta));
  return write_bbolt(buckets);
}

result<hash_kv_result> hash_kv_from_snapshot(const std::string& path, std::int64_t rev) {
  auto read = read_snapshot(path, rev);
  if (!read) return read.error();
  auto& c = read.value();
  // etcd's HashByRev (mvcc/kvstore.go).
  if (rev > 0 && rev <= c.compacted) return error(errc::compacted);
  if (rev > 0 && rev > c.revision) return error(errc::future_revision);
  if (rev == 0) rev = c.revision;
  std::sort(c.keys.begin(), c.keys.end());
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;  // CRC-32C
  crc.process_bytes("key", 3);
  for (const auto& [k, v] : c.keys) {
    const auto main = static_cast<std::int64_t>(read_big_endian(k, 0));
    const auto sub = static_cast<std::int64_t>(read_big_endian(k, 9));
    if (main > rev) continue;
    // Revisions up to the compacted one count only if a compaction at `rev` would keep them.
    if (main <= c.compacted && !c.keep.empty() && c.keep.count({main, sub}) == 0) continue;
    crc.process_bytes(k.data(), k.size());
    crc.process_bytes(v.data(), v.size());
  }
  return hash_kv_result{crc.checksum(), c.revision, c.compacted};
}

}  // namespace leasekv::server_detail
