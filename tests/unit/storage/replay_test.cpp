// Reading a log segment back (storage::replay_log), which recovery, a reader following the writer and
// `check` share: entries in order from any offset, a torn tail told from damage, and damage named with
// its offset before anything after it is handed over.
#include <catch2/catch.hpp>

#include "storage/replay.hpp"

#include <string>
#include <vector>

using namespace leasekv;
using namespace leasekv::storage;

namespace {

std::string entry_body(std::int64_t revision) {
  entry_record r;
  r.revision = revision;
  r.changes.push_back({change_kind::put, "k", "v" + std::to_string(revision), 0});
  return encode(r);
}

// Segment `seq` holding entries of the given revisions.
std::string segment(std::uint64_t seq, const std::vector<std::int64_t>& revisions) {
  std::string out = file_header(wal_magic, seq);
  for (auto r : revisions) out += frame(entry_body(r));
  return out;
}

}  // namespace

TEST_CASE("replay: a segment's entries come in order, read whole or from where a follower stopped", "[storage]") {
  const std::string data = segment(3, {2, 3, 4});
  std::vector<std::int64_t> seen;
  auto collect = [&](const entry_record& e) {
    seen.push_back(e.revision);
    return true;
  };
  const replay_result whole = replay_log(data, 0, 3, false, collect);
  CHECK(whole.error.empty());
  CHECK_FALSE(whole.torn);
  CHECK(whole.valid_end == data.size());
  CHECK(seen == std::vector<std::int64_t>{2, 3, 4});

  // From the second record on: offsets stay the file's.
  seen.clear();
  const std::size_t second = file_header_size + frame(entry_body(2)).size();
  const replay_result rest = replay_log(std::string_view(data).substr(second), second, 3, true, collect);
  CHECK(rest.error.empty());
  CHECK(rest.valid_end == data.size());
  CHECK(seen == std::vector<std::int64_t>{3, 4});
}

TEST_CASE("replay: an incomplete last record is a torn tail only where the tail may tear", "[storage]") {
  const std::string whole = segment(1, {2, 3});
  const std::string data = whole.substr(0, whole.size() - 3);
  const std::size_t first_end = file_header_size + frame(entry_body(2)).size();
  int entries = 0;
  auto count = [&](const entry_record&) { return ++entries > 0; };
  const replay_result tail = replay_log(data, 0, 1, true, count);
  CHECK(tail.error.empty());
  CHECK(tail.torn);
  CHECK(tail.valid_end == first_end);
  CHECK(entries == 1);

  const replay_result damage = replay_log(data, 0, 1, false, nullptr);
  CHECK_FALSE(damage.torn);
  CHECK(damage.error == "truncated record at offset " + std::to_string(first_end));
}

TEST_CASE("replay: a header naming another segment is damage, and none of its entries is handed over", "[storage]") {
  int entries = 0;
  const replay_result r = replay_log(segment(2, {5, 6}), 0, 3, true, [&](const entry_record&) { return ++entries > 0; });
  CHECK(r.error == "sequence number does not match the file name at offset 12");
  CHECK(entries == 0);
  // Without records too.
  CHECK(replay_log(segment(2, {}), 0, 3, true, nullptr).error == "sequence number does not match the file name at offset 12");
}

TEST_CASE("replay: an entry the sink refuses stops the replay, named as not following from the state before it", "[storage]") {
  const std::string data = segment(1, {2, 3, 4});
  const std::size_t second = file_header_size + frame(entry_body(2)).size();
  std::vector<std::int64_t> seen;
  const replay_result r = replay_log(data, 0, 1, true, [&](const entry_record& e) {
    seen.push_back(e.revision);
    return e.revision != 3;
  });
  CHECK(r.error == "record does not follow from the state before it at offset " + std::to_string(second));
  CHECK(r.valid_end == second);
  CHECK(seen == std::vector<std::int64_t>{2, 3});
}

TEST_CASE("replay: a body that does not decode as an entry is a malformed record", "[storage]") {
  const std::string data = file_header(wal_magic, 1) + frame(encode_snap_end(0));
  const replay_result r = replay_log(data, 0, 1, true, nullptr);
  CHECK(r.error == "malformed record at offset " + std::to_string(file_header_size));
}
