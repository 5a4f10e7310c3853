// Its randomized cases run their fixed seeds and one fresh seed each (support/seeds.hpp); a failure
// prints the seed, and LEASEKV_TEST_SEED=<seed> replays it.
#include <catch2/catch.hpp>

#include "mvcc/hash_index.hpp"
#include "mvcc/key_index.hpp"
#include "mvcc/ordered_index.hpp"
#include "support/key_entries.hpp"
#include "support/seeds.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <unordered_set>
#include <string>
#include <vector>

using namespace leasekv::mvcc;

namespace {

using entries = leasekv::testing::key_entries;

// The index and the model agree on the first key >= probe.
void same_lower_bound(const ordered_index& idx, const std::set<std::string>& model, const std::string& probe) {
  INFO("probe " << probe);
  const auto p = idx.lower_bound(probe);
  const auto m = model.lower_bound(probe);
  if (m == model.end()) {
    REQUIRE(p == idx.end());
  } else {
    REQUIRE(p != idx.end());
    REQUIRE(idx.at(p)->key() == *m);
  }
}

// A walk of the index meets the model's keys in order, and no others; returns the positions it passed.
std::vector<ordered_index::position> same_keys(const ordered_index& idx, const std::set<std::string>& model) {
  REQUIRE(idx.size() == model.size());
  std::vector<ordered_index::position> positions;
  auto m = model.begin();
  for (auto p = idx.begin(); p != idx.end(); idx.next(p), ++m) {
    REQUIRE(m != model.end());
    REQUIRE(idx.at(p)->key() == *m);
    positions.push_back(p);
  }
  REQUIRE(m == model.end());
  return positions;
}

}  // namespace

TEST_CASE("key index: the chain answers reads at every revision as in etcd's keyIndex example", "[mvcc]") {
  entries es;
  key_entry* e = es.make("foo");
  auto push = [&](key_version* v) {
    v->older = e->head;
    e->head = v;
  };
  push(key_version::make(es.arena, {1, 0}, 1, 1, 0, "a"));
  push(key_version::make(es.arena, {2, 0}, 1, 2, 0, "b"));
  push(key_version::make_tombstone(es.arena, {3, 0}));
  push(key_version::make(es.arena, {4, 0}, 4, 1, 0, "c"));
  push(key_version::make(es.arena, {5, 0}, 4, 2, 0, "d"));

  CHECK(e->live_at(0) == nullptr);
  CHECK(e->live_at(1)->value() == "a");
  CHECK(e->live_at(2)->value() == "b");
  CHECK(e->live_at(2)->version() == 2);
  CHECK(e->live_at(3) == nullptr);
  CHECK(e->at(3)->tombstone());
  CHECK(e->live_at(4)->create_revision() == 4);
  CHECK(e->live_at(4)->version() == 1);
  CHECK(e->live_at(99)->value() == "d");
}

TEST_CASE("key index: a key's first version is 16 bytes smaller and reads like any other", "[mvcc]") {
  entries es;
  const std::string value(64, 'v');
  const std::size_t before = es.arena.reserved();
  std::vector<key_version*> firsts;
  std::vector<key_version*> laters;
  for (int i = 0; i < 1000; ++i) {
    firsts.push_back(key_version::make(es.arena, {7 + i, 3}, 7 + i, 1, 42, value));  // create = its revision
    laters.push_back(key_version::make(es.arena, {7 + i, 5}, 2, 4, 0, value));
  }
  for (int i = 0; i < 1000; ++i) {
    const key_version& f = *firsts[static_cast<std::size_t>(i)];
    CHECK(f.rev() == revision{7 + i, 3});
    CHECK(f.create_revision() == 7 + i);
    CHECK(f.version() == 1);
    CHECK(f.lease == 42);
    CHECK(f.value() == value);
    CHECK_FALSE(f.tombstone());
    const key_version& l = *laters[static_cast<std::size_t>(i)];
    CHECK(l.rev() == revision{7 + i, 5});
    CHECK(l.create_revision() == 2);
    CHECK(l.version() == 4);
    CHECK(l.value() == value);
  }
  const key_version* t = key_version::make_tombstone(es.arena, {9, 1 << 20});
  CHECK(t->tombstone());
  CHECK(t->create_revision() == 0);
  CHECK(t->rev() == revision{9, 1 << 20});
  CHECK(t->value().empty());
  // Carved one after another: 32 + 64 bytes for a first version, 48 + 64 for the others.
  CHECK(reinterpret_cast<const char*>(laters[1]) - reinterpret_cast<const char*>(firsts[1]) == 96);
  CHECK(reinterpret_cast<const char*>(firsts[2]) - reinterpret_cast<const char*>(laters[1]) == 112);
  // Freed versions go back by their own sizes: made again, they take the same blocks.
  for (key_version* v : firsts) key_version::destroy(es.arena, v);
  for (key_version* v : laters) key_version::destroy(es.arena, v);
  const std::size_t after = es.arena.reserved();
  for (int i = 0; i < 1000; ++i) {
    key_version::make(es.arena, {1, 0}, 1, 1, 0, value);
    key_version::make(es.arena, {2, 0}, 1, 2, 0, value);
  }
  CHECK(es.arena.reserved() == after);
  // The first 2,000 versions were carved from the arena's regions: they hold at least those bytes.
  CHECK(after - before >= 1000 * (96 + 112));
}

