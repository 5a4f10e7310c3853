// Every file operation of the data directory failing once — at every point of a store's snapshots and
// segment switches, of a new directory's creation, of a restore — each failure followed by a simulated
// crash (unsynced bytes dropped, every prefix of the unsynced directory changes kept) and a reopen. The
// operations are enumerated by counting them in a dry run, then the k-th fails, for every k.
// After each: the store reopens; every write acknowledged is there; each write is there whole or not at
// all; a reader following the writer saw every acknowledged write.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/fault_env.hpp"

#include <algorithm>
#include <string>
#include <vector>

using namespace leasekv;
using leasekv::testing::fault_env;
namespace errc_t = boost::system::errc;

namespace {

constexpr int writes = 14;

options options_on(std::shared_ptr<fault_env> env, sync_policy sync) {
  options o;
  o.data_dir = "/db";
  o.env = std::move(env);
  o.clock = std::make_shared<manual_clock>();
  o.sync = sync;
  o.tuning.snapshot_after_bytes = 300;  // a snapshot every few writes
  return o;
}

// Write i: two keys in one transaction, so that half of it would show.
result<txn_response> write(store& s, int i) {
  const std::string v(60, static_cast<char>('a' + i));
  return s.txn().then(op::put("k" + std::to_string(i) + "a", v), op::put("k" + std::to_string(i) + "b", v)).commit();
}

// Checks the reopened store against what was acknowledged; returns how many unacknowledged writes showed.
int check_state(store& s, const std::vector<bool>& acked) {
  int extra = 0;
  int present = 0;
  for (int i = 0; i < writes; ++i) {
    const auto a = s.get("k" + std::to_string(i) + "a").value().kvs.size();
    const auto b = s.get("k" + std::to_string(i) + "b").value().kvs.size();
    INFO("write " << i << (acked[static_cast<std::size_t>(i)] ? " (acknowledged)" : " (failed)"));
    REQUIRE(a == b);  // never half
    if (acked[static_cast<std::size_t>(i)]) REQUIRE(a == 1);
    present += static_cast<int>(a);
    extra += static_cast<int>(a) - static_cast<int>(acked[static_cast<std::size_t>(i)]);
  }
  CHECK(s.revision() == 1 + present);
  return extra;
}

// Crashes a copy of `env` in every way its unsynced directory changes allow, reopening each.
template <class Check>
void crash_every_way(fault_env& env, const options& base, Check&& check) {
  const std::size_t pending = env.pending_dir_ops();
  for (std::size_t kept = 0; kept <= pending; ++kept) {
    auto after = env.clone();
    after->crash_keeping(kept);
    auto o = base;
    o.env = after;
    auto s = store::open(o);
    INFO("crash keeping " << kept << " of " << pending << " directory changes: " << (s ? std::string() : s.error().what()));
    REQUIRE(s.has_value());
    check(*s.value());
    s.value()->put("after-reopen", "x").value();  // and it takes writes again
  }
}

}  // namespace

