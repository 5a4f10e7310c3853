#include "leasekv/election.hpp"

#include "base/mutex.hpp"
#include "leasekv/txn.hpp"
#include "recipes/observer.hpp"
#include "recipes/queue_wait.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/system_executor.hpp>


namespace leasekv {

namespace detail {

// An election: where it works and its pending campaign (recipe_target), and what it leads with.
struct election_state : recipes::recipe_target {
  using recipe_target::recipe_target;

  base::mutex mu;
  std::string key LEASEKV_GUARDED_BY(mu);
  std::int64_t rev LEASEKV_GUARDED_BY(mu) = 0;
  bool leading LEASEKV_GUARDED_BY(mu) = false;  // clientv3's leaderSession != nil: key and rev are ours
  response_header header LEASEKV_GUARDED_BY(mu);

  result<void> proclaim(std::string_view value) LEASEKV_EXCLUDES(mu) {
    std::string k;
    std::int64_t r = 0;
    {
      base::lock_guard lock(mu);
      if (!leading) return errc::election_not_leader;
      k = key;
      r = rev;
    }
    BOOST_OUTCOME_TRY(t, txn_builder(anchor).when(compare::create_revision(k) == r).then(op::put(k, value, {.lease = lease})).commit());
    base::lock_guard lock(mu);
    if (!t.succeeded) {
      key.clear();
      return errc::election_not_leader;
    }
    header = t.header;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  result<void> resign() LEASEKV_EXCLUDES(mu) {
    std::string k;
    std::int64_t r = 0;
    {
      base::lock_guard lock(mu);
      if (!leading) return BOOST_OUTCOME_V2_NAMESPACE::success();
      k = key;
      r = rev;
    }
    auto t = txn_builder(anchor).when(compare::create_revision(k) == r).then(op::del(key_range(k))).commit();
    base::lock_guard lock(mu);
    if (t) header = t.value().header;
    key.clear();
    leading = false;
    if (!t) return t.error();
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
};

}  // namespace detail

namespace {

using completion_ptr = std::shared_ptr<detail::completion<boost::system::error_code>>;

void run_campaign(const std::shared_ptr<detail::election_state>& st, const std::string& value,
                  std::optional<election::deadline> d, recipes::strand on, completion_ptr c) {
  if (st->pending.cancelled()) {
    c->complete(boost::asio::error::operation_aborted);
    return;
  }
  const std::string key = recipes::session_key(st->prefix, st->lease);
  auto t = txn_builder(st->anchor)
               .when(compare::create_revision(key) == 0)
               .then(op::put(key, value, {.lease = st->lease}))
               .otherwise(op::get(key))
               .commit();
  if (!t) {
    c->complete(t.error());
    return;
  }
  const response_header won_header = t.value().header;
  std::int64_t rev = won_header.revision;
  bool proclaim = false;
  if (!t.value().succeeded) {
    const auto& kvs = t.value().responses.front().range.kvs;
    if (kvs.empty()) {  // our key vanished inside the txn
      c->complete(errc::election_not_leader);
      return;
    }
    rev = kvs.front().create_revision;
    proclaim = kvs.front().value != value;
  }
  {
    base::lock_guard lock(st->mu);
    st->key = key;
    st->rev = rev;
    st->leading = true;
  }
  // A campaign again on a key this session already has announces the new value.
  if (proclaim) {
    if (auto p = st->proclaim(value); !p) {
      (void)st->resign();
      c->complete(p.error());
      return;
    }
  }
  recipes::queue_wait::params p{st->anchor, on, st->prefix, key, rev, won_header.revision, d};
  auto w = std::make_shared<recipes::queue_wait>(std::move(p), [st, c, won_header](result<response_header> r) {
    st->pending.done();
    if (r) {
      base::lock_guard lock(st->mu);
      st->header = won_header;  // as clientv3: the header of the campaign's txn
    }
    if (r) {
      c->complete({});
      return;
    }
    // A campaign that does not lead gives up its place, so it never blocks the candidates after it.
    (void)st->resign();
    c->complete(r.error() == errc::session_expired ? error(errc::election_not_leader) : r.error());
  });
  st->pending.start(w);
}

}  // namespace

election::election(session& s, std::string_view prefix, boost::asio::any_io_executor ex)
    : executor_(ex ? std::move(ex) : boost::asio::any_io_executor(boost::asio::system_executor())),
      state_(std::make_shared<detail::election_state>(s.anchor_, s.lease(), std::string(prefix) + "/",
                                                      recipes::make_recipe_strand(executor_))) {}

std::unique_ptr<election> election::resume(session& s, std::string_view prefix, std::string_view leader_key,
                                           std::int64_t leader_rev, boost::asio::any_io_executor ex) {
  auto e = std::make_unique<election>(s, prefix, std::move(ex));
  base::lock_guard lock(e->state_->mu);
  e->state_->key = leader_key;
  e->state_->rev = leader_rev;
  e->state_->leading = true;
  return e;
}

election::~election() { cancel(); }

void election::start_campaign(std::string value, std::optional<deadline> d, bool blocking,
                              std::unique_ptr<detail::completion<boost::system::error_code>> c) {
  state_->pending.begin();
  recipes::strand on = blocking ? recipes::make_recipe_strand({}) : state_->on;
  boost::asio::post(on, [st = state_, v = std::move(value), d, on, c = completion_ptr(std::move(c))] {
    run_campaign(st, v, d, on, c);
  });
}

result<void> election::wait_for_campaign(std::string_view value, std::optional<deadline> d) {
  return recipes::wait_blocking(
      [&](std::unique_ptr<recipes::void_completion> c) { start_campaign(std::string(value), d, true, std::move(c)); });
}

result<void> election::campaign(std::string_view value) { return wait_for_campaign(value, std::nullopt); }

result<void> election::campaign_until(std::string_view value, deadline d) { return wait_for_campaign(value, d); }

void election::cancel() {
  state_->pending.cancel();
}

result<void> election::proclaim(std::string_view value) { return state_->proclaim(value); }

result<void> election::resign() { return state_->resign(); }

result<range_response> election::leader() const {
  BOOST_OUTCOME_TRY(r, recipes::on_store(state_->anchor, [&](store& s) {
    return s.range(prefix(state_->prefix), recipes::first_created());
  }));
  if (r.kvs.empty()) return errc::election_no_leader;
  return r;
}

std::unique_ptr<leader_observer> election::observe(boost::asio::any_io_executor ex) const {
  if (!ex) ex = executor_;
  auto st = recipes::start_observer(state_->anchor, state_->prefix, recipes::make_recipe_strand(ex));
  return std::unique_ptr<leader_observer>(new leader_observer(std::move(ex), std::move(st)));
}

std::string election::key() const {
  base::lock_guard lock(state_->mu);
  return state_->key;
}

std::int64_t election::rev() const {
  base::lock_guard lock(state_->mu);
  return state_->rev;
}

response_header election::header() const {
  base::lock_guard lock(state_->mu);
  return state_->header;
}

}  // namespace leasekv
