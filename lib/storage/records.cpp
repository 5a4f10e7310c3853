#include "storage/records.hpp"

#include "base/coding.hpp"
#include "base/crc32c.hpp"

namespace leasekv::storage {

using base::put_bytes;
using base::put_i64;
using base::put_u32;
using base::put_u64;
using base::put_u8;

namespace {

std::string start(record_type t) {
  std::string out;
  put_u8(out, static_cast<std::uint8_t>(t));
  return out;
}

bool expect(base::reader& in, record_type t) {
  std::uint8_t b = 0;
  return in.get_u8(b) && b == static_cast<std::uint8_t>(t);
}

}  // namespace

std::string encode(const entry_record& r) {
  std::string out = start(record_type::entry);
  put_i64(out, r.revision);
  put_u32(out, static_cast<std::uint32_t>(r.changes.size()));
  for (const auto& c : r.changes) {
    put_u8(out, static_cast<std::uint8_t>(c.kind));
    put_bytes(out, c.key);
    if (c.kind == change_kind::put) {
      put_bytes(out, c.value);
      put_i64(out, c.lease);
    }
  }
  put_u32(out, static_cast<std::uint32_t>(r.lease_ops.size()));
  for (const auto& op : r.lease_ops) {
    put_u8(out, static_cast<std::uint8_t>(op.kind));
    put_i64(out, op.id);
    put_i64(out, op.ttl_ms);
    put_i64(out, op.deadline_wall_ms);
  }
  put_u8(out, r.compact_revision ? 1 : 0);
  put_i64(out, r.compact_revision.value_or(0));
  return out;
}

bool decode(std::string_view body, entry_record& r) {
  base::reader in(body);
  std::uint32_t n = 0;
  if (!expect(in, record_type::entry) || !in.get_i64(r.revision) || !in.get_u32(n)) return false;
  r.changes.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    change_record c;
    std::uint8_t kind = 0;
    std::string_view key;
    if (!in.get_u8(kind) || kind > 1 || !in.get_bytes(key)) return false;
    c.kind = static_cast<change_kind>(kind);
    c.key.assign(key);
    if (c.kind == change_kind::put) {
      std::string_view value;
      if (!in.get_bytes(value) || !in.get_i64(c.lease)) return false;
      c.value.assign(value);
    }
    r.changes.push_back(std::move(c));
  }
  if (!in.get_u32(n)) return false;
  r.lease_ops.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    lease_op_record op;
    std::uint8_t kind = 0;
    if (!in.get_u8(kind) || kind < 1 || kind > 3 || !in.get_i64(op.id) || !in.get_i64(op.ttl_ms) ||
        !in.get_i64(op.deadline_wall_ms)) {
      return false;
    }
    op.kind = static_cast<lease_op_kind>(kind);
    r.lease_ops.push_back(op);
  }
  std::uint8_t has_compact = 0;
  std::int64_t compact = 0;
  if (!in.get_u8(has_compact) || has_compact > 1 || !in.get_i64(compact)) return false;
  if (has_compact != 0) r.compact_revision = compact;
  return in.empty();
}

std::string encode(const snap_meta_record& r) {
  std::string out = start(record_type::snap_meta);
  put_i64(out, r.revision);
  put_i64(out, r.compacted_revision);
  put_u64(out, r.cluster_id);
  put_u64(out, r.member_id);
  return out;
}

bool decode(std::string_view body, snap_meta_record& r) {
  base::reader in(body);
  return expect(in, record_type::snap_meta) && in.get_i64(r.revision) && in.get_i64(r.compacted_revision) &&
         in.get_u64(r.cluster_id) && in.get_u64(r.member_id) && in.empty();
}

std::string encode(const snap_key_record& r) {
  std::string out = start(record_type::snap_key);
  put_bytes(out, r.key);
  put_u32(out, static_cast<std::uint32_t>(r.versions.size()));
  for (const auto& v : r.versions) {
    put_i64(out, v.mod_main);
    put_i64(out, v.mod_sub);
    put_i64(out, v.create_revision);
    put_i64(out, v.version);
    put_i64(out, v.lease);
    put_bytes(out, v.value);
  }
  return out;
}

bool decode(std::string_view body, snap_key_record& r) {
  base::reader in(body);
  std::string_view key;
  std::uint32_t n = 0;
  if (!expect(in, record_type::snap_key) || !in.get_bytes(key) || !in.get_u32(n)) return false;
  r.key.assign(key);
  r.versions.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    snap_version v;
    std::string_view value;
    if (!in.get_i64(v.mod_main) || !in.get_i64(v.mod_sub) || !in.get_i64(v.create_revision) ||
        !in.get_i64(v.version) || !in.get_i64(v.lease) || !in.get_bytes(value)) {
      return false;
    }
    v.value.assign(value);
    r.versions.push_back(std::move(v));
  }
  return in.empty() && !r.versions.empty();
}

std::string encode_snap_lease(std::int64_t id, std::int64_t ttl_ms, std::int64_t deadline_wall_ms) {
  std::string out = start(record_type::snap_lease);
  put_i64(out, id);
  put_i64(out, ttl_ms);
  put_i64(out, deadline_wall_ms);
  return out;
}

bool decode_snap_lease(std::string_view body, std::int64_t& id, std::int64_t& ttl_ms, std::int64_t& deadline_wall_ms) {
  base::reader in(body);
  return expect(in, record_type::snap_lease) && in.get_i64(id) && in.get_i64(ttl_ms) && in.get_i64(deadline_wall_ms) &&
         in.empty();
}

std::string encode_snap_end(std::uint64_t records) {
  std::string out = start(record_type::snap_end);
  put_u64(out, records);
  return out;
}

bool decode_snap_end(std::string_view body, std::uint64_t& records) {
  base::reader in(body);
  return expect(in, record_type::snap_end) && in.get_u64(records) && in.empty();
}

std::optional<record_type> type_of(std::string_view body) {
  if (body.empty()) return std::nullopt;
  const auto t = static_cast<std::uint8_t>(body[0]);
  if (t < 1 || t > 5) return std::nullopt;
  return static_cast<record_type>(t);
}

std::string frame(std::string_view body) {
  std::string out;
  out.reserve(record_header_size + body.size());
  const auto len = static_cast<std::uint32_t>(body.size());
  put_u32(out, len);
  put_u32(out, ~len);
  put_u32(out, base::crc32c(body));
  out.append(body);
  return out;
}

std::string file_header(std::string_view magic, std::uint64_t seq) {
  std::string out(magic);
  put_u32(out, format_version);
  put_u64(out, seq);
  return out;
}

}  // namespace leasekv::storage