TEST_CASE("key index: binary-safe keys and values survive inline storage", "[mvcc]") {
  const std::string key("\0k\xff", 3);
  const std::string value("\0\x01\xff\0", 4);
  entries es;
  key_entry* e = es.make(key);
  e->head = key_version::make(es.arena, {2, 0}, 2, 1, 0, value);
  CHECK(e->key() == key);
  CHECK(e->head->value() == value);
}

TEST_CASE("ordered index: keeps keys sorted across chunk splits and erasures", "[mvcc]") {
  entries es;
  ordered_index idx;
  std::set<std::string> model;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({11})));
  CAPTURE(seed);
  std::mt19937 rng(seed);
  std::vector<key_entry*> by_key;
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "key" + std::to_string(rng() % 4000);
    if (model.insert(k).second) idx.insert(es.make(k));
  }
  // Erase a third of them.
  std::vector<key_entry*> live;
  for (auto p = idx.begin(); p != idx.end(); idx.next(p)) live.push_back(idx.at(p));
  for (std::size_t i = 0; i < live.size(); i += 3) {
    model.erase(std::string(live[i]->key()));
    idx.erase(live[i]);
  }
  REQUIRE(idx.size() == model.size());
  std::vector<std::string> walked;
  for (auto p = idx.begin(); p != idx.end(); idx.next(p)) walked.emplace_back(idx.at(p)->key());
  CHECK(walked == std::vector<std::string>(model.begin(), model.end()));
  for (const std::string probe : {"key", "key1", "key2500", "key3999", "kez", "a"}) same_lower_bound(idx, model, probe);
}

TEST_CASE("ordered index: heads after a shared prefix order keys exactly, whatever their bytes and lengths", "[mvcc]") {
  // Keys built to defeat 8-byte heads: long shared prefixes, keys that are prefixes of others, zero and
  // 0xff bytes (a zero-padded head cannot tell "ab" from "ab\0"), lengths either side of offset + 8.
  // Inserted and erased at random so chunks split, shrink their prefix and lose their ends.
  entries es;
  ordered_index idx;
  std::set<std::string> model;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({23})));
  CAPTURE(seed);
  std::mt19937 rng(seed);
  const std::string alphabet("\0a\x01\xffz", 5);
  const std::vector<std::string> stems = {"", "/registry/pods/", "/registry/pods/ns-1/", "/registry/services/", "x"};
  auto random_key = [&] {
    std::string k = stems[rng() % stems.size()];
    const std::size_t tail = rng() % 14;
    for (std::size_t i = 0; i < tail; ++i) k.push_back(alphabet[rng() % alphabet.size()]);
    if (k.empty()) k = "k";
    return k;
  };
  std::vector<key_entry*> erased;  // entries leave the index but stay owned by `es`
  for (int step = 0; step < 30000; ++step) {
    const std::string k = random_key();
    if (rng() % 4 != 0) {
      if (model.insert(k).second) idx.insert(es.make(k));
    } else if (model.count(k) == 1) {
      auto p = idx.lower_bound(k);
      REQUIRE(p != idx.end());
      REQUIRE(idx.at(p)->key() == k);
      idx.erase(idx.at(p));
      model.erase(k);
    }
    if (step % 1000 == 0 || step == 29999) {
      same_keys(idx, model);
    }
    same_lower_bound(idx, model, random_key());
  }
}

