#include "leasekv/mutex.hpp"

#include "base/mutex.hpp"
#include "recipes/queue_wait.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/system_executor.hpp>


namespace leasekv {

namespace detail {

// A mutex: where it works and its pending lock (recipe_target), and what it holds.
struct mutex_state : recipes::recipe_target {
  using recipe_target::recipe_target;

  base::mutex mu;
  std::string key LEASEKV_GUARDED_BY(mu) = std::string(1, '\0');
  std::int64_t rev LEASEKV_GUARDED_BY(mu) = -1;
  response_header header LEASEKV_GUARDED_BY(mu);

  void held(const std::string& k, std::int64_t r, const response_header& h) LEASEKV_EXCLUDES(mu) {
    base::lock_guard lock(mu);
    key = k;
    rev = r;
    header = h;
  }
};

}  // namespace detail

namespace {

using completion_ptr = std::shared_ptr<detail::completion<boost::system::error_code>>;

// clientv3's one txn: queue our key unless this lease already did (its place then counts), and read
// the oldest key. Returns it with our key's create revision.
struct acquire_result {
  txn_response txn;
  std::int64_t my_rev = 0;
  bool owner = false;
};

result<acquire_result> try_acquire(detail::mutex_state& st, const std::string& key) {
  BOOST_OUTCOME_TRY(t, txn_builder(st.anchor)
                           .when(compare::create_revision(key) == 0)
                           .then(op::put(key, "", {.lease = st.lease}), op::get(prefix(st.prefix), recipes::first_created()))
                           .otherwise(op::get(key), op::get(prefix(st.prefix), recipes::first_created()))
                           .commit());
  acquire_result a;
  if (t.responses.size() != 2 || (!t.succeeded && t.responses[0].range.kvs.empty())) {
    return error(errc::session_expired);  // our key vanished inside the txn
  }
  a.my_rev = t.succeeded ? t.header.revision : t.responses[0].range.kvs.front().create_revision;
  const auto& owner = t.responses[1].range.kvs;
  a.owner = owner.empty() || owner.front().create_revision == a.my_rev;
  a.txn = std::move(t);
  return a;
}

void run_lock(const std::shared_ptr<detail::mutex_state>& st, std::optional<mutex::deadline> d, recipes::strand on,
              completion_ptr c) {
  if (st->pending.cancelled()) {
    c->complete(boost::asio::error::operation_aborted);
    return;
  }
  const std::string key = recipes::session_key(st->prefix, st->lease);
  auto a = try_acquire(*st, key);
  if (!a) {
    c->complete(a.error());
    return;
  }
  if (a.value().owner) {
    st->held(key, a.value().my_rev, a.value().txn.header);
    c->complete({});
    return;
  }
  const std::int64_t my_rev = a.value().my_rev;
  recipes::queue_wait::params p{st->anchor, on, st->prefix, key, my_rev, a.value().txn.header.revision, d};
  auto w = std::make_shared<recipes::queue_wait>(std::move(p), [st, c, key, my_rev](result<response_header> r) {
    st->pending.done();
    if (r) {
      st->held(key, my_rev, r.value());
      c->complete({});
      return;
    }
    // As clientv3: a waiter that does not get the lock gives up its place.
    (void)recipes::on_store(st->anchor, [&](store& s) { return s.delete_range(key_range(key)); });
    c->complete(r.error());
  });
  st->pending.start(w);
}

}  // namespace

mutex::mutex(session& s, std::string_view prefix, boost::asio::any_io_executor ex)
    : executor_(ex ? std::move(ex) : boost::asio::any_io_executor(boost::asio::system_executor())),
      state_(std::make_shared<detail::mutex_state>(s.anchor_, s.lease(), std::string(prefix) + "/",
                                                   recipes::make_recipe_strand(executor_))) {}

mutex::~mutex() { cancel(); }

void mutex::start_lock(std::optional<deadline> d, bool blocking,
                       std::unique_ptr<detail::completion<boost::system::error_code>> c) {
  state_->pending.begin();
  recipes::strand on = blocking ? recipes::make_recipe_strand({}) : state_->on;
  boost::asio::post(on, [st = state_, d, on, c = completion_ptr(std::move(c))] { run_lock(st, d, on, c); });
}

result<void> mutex::wait_for_lock(std::optional<deadline> d) {
  return recipes::wait_blocking([&](std::unique_ptr<recipes::void_completion> c) { start_lock(d, true, std::move(c)); });
}

result<void> mutex::lock() { return wait_for_lock(std::nullopt); }

result<void> mutex::lock_until(deadline d) { return wait_for_lock(d); }

void mutex::cancel() {
  state_->pending.cancel();
}

result<void> mutex::try_lock() {
  const std::string key = recipes::session_key(state_->prefix, state_->lease);
  BOOST_OUTCOME_TRY(a, try_acquire(*state_, key));
  if (a.owner) {
    state_->held(key, a.my_rev, a.txn.header);
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }
  // Held by another session: leave no key behind (one queued before this call, by another mutex on the
  // same session, keeps its place).
  if (a.txn.succeeded) {
    BOOST_OUTCOME_TRY(recipes::on_store(state_->anchor, [&](store& s) { return s.delete_range(key_range(key)); }));
  }
  return errc::mutex_locked;
}

result<void> mutex::unlock() {
  std::string key;
  {
    base::lock_guard lock(state_->mu);
    key = state_->key;
  }
  if (key != std::string(1, '\0')) {
    BOOST_OUTCOME_TRY(recipes::on_store(state_->anchor, [&](store& s) { return s.delete_range(key_range(key)); }));
  }
  base::lock_guard lock(state_->mu);
  state_->key = std::string(1, '\0');
  state_->rev = -1;
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

compare mutex::is_owner() const {
  base::lock_guard lock(state_->mu);
  return compare::create_revision(state_->key) == state_->rev;
}

std::string mutex::key() const {
  base::lock_guard lock(state_->mu);
  return state_->key;
}

response_header mutex::header() const {
  base::lock_guard lock(state_->mu);
  return state_->header;
}

}  // namespace leasekv