TEST_CASE("fault matrix: any file operation of a snapshot or segment switch failing loses nothing acknowledged", "[storage]") {
  for (const auto sync : {sync_policy::per_write, sync_policy::group_commit}) {
    // The directory as the writes find it, and how many file operations they make when nothing fails.
    auto base = std::make_shared<fault_env>();
    store::open(options_on(base, sync)).value().reset();
    std::uint64_t count = 0;
    {
      auto dry = base->clone();
      auto s = store::open(options_on(dry, sync)).value();
      const auto before = dry->ops();
      for (int i = 0; i < writes; ++i) write(*s, i).value();
      count = dry->ops() - before;
      CHECK(dry->list("/db").value().size() >= 3);  // it did rotate
    }
    REQUIRE(count > 40);
    int failures_seen = 0;
    for (const auto e : {errc_t::io_error, errc_t::no_space_on_device}) {
      for (std::uint64_t k = 1; k <= count; ++k) {
        INFO("policy " << static_cast<int>(sync) << ", operation " << k << " of " << count << " fails with " << static_cast<int>(e));
        auto env = base->clone();
        const auto o = options_on(env, sync);
        auto s = store::open(o).value();
        auto ro = o;
        ro.read_only = true;
        auto reader = store::open(ro).value();
        env->fail_once(k, e);
        std::vector<bool> acked;
        for (int i = 0; i < writes; ++i) acked.push_back(write(*s, i).has_value());
        failures_seen += static_cast<int>(std::count(acked.begin(), acked.end(), false));
        // A reader following the writer sees every acknowledged write (it never skips to a new segment
        // before the old one is complete).
        if (auto r = reader->refresh(); r) {
          for (int i = 0; i < writes; ++i) {
            if (acked[static_cast<std::size_t>(i)]) REQUIRE(reader->get("k" + std::to_string(i) + "a").value().kvs.size() == 1);
          }
        } else {
          REQUIRE(r.error() == errc::stale);
        }
        reader.reset();
        s.reset();  // the process dies; then the machine
        crash_every_way(*env, o, [&](store& reopened) { check_state(reopened, acked); });
      }
    }
    CHECK(failures_seen > 0);
  }
}

TEST_CASE("fault matrix: a new directory's creation interrupted at any file operation reopens", "[storage]") {
  std::uint64_t count = 0;
  {
    auto dry = std::make_shared<fault_env>();
    store::open(options_on(dry, sync_policy::per_write)).value().reset();
    count = dry->ops();
  }
  REQUIRE(count >= 8);
  for (const auto e : {errc_t::io_error, errc_t::no_space_on_device}) {
    for (std::uint64_t k = 1; k <= count; ++k) {
      INFO("operation " << k << " of " << count);
      auto env = std::make_shared<fault_env>();
      const auto o = options_on(env, sync_policy::per_write);
      env->fail_once(k, e);
      std::vector<bool> acked(writes, false);
      if (auto s = store::open(o)) {
        acked[0] = write(*s.value(), 0).has_value();
      } else {
        CHECK_FALSE(s.error().detail().empty());  // the file is named
      }
      crash_every_way(*env, o, [&](store& reopened) { check_state(reopened, acked); });
    }
  }
}

TEST_CASE("fault matrix: a restore interrupted at any file operation leaves no directory, and a retry works", "[storage]") {
  auto env = std::make_shared<fault_env>();
  {
    auto o = options_on(env, sync_policy::per_write);
    auto s = store::open(o).value();
    for (int i = 0; i < 3; ++i) write(*s, i).value();
    s->save_snapshot("/backup.snap").value();
  }
  std::uint64_t count = 0;
  {
    auto dry = env->clone();
    const auto before = dry->ops();
    restore_snapshot(*dry, "/backup.snap", "/restored").value();
    count = dry->ops() - before;
  }
  REQUIRE(count >= 8);
  const std::vector<bool> acked{true, true, true, false, false, false, false, false, false, false, false, false, false, false};
  for (std::uint64_t k = 1; k <= count; ++k) {
    for (const bool machine_crash : {false, true}) {
      INFO("killed at operation " << k << " of " << count << (machine_crash ? ", then the machine crashed" : ""));
      auto run = env->clone();
      run->crash_after(k);  // the process is killed here: nothing after it happens
      CHECK_FALSE(restore_snapshot(*run, "/backup.snap", "/restored").has_value());
      auto after = run->clone();  // what a killed process leaves
      if (machine_crash) after->crash(true);
      auto o = options_on(after, sync_policy::per_write);
      o.data_dir = "/restored";
      // Either the directory is not there and a retry makes it, or it is there whole (the failure came
      // after the rename that put it in place).
      if (!after->exists("/restored")) restore_snapshot(*after, "/backup.snap", "/restored").value();
      auto s = store::open(o).value();
      check_state(*s, acked);
    }
  }
}