TEST_CASE("ordered index: a head orders like the 8 bytes it holds", "[mvcc]") {
  CHECK(ordered_index::head_of("/registry/pods/00000012", 15) < ordered_index::head_of("/registry/pods/00000013", 15));
  CHECK(ordered_index::head_of("ab", 0) == ordered_index::head_of(std::string("ab\0", 3), 0));  // why equal heads fall back
  CHECK(ordered_index::head_of("ab", 0) < ordered_index::head_of("ab\x01", 0));
  CHECK(ordered_index::head_of("a\xff", 0) < ordered_index::head_of("b", 0));
  CHECK(ordered_index::head_of("short", 9) == 0);
}

TEST_CASE("ordered index: a head is the key's 8 bytes from its offset, zero-padded, at every length and offset", "[mvcc]") {
  // head_of loads a key's last 8 bytes when fewer than 8 remain past the offset: each byte still lands
  // where a byte-by-byte reading puts it.
  const std::string bytes = "\x01/registry/pods/\x80\xff\x7f" "0123456789abcdefghij";
  for (std::size_t size = 0; size <= bytes.size(); ++size) {
    const std::string_view key(bytes.data(), size);
    for (std::size_t offset = 0; offset <= size + 2; ++offset) {
      std::uint64_t expected = 0;
      for (std::size_t i = 0; i < 8; ++i) {
        const std::uint64_t b = offset + i < size ? static_cast<unsigned char>(key[offset + i]) : 0;
        expected |= b << (8 * (7 - i));
      }
      INFO("size " << size << ", offset " << offset);
      REQUIRE(ordered_index::head_of(key, offset) == expected);
    }
  }
}

TEST_CASE("ordered index: a tree grows to four levels, splits, loses its largest keys and empties", "[mvcc]") {
  // Enough keys for leaves, two levels of inner nodes and a root; keys whose shared prefix is longer than
  // a node can hold (so heads tie and key bytes decide); erasures from the top (each one changes the
  // high keys up the path) and at random (leaves and inner nodes emptied and freed, the root handed
  // down); then the emptied tree is used again.
  entries es;
  ordered_index idx;
  std::set<std::string> model;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({31})));
  CAPTURE(seed);
  std::mt19937 rng(seed);
  const std::string long_stem = "/registry/deployments/a-namespace-with-a-long-name/web-";  // > 44 bytes
  std::vector<std::string> keys;
  for (int i = 0; i < 120000; ++i) keys.push_back(fmt::format("/registry/pods/{:08d}", i));
  for (int i = 0; i < 30000; ++i) keys.push_back(fmt::format("{}{:06d}", long_stem, i));
  std::shuffle(keys.begin(), keys.end(), rng);

  auto check = [&](std::size_t probes) {
    std::vector<ordered_index::position> positions = same_keys(idx, model);
    positions.push_back(idx.end());
    for (std::size_t i = 0; i < probes; ++i) {
      const std::size_t a = rng() % positions.size();
      const std::size_t b = a + rng() % (positions.size() - a);
      REQUIRE(idx.distance(positions[a], positions[b]) == b - a);
      same_lower_bound(idx, model, keys[rng() % keys.size()]);
      same_lower_bound(idx, model, keys[rng() % keys.size()] + "!");
    }
  };

  for (const auto& k : keys) {
    model.insert(k);
    idx.insert(es.make(k));
  }
  CHECK(idx.height() == 4);
  check(2000);
  for (const std::string& probe : std::vector<std::string>{"", "/", "/registry/pods/", "/registry/pods/99999999", long_stem, "\xff"}) {
    same_lower_bound(idx, model, probe);
  }

  // From the top down: every erase removes the largest key.
  for (int i = 0; i < 20000; ++i) {
    const auto last = std::prev(model.end());
    auto p = idx.lower_bound(*last);
    REQUIRE(p != idx.end());
    key_entry* e = idx.at(p);
    idx.erase(e);
    es.retire(e);
    model.erase(last);
  }
  check(500);

  // At random, to the last key.
  std::vector<std::string> rest(model.begin(), model.end());
  std::shuffle(rest.begin(), rest.end(), rng);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    auto p = idx.lower_bound(rest[i]);
    REQUIRE(p != idx.end());
    REQUIRE(idx.at(p)->key() == rest[i]);
    key_entry* e = idx.at(p);
    idx.erase(e);
    es.retire(e);
    model.erase(rest[i]);
    if (i % 20000 == 0) check(100);
  }
  check(10);
  CHECK(idx.height() == 0);
  CHECK(idx.begin() == idx.end());
  CHECK(idx.lower_bound("a") == idx.end());

  for (int i = 0; i < 1000; ++i) {
    model.insert(keys[static_cast<std::size_t>(i)]);
    idx.insert(es.make(keys[static_cast<std::size_t>(i)]));
  }
  check(100);
}

