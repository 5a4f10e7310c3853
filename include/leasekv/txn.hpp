// leasekv — transactions: compare-and-swap over many keys, as etcd's Txn.
//
// A txn_request holds compares (ANDed), a success branch and a failure branch. The whole request is
// validated before anything applies; it then takes one revision if it changed anything.
//
//   auto r = store->txn()
//                .when(leasekv::compare::version("k") == 0)      // "k" does not exist
//                .then(leasekv::op::put("k", "v"))
//                .otherwise(leasekv::op::get("k"))
//                .commit();                                        // result<txn_response>
//
// Compare semantics (etcd's): a compare ranges over one key or a key_range at the txn's read revision;
// every key found must satisfy it. When no key is found, a value compare is false and the others compare
// against zero, so `compare::version(k) == 0` and `compare::create_revision(k) == 0` test absence.
//
// Thread safety: plain values; a txn_builder is used by one thread at a time.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/types.hpp"

#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leasekv {

class store;

enum class compare_target { version, create, mod, value, lease };
enum class compare_result { equal, greater, less, not_equal };

struct compare {
  compare_result result = compare_result::equal;
  compare_target target = compare_target::version;
  key_range range;
  std::int64_t number = 0;  // for version, create, mod and lease targets
  std::string value;        // for the value target

  // The left-hand side of a compare; finish it with ==, !=, < or >.
  struct operand {
    compare_target target;
    key_range range;
  };
  static operand version(key_range r) { return {compare_target::version, std::move(r)}; }
  static operand create_revision(key_range r) { return {compare_target::create, std::move(r)}; }
  static operand mod_revision(key_range r) { return {compare_target::mod, std::move(r)}; }
  static operand value_of(key_range r) { return {compare_target::value, std::move(r)}; }
  static operand lease(key_range r) { return {compare_target::lease, std::move(r)}; }
};

compare make_compare(compare::operand lhs, compare_result res, std::int64_t number);
compare make_compare(compare::operand lhs, compare_result res, std::string_view value);

// Numbers for the version, create, mod and lease targets; text for the value target.
template <std::integral N>
compare operator==(compare::operand l, N n) { return make_compare(std::move(l), compare_result::equal, static_cast<std::int64_t>(n)); }
template <std::integral N>
compare operator!=(compare::operand l, N n) { return make_compare(std::move(l), compare_result::not_equal, static_cast<std::int64_t>(n)); }
template <std::integral N>
compare operator<(compare::operand l, N n) { return make_compare(std::move(l), compare_result::less, static_cast<std::int64_t>(n)); }
template <std::integral N>
compare operator>(compare::operand l, N n) { return make_compare(std::move(l), compare_result::greater, static_cast<std::int64_t>(n)); }
inline compare operator==(compare::operand l, std::string_view v) { return make_compare(std::move(l), compare_result::equal, v); }
inline compare operator!=(compare::operand l, std::string_view v) { return make_compare(std::move(l), compare_result::not_equal, v); }
inline compare operator<(compare::operand l, std::string_view v) { return make_compare(std::move(l), compare_result::less, v); }
inline compare operator>(compare::operand l, std::string_view v) { return make_compare(std::move(l), compare_result::greater, v); }

struct txn_request;

// One operation of a txn branch: a range (get), a put, a delete_range or a nested txn.
struct request_op {
  enum class kind { range, put, delete_range, txn };
  kind type = kind::range;
  key_range range;       // put: range.key is the key
  std::string value;     // put only
  range_options range_opts;
  put_options put_opts;
  delete_options delete_opts;
  std::shared_ptr<const txn_request> txn;  // nested txn only
};

struct txn_request {
  std::vector<compare> compares;
  std::vector<request_op> success;
  std::vector<request_op> failure;
};

namespace op {
request_op get(key_range r, range_options o = {});
request_op put(std::string_view key, std::string_view value, put_options o = {});
request_op del(key_range r, delete_options o = {});
request_op txn(txn_request t);
}  // namespace op

struct txn_response;

// The response to one op, of the op's kind. Headers of responses inside a txn carry only `revision`.
struct response_op {
  request_op::kind type = request_op::kind::range;
  range_response range;
  put_response put;
  delete_response delete_range;
  std::shared_ptr<txn_response> txn;
};

struct txn_response {
  response_header header;  // revision after the txn
  bool succeeded = false;  // the compares held: the success branch ran
  std::vector<response_op> responses;
};

namespace detail {
class store_anchor;
}

// Builds a txn_request fluently and commits it to the store it came from (store::txn()). It may outlive
// that store: commit() then fails with errc::closed.
class txn_builder {
 public:
  explicit txn_builder(std::shared_ptr<detail::store_anchor> anchor) : anchor_(std::move(anchor)) {}

  template <class... Compares>
  txn_builder& when(Compares&&... c) {
    (req_.compares.push_back(std::forward<Compares>(c)), ...);
    return *this;
  }
  template <class... Ops>
  txn_builder& then(Ops&&... o) {
    (req_.success.push_back(std::forward<Ops>(o)), ...);
    return *this;
  }
  template <class... Ops>
  txn_builder& otherwise(Ops&&... o) {
    (req_.failure.push_back(std::forward<Ops>(o)), ...);
    return *this;
  }

  const txn_request& request() const { return req_; }
  result<txn_response> commit();

 private:
  std::shared_ptr<detail::store_anchor> anchor_;
  txn_request req_;
};

}  // namespace leasekv
