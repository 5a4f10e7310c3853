#include "storage/replay.hpp"

#include "storage/errors.hpp"

namespace leasekv::storage {

result<void> load_snapshot(std::string_view data, const std::string& name, std::optional<std::uint64_t> seq,
                           const recovery_sink& sink) {
  std::uint64_t header_seq = 0;
  std::uint64_t records = 0;
  bool ended = false;
  const scan_result r = scan(data, snap_magic, false, header_seq, [&](std::string_view body, std::size_t) {
    if (ended) return false;  // nothing may follow the end record
    const auto type = type_of(body);
    bool ok = false;
    if (type == record_type::snap_meta && records == 0) {
      snap_meta_record m;
      ok = decode(body, m) && sink.meta(m);
    } else if (type == record_type::snap_key && records > 0) {
      snap_key_record k;
      ok = decode(body, k) && sink.key(k);
    } else if (type == record_type::snap_lease && records > 0) {
      std::int64_t id = 0, ttl = 0, deadline = 0;
      ok = decode_snap_lease(body, id, ttl, deadline) && sink.lease(id, ttl, deadline);
    } else if (type == record_type::snap_end) {
      std::uint64_t count = 0;
      ok = decode_snap_end(body, count) && count == records;
      ended = true;
    }
    ++records;
    return ok;
  });
  if (!r.error.empty()) return damaged(name, r.error);
  if (seq && header_seq != *seq) return damaged(name, "sequence number does not match the file name at offset 12");
  if (!ended) return damaged(name, "truncated snapshot (no end record) at offset " + std::to_string(r.valid_end));
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

replay_result replay_log(std::string_view data, std::uint64_t from, std::uint64_t seq, bool tail_may_tear,
                         const std::function<bool(const entry_record&)>& entry) {
  std::uint64_t header_seq = seq;
  bool wrong_seq = false;
  std::optional<std::size_t> refused_at;
  auto on_record = [&](std::string_view body, std::size_t offset) {
    // The header is read before the first record: an entry of another segment is never applied.
    if (header_seq != seq) {
      wrong_seq = true;
      return false;
    }
    entry_record rec;
    if (!decode(body, rec)) return false;
    if (entry && !entry(rec)) {
      refused_at = offset;
      return false;
    }
    return true;
  };
  scan_result s;
  if (from == 0) {
    s = scan(data, wal_magic, tail_may_tear, header_seq, on_record);
  } else {
    s = scan_records(data, static_cast<std::size_t>(from), tail_may_tear, on_record);
    s.valid_end += static_cast<std::size_t>(from);
  }
  replay_result out{s.valid_end, s.torn, std::move(s.error)};
  if (wrong_seq || (out.error.empty() && header_seq != seq && out.valid_end >= file_header_size)) {
    out.error = "sequence number does not match the file name at offset 12";
  } else if (refused_at) {
    out.error = "record does not follow from the state before it at offset " + std::to_string(*refused_at);
  }
  return out;
}

}  // namespace leasekv::storage