TEST_CASE("ordered index: leaves emptied to a few keys merge, so the index shrinks with its keys", "[mvcc]") {
  entries es;
  ordered_index idx;
  std::set<std::string> model;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({41})));
  CAPTURE(seed);
  std::mt19937 rng(seed);
  std::vector<key_entry*> all;
  for (int i = 0; i < 60000; ++i) {
    const std::string k = fmt::format("/registry/pods/{:08d}", rng() % 100000000);
    if (model.insert(k).second) idx.insert(all.emplace_back(es.make(k)));
  }
  const std::size_t full = idx.nodes();
  // Nine keys in ten go, at random: without merging, nearly every leaf would stay, with ~4 keys each.
  std::shuffle(all.begin(), all.end(), rng);
  const std::size_t keep = all.size() / 10;
  for (std::size_t i = keep; i < all.size(); ++i) {
    model.erase(std::string(all[i]->key()));
    idx.erase(all[i]);
    es.retire(all[i]);
  }
  same_keys(idx, model);
  for (int i = 0; i < 2000; ++i) same_lower_bound(idx, model, fmt::format("/registry/pods/{:08d}", rng() % 100000000));
  INFO("nodes: " << full << " full, " << idx.nodes() << " after");
  CHECK(idx.nodes() * 4 < full);  // under a quarter of the nodes left for a tenth of the keys
  CHECK(idx.nodes() * ordered_index::leaf_capacity / 4 < idx.size() * 2);
}

TEST_CASE("ordered index: a descent taken a level at a time reaches the leaf a search or an insert reaches", "[mvcc]") {
  // kv_store::prefetch_puts walks many keys down together with descend(); it must go where insert() and
  // lower_bound() go, or it loads the wrong nodes.
  entries es;
  ordered_index idx;
  {
    auto d = idx.start_descent();
    CHECK_FALSE(idx.descend(d, "a"));  // empty: nothing to walk
  }
  std::set<std::string> model;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({7})));
  CAPTURE(seed);
  std::mt19937 rng(seed);
  std::vector<std::string> keys;
  for (int i = 0; i < 150000; ++i) keys.push_back(fmt::format("/registry/pods/{:08d}", 2 * i + 1));  // odd: even ones fall between
  std::shuffle(keys.begin(), keys.end(), rng);
  for (const auto& k : keys) {
    model.insert(k);
    idx.insert(es.make(k));
  }
  REQUIRE(idx.height() == 4);
  const void* last_leaf = idx.lower_bound(*model.rbegin()).node;
  auto leaf_by_descent = [&](const std::string& k) {
    auto d = idx.start_descent();
    std::size_t steps = 0;
    while (idx.descend(d, k)) ++steps;
    CHECK(steps + 2 == idx.height());  // the last step, to the leaf, returns false
    CHECK(d.level == 1);
    return d.node;
  };
  for (int i = 0; i < 20000; ++i) {
    const auto n = static_cast<int>(rng() % 300002);
    const std::string k = fmt::format("/registry/pods/{:08d}", n);  // present when odd, between keys when even
    INFO(k);
    const auto p = idx.lower_bound(k);
    CHECK(leaf_by_descent(k) == (p == idx.end() ? last_leaf : static_cast<const void*>(p.node)));
  }
  CHECK(leaf_by_descent("") == idx.begin().node);
  CHECK(leaf_by_descent("\xff") == last_leaf);
}

