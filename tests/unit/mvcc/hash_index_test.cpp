// The hash index and hash_key (mvcc/hash_index.hpp).
// Its randomized cases run their fixed seeds and one fresh seed each (support/seeds.hpp); a failure
// prints the seed, and LEASEKV_TEST_SEED=<seed> replays it.
#include <catch2/catch.hpp>

#include "base/prefaulter.hpp"
#include "mvcc/hash_index.hpp"
#include "support/key_entries.hpp"
#include "support/seeds.hpp"

#include <fmt/core.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

using namespace leasekv::mvcc;

namespace {

using entries = leasekv::testing::key_entries;

}  // namespace

TEST_CASE("hash index: finds, inserts and erases like a std::set under random churn", "[mvcc]") {
  entries es;
  hash_index h;
  std::set<std::string> model;
  const std::uint32_t seed = GENERATE(from_range(leasekv::testing::seeds({7})));
  CAPTURE(seed);
  std::mt19937 rng(seed);
  std::vector<key_entry*> present;
  for (int i = 0; i < 20000; ++i) {
    const std::string k = "k" + std::to_string(rng() % 3000);
    key_entry* found = h.find(k, hash_key(k));
    REQUIRE((found != nullptr) == (model.count(k) == 1));
    if (found == nullptr) {
      h.insert(es.make(k));
      model.insert(k);
    } else if (rng() % 2 == 0) {
      h.erase(found);
      model.erase(k);
    }
    REQUIRE(h.size() == model.size());
  }
  for (const auto& k : model) CHECK(h.find(k, hash_key(k)) != nullptr);
}

TEST_CASE("hash index: keeps every key across growths into tables its prefaulter faults in", "[mvcc]") {
  // 400,000 keys grow the table past 4 MiB (600k slots and more): the rebuilds into it fault its pages
  // in on the prefaulter's thread while they place entries.
  leasekv::base::prefaulter pf;  // declared first: it outlives the index
  entries es;
  hash_index h(true, &pf);
  std::vector<key_entry*> all;
  for (int i = 0; i < 400000; ++i) {
    all.push_back(es.make(fmt::format("/registry/pods/{:08d}", i)));
    h.insert(all.back());
  }
  REQUIRE(h.size() == all.size());
  for (const key_entry* e : all) REQUIRE(h.find(e->key(), e->hash) == e);
  for (std::size_t i = 0; i < all.size(); i += 2) h.erase(all[i]);
  for (std::size_t i = 0; i < all.size(); ++i) REQUIRE((h.find(all[i]->key(), all[i]->hash) != nullptr) == (i % 2 == 1));
}

TEST_CASE("hash_key spreads keys over the top bits (a slot) and the whole word (a tag), whatever their length", "[mvcc]") {
  // hash_index takes a key's slot from the top bits of hash_key and its tag from all 32: keys that differ
  // only in their last byte, or are shorter than a word, must spread as well as the rest.
  std::vector<std::string> keys;
  for (int i = 0; i < 60000; ++i) keys.push_back(fmt::format("/registry/pods/{:08d}", i));
  for (int i = 0; i < 20000; ++i) keys.push_back(fmt::format("k{}", i));           // 2-6 bytes
  for (int i = 0; i < 20000; ++i) keys.push_back(std::string(static_cast<std::size_t>(9 + i % 23), 'x') + static_cast<char>(i % 251) +
                                                    static_cast<char>(i / 251));   // long, differing at the end
  std::vector<int> buckets(256);
  std::unordered_set<std::uint32_t> seen;
  for (const auto& k : keys) {
    const std::uint32_t h = hash_key(k);
    ++buckets[h >> 24];
    seen.insert(h);
  }
  const double expected = static_cast<double>(keys.size()) / 256.0;  // ~390 a bucket
  for (int b : buckets) {
    CHECK(b > expected * 0.7);
    CHECK(b < expected * 1.3);
  }
  CHECK(keys.size() - seen.size() < 10);  // a random 32-bit hash would collide ~1.2 times
  CHECK(hash_key("") != hash_key(std::string_view("\0", 1)));
  CHECK(hash_key("abc") == hash_key(std::string("abc")));
}
