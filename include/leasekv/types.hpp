// leasekv — the key-value types, named and shaped as etcd's clientv3 / etcdserverpb messages.
//
// Thread safety: plain values; distinct objects may be used from distinct threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv {

// A lease id. 0 means "no lease".
using lease_id = std::int64_t;
inline constexpr lease_id no_lease = 0;

// etcd's ResponseHeader. `revision` is the store's revision when the response was made (for a write,
// the revision it created). cluster_id and member_id are stable for a store; raft_term mirrors a
// single-node etcd's term (2 on a fresh store).
struct response_header {
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
  std::int64_t revision = 0;
  std::uint64_t raft_term = 0;
  friend bool operator==(const response_header&, const response_header&) = default;
};

// One version of a key, as etcd's mvccpb.KeyValue. A key that is not present has no key_value; a
// DELETE event carries a key_value with only `key` and `mod_revision` set.
//
//   create_revision  main revision of the put that started the key's current generation
//   mod_revision     main revision of the key's last change
//   version          number of puts in the current generation (1 after creation)
//   lease            the lease the key is attached to, or 0
struct key_value {
  std::string key;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::string value;
  lease_id lease = no_lease;
  friend bool operator==(const key_value&, const key_value&) = default;
};

// A set of keys, with etcd's conventions:
//   range_end empty   -> exactly `key`
//   range_end "\0"    -> every key >= key ("from key"); with key "\0" too: every key
//   otherwise         -> [key, range_end)
// Construct it with the helpers below or implicitly from one key.
struct key_range {
  std::string key;
  std::string range_end;

  key_range() = default;
  key_range(std::string_view k) : key(k) {}  // NOLINT: one key converts implicitly
  key_range(const char* k) : key(k) {}       // NOLINT
  key_range(const std::string& k) : key(k) {}  // NOLINT
  key_range(std::string_view k, std::string_view end) : key(k), range_end(end) {}
  friend bool operator==(const key_range&, const key_range&) = default;
};

// The range_end that makes [key, range_end) cover every key starting with `key`: the key with its last
// byte below 0xff incremented and the 0xff bytes after it dropped; "\0" (every key) when there is none.
std::string prefix_end(std::string_view key);

// Every key that starts with `p`. prefix("") is every key.
key_range prefix(std::string_view p);
// Every key >= `k`.
key_range from_key(std::string_view k);
// Every key.
key_range all_keys();

enum class sort_order { none, ascend, descend };
enum class sort_target { key, version, create, mod, value };

// RangeRequest's options. Zero means "unset" for every number.
struct range_options {
  std::int64_t limit = 0;      // at most this many kvs (<= 0: no limit); `more` tells if there were more
  std::int64_t revision = 0;   // read as of this revision (<= 0: the current one)
  sort_order order = sort_order::none;
  sort_target target = sort_target::key;
  bool serializable = false;   // accepted for etcd compatibility; a local store is always linearizable
  bool keys_only = false;      // values are left empty
  bool count_only = false;     // no kvs, only the count
  std::int64_t min_mod_revision = 0;
  std::int64_t max_mod_revision = 0;
  std::int64_t min_create_revision = 0;
  std::int64_t max_create_revision = 0;
};

struct range_response {
  response_header header;
  std::vector<key_value> kvs;
  bool more = false;          // more kvs matched than `limit` allowed
  std::int64_t count = 0;     // keys in the range at that revision, ignoring limit and the min/max filters
  friend bool operator==(const range_response&, const range_response&) = default;
};

// A key_value as views into the range_view_response that holds it.
struct key_value_view {
  std::string_view key;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::string_view value;
  lease_id lease = no_lease;

  key_value to_key_value() const {
    return {std::string(key), create_revision, mod_revision, version, std::string(value), lease};
  }
};

// What store::range_view returns: range_response's contents, with every key and value copied into one
// buffer the response owns. Reading N keys allocates two blocks rather than 2N strings. The views stay
// valid as long as the response (moving it keeps them valid); it cannot be copied.
struct range_view_response {
  response_header header;
  std::vector<key_value_view> kvs;
  bool more = false;
  std::int64_t count = 0;
  std::unique_ptr<char[]> bytes;  // what the views point into
};

struct put_options {
  lease_id lease = no_lease;  // attach the key to this lease (0: no lease, detaching any it had)
  bool prev_kv = false;       // return the key's previous value, if it existed
  bool ignore_value = false;  // keep the current value; the key must exist and no value may be given
  bool ignore_lease = false;  // keep the current lease; the key must exist and no lease may be given
};

struct put_response {
  response_header header;
  std::optional<key_value> prev_kv;
  friend bool operator==(const put_response&, const put_response&) = default;
};

struct delete_options {
  bool prev_kv = false;  // return the deleted key-values
};

struct delete_response {
  response_header header;
  std::int64_t deleted = 0;
  std::vector<key_value> prev_kvs;
  friend bool operator==(const delete_response&, const delete_response&) = default;
};

struct compact_options {
  // Accepted for etcd compatibility. leasekv always removes the superseded versions before compact()
  // returns (in small batches, so writers are not stalled), so physical and non-physical are the same.
  bool physical = false;
};

struct compact_response {
  response_header header;
  friend bool operator==(const compact_response&, const compact_response&) = default;
};

}  // namespace leasekv