TEST_CASE("ordered index: inserts hinted by descents taken before them all land where unhinted ones would", "[mvcc]") {
  // kv_store::prefetch_puts takes a batch of new keys down the tree first, then puts them one by one with
  // the leaves it found as hints. Earlier inserts of the batch split leaves that later hints name, and an
  // erase may free them: such a hint must not misplace its key.
  entries es;
  ordered_index idx;
  std::set<std::string> model;
  auto key = [](int i) { return fmt::format("/registry/pods/{:08d}", i); };
  auto add = [&](const std::string& k, ordered_index::hint h) {
    model.insert(k);
    idx.insert(es.make(k), h);
  };
  auto hint_for = [&](const std::string& k) {
    auto d = idx.start_descent();
    while (idx.descend(d, k)) {
    }
    return idx.hint_of(d);
  };
  for (int i = 0; i < 20000; ++i) add(key(100 * i), {});  // multiples of 100: room between them
  REQUIRE(idx.height() == 3);

  // A batch: 40 keys in each of 20 gaps (each gap's 40 land in one leaf, about half full, which they fill
  // and split midway), 200 scattered keys, a key before all and keys after all (no hint: they change high
  // keys).
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({11})));
  CAPTURE(seed);
  std::mt19937 rng(seed);
  std::vector<std::string> batch;
  for (int g = 0; g < 20; ++g) {
    const int base = 100 * static_cast<int>(rng() % 19990);
    for (int j = 1; j <= 40; ++j) batch.push_back(key(base + j));
  }
  for (int i = 0; i < 200; ++i) batch.push_back(key(100 * static_cast<int>(rng() % 20000) + 50));
  batch.push_back("/registry/pods/");
  batch.push_back(key(3000000));
  batch.push_back(key(3000001));
  std::sort(batch.begin(), batch.end());
  batch.erase(std::unique(batch.begin(), batch.end()), batch.end());
  std::shuffle(batch.begin(), batch.end(), rng);
  std::vector<ordered_index::hint> hints;
  for (const auto& k : batch) hints.push_back(hint_for(k));
  CHECK(hints[static_cast<std::size_t>(std::find(batch.begin(), batch.end(), key(3000001)) - batch.begin())].leaf ==
        nullptr);
  const std::size_t splits_before = idx.nodes();
  for (std::size_t i = 0; i < batch.size(); ++i) add(batch[i], hints[i]);
  CHECK(idx.nodes() > splits_before);                 // the batch split leaves its hints named
  CHECK(idx.hinted_inserts() > batch.size() * 3 / 4);  // most hints were taken
  CHECK(idx.hinted_inserts() < batch.size());          // and some, stale, were not
  same_keys(idx, model);
  for (const auto& k : batch) same_lower_bound(idx, model, k);

  // Hints taken before an erase frees a leaf are not used: the leaf may be gone.
  std::vector<std::string> late{key(1500003), key(1500013), key(500007)};
  std::vector<ordered_index::hint> late_hints;
  for (const auto& k : late) late_hints.push_back(hint_for(k));
  const auto first = idx.lower_bound(key(1500000));
  std::vector<key_entry*> doomed;
  for (auto p = first; p != idx.end() && idx.at(p)->key() < key(1510000); idx.next(p)) doomed.push_back(idx.at(p));
  const std::size_t nodes_before = idx.nodes();
  for (key_entry* e : doomed) {
    model.erase(std::string(e->key()));
    idx.erase(e);
    es.retire(e);
  }
  REQUIRE(idx.nodes() < nodes_before);  // leaves were freed
  const std::size_t hinted = idx.hinted_inserts();
  for (std::size_t i = 0; i < late.size(); ++i) add(late[i], late_hints[i]);
  CHECK(idx.hinted_inserts() == hinted);
  same_keys(idx, model);
  for (const auto& k : late) same_lower_bound(idx, model, k);
}
