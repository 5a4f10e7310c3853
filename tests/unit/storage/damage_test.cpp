// Random damage to every kind of file a data directory's recovery reads: bit flips, truncation, zeroed
// blocks and appended garbage. Every write was acknowledged, so opening must then either fail with
// errc::corrupt (naming the place) or give the whole state. The one exception is the last record of the
// last segment: damage there looks exactly like a torn write and is cut off, giving the state before the
// last write (counted apart). Damage to the segment kept only for readers must not matter to an open.
// Never a crash, never a wrong answer.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/describe.hpp"
#include "support/fault_env.hpp"

#include <random>
#include <string>

using namespace leasekv;
using leasekv::testing::describe;
using leasekv::testing::fault_env;

namespace {

std::string state_of(store& s) {
  std::string out = "rev=" + std::to_string(s.revision()) + "\n";
  for (std::int64_t r = std::max<std::int64_t>(1, s.compacted_revision()); r <= s.revision(); ++r) {
    out += describe(s.range(all_keys(), {.revision = r})) + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("damage: damage to any file recovery reads fails the open or loses nothing acknowledged", "[storage]") {
  // One directory with a snapshot (rotated) and a log after it.
  auto pristine = std::make_shared<fault_env>();
  options o;
  o.data_dir = "/db";
  o.env = pristine;
  o.clock = std::make_shared<manual_clock>();
  o.tuning.snapshot_after_bytes = 600;
  std::string full;
  std::string before_last;
  std::size_t last_record_at = 0;
  std::string last_wal;
  {
    auto s = store::open(o).value();
    for (int i = 0; i < 40; ++i) {
      if (i == 39) {
        before_last = state_of(*s);
        last_wal = "/db/" + pristine->list("/db").value().back();  // names sort: wal-N after snap-N
        last_record_at = pristine->contents(last_wal).size();
      }
      s->put("k" + std::to_string(i % 7), std::string(static_cast<std::size_t>(i % 13), 'v')).value();
    }
    full = state_of(*s);
  }
  const auto names = pristine->list("/db").value();
  REQUIRE(names.size() == 4);  // LOCK, a snapshot, its log, and the log before it (kept for readers)
  const std::string snap = "/db/" + names[1];
  const std::string reader_wal = "/db/" + names[2];
  const std::string wal = "/db/" + names[3];
  INFO(names[1] << " " << names[2] << " " << names[3]);
  REQUIRE(snap.find("/db/snap-") == 0);
  REQUIRE(wal == last_wal);  // the last write did not start a segment
  REQUIRE(last_record_at >= 20);  // past the header
  REQUIRE(last_record_at < pristine->contents(wal).size());

  std::mt19937 rng(99);
  int refused = 0;
  int whole = 0;
  int cut_as_torn = 0;
  int reader_segment = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    auto env = pristine->clone();
    o.env = env;
    const int pick = static_cast<int>(rng() % 7);
    const std::string& file = pick < 3 ? snap : pick < 6 ? wal : reader_wal;
    std::string& data = env->contents(file);
    const std::size_t at = rng() % data.size();
    bool appended = false;
    std::size_t damage_end = at + 1;
    switch (rng() % 4) {
      case 0: data[at] = static_cast<char>(data[at] ^ (1 << (rng() % 8))); break;  // a bit flip
      case 1: data.resize(at); break;                                              // truncation
      case 2: damage_end = std::min(data.size(), at + 1 + rng() % 64);
        std::fill(data.begin() + static_cast<std::ptrdiff_t>(at), data.begin() + static_cast<std::ptrdiff_t>(damage_end), '\0');
        break;                                                                     // a zeroed block
      default:
        for (std::size_t n = 1 + rng() % 40; n > 0; --n) data.push_back(static_cast<char>(rng()));  // garbage
        appended = true;
    }
    auto s = store::open(o);
    INFO("trial " << trial << ": " << file << " damaged at " << at);
    if (file == reader_wal) {
      // Recovery does not read it: the open goes on as if nothing happened.
      REQUIRE(s.has_value());
      REQUIRE(state_of(*s.value()) == full);
      ++reader_segment;
      continue;
    }
    if (!s) {
      INFO(s.error().message());
      REQUIRE(s.error() == errc::corrupt);
      REQUIRE_FALSE(s.error().detail().empty());
      ++refused;
      continue;
    }
    const std::string got = state_of(*s.value());
    if (got == full) {
      ++whole;
      continue;
    }
    INFO(got);
    // Only damage inside the last record can be taken for a torn write.
    REQUIRE(file == wal);
    REQUIRE(!appended);
    REQUIRE(damage_end > last_record_at);
    REQUIRE(got == before_last);
    ++cut_as_torn;
  }
  CHECK(refused > 300);
  CHECK(whole > 100);  // garbage after the end is cut, damage to the reader's segment is ignored
  CHECK(cut_as_torn > 0);
  CHECK(reader_segment > 100);
}
