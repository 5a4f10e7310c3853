// Random damage to every kind of file of a data directory: bit flips, truncation, zeroed blocks and
// appended garbage. Opening must then either fail with errc::corrupt (naming the place) or give exactly a
// state the store really had — a prefix of its history, when a torn tail is cut. Never a crash, never a
// wrong answer.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/describe.hpp"
#include "support/fault_env.hpp"

#include <random>
#include <set>
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

TEST_CASE("damage: every kind of damage to every kind of file fails cleanly or yields a true past state", "[storage]") {
  // One directory with a snapshot (rotated) and a log after it, and every state it went through.
  auto pristine = std::make_shared<fault_env>();
  options o;
  o.data_dir = "/db";
  o.env = pristine;
  o.clock = std::make_shared<manual_clock>();
  o.snapshot_after_bytes = 600;
  std::set<std::string> states;
  {
    auto s = store::open(o).value();
    states.insert(state_of(*s));
    for (int i = 0; i < 40; ++i) {
      s->put("k" + std::to_string(i % 7), std::string(static_cast<std::size_t>(i % 13), 'v')).value();
      states.insert(state_of(*s));
    }
  }
  const auto names = pristine->list("/db").value();
  std::vector<std::string> files;
  for (const auto& n : names) {
    if (n != "LOCK") files.push_back("/db/" + n);
  }
  REQUIRE(files.size() == 3);  // a snapshot, its log, and the log before it (kept for readers)

  std::mt19937 rng(99);
  int refused = 0;
  int opened = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    auto env = pristine->clone();
    o.env = env;
    std::string& data = env->contents(files[rng() % files.size()]);
    const std::size_t at = rng() % data.size();
    switch (rng() % 4) {
      case 0: data[at] = static_cast<char>(data[at] ^ (1 << (rng() % 8))); break;  // a bit flip
      case 1: data.resize(at); break;                                              // truncation
      case 2: std::fill(data.begin() + static_cast<std::ptrdiff_t>(at),
                        data.begin() + static_cast<std::ptrdiff_t>(std::min(data.size(), at + 1 + rng() % 64)), '\0');
        break;                                                                     // a zeroed block
      default:
        for (std::size_t n = 1 + rng() % 40; n > 0; --n) data.push_back(static_cast<char>(rng()));  // garbage
    }
    auto s = store::open(o);
    if (!s) {
      INFO("trial " << trial << ": " << s.error().message());
      REQUIRE(s.error() == errc::corrupt);
      REQUIRE_FALSE(last_error_detail().empty());
      ++refused;
      continue;
    }
    ++opened;
    INFO("trial " << trial);
    REQUIRE(states.count(state_of(*s.value())) == 1);
  }
  CHECK(refused > 100);
  CHECK(opened > 100);
}
