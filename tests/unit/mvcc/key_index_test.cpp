#include <catch2/catch.hpp>

#include "mvcc/key_index.hpp"

#include <random>
#include <set>
#include <string>
#include <vector>

using namespace leasekv::mvcc;

namespace {

// Owns entries for the duration of a test.
struct entries {
  leasekv::base::node_arena arena;
  std::vector<key_entry*> all;
  key_entry* make(const std::string& k) { return all.emplace_back(key_entry::make(arena, k, hash_key(k))); }
  ~entries() {
    for (auto* e : all) key_entry::destroy(arena, e);
  }
};

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
  CHECK(e->live_at(2)->version == 2);
  CHECK(e->live_at(3) == nullptr);
  CHECK(e->at(3)->tombstone());
  CHECK(e->live_at(4)->create_revision == 4);
  CHECK(e->live_at(4)->version == 1);
  CHECK(e->live_at(99)->value() == "d");
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

TEST_CASE("hash index: finds, inserts and erases like a std::set under random churn", "[mvcc]") {
  entries es;
  hash_index h;
  std::set<std::string> model;
  std::mt19937 rng(7);
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

TEST_CASE("ordered index: keeps keys sorted across chunk splits and erasures", "[mvcc]") {
  entries es;
  ordered_index idx;
  std::set<std::string> model;
  std::mt19937 rng(11);
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
  for (const std::string probe : {"key", "key1", "key2500", "key3999", "kez", "a"}) {
    auto p = idx.lower_bound(probe);
    auto m = model.lower_bound(probe);
    if (m == model.end()) {
      CHECK(p == idx.end());
    } else {
      REQUIRE(p != idx.end());
      CHECK(idx.at(p)->key() == *m);
    }
  }
}
