// leasekv — leader election on a session: clientv3's concurrency.Election.
//
//   auto s = leasekv::session::open(*store, {.ttl = std::chrono::seconds(10)}).value();
//   leasekv::election e(*s, "/election/scheduler");
//   e.campaign("10.0.0.7").value();     // blocks until this session leads
//   e.proclaim("10.0.0.7:draining").value();
//   e.resign().value();
//
//   auto o = e.observe();               // every leader, in order, through Asio
//   o->async_next([](boost::system::error_code ec, leasekv::range_response leader) { ... });
//
// Layout, exactly clientv3's (and mutex.hpp's): each candidate puts `<prefix>/<lease id in hex>` with its
// value, attached to its session's lease; the oldest key by create revision leads, and its value is the
// leader's proclamation. A candidate waits only for the deletion of the key created just before its own.
// So C++ and Go (clientv3, etcdctl elect) candidates take part in one election.
//
// Errors: errc::election_not_leader ("election: not leader") from proclaim() when this session does not
// lead (any more), and from a campaign whose key vanished while it waited (its lease ended);
// errc::election_no_leader ("election: no leader") from leader() with no candidate.
//
// Thread safety: calls on one election must not overlap, except cancel(), which may be called from any
// thread while a campaign is pending. An observer may be used from any thread. Completion handlers never
// run inside the call that started the operation.
#pragma once

#include "leasekv/completion.hpp"
#include "leasekv/error.hpp"
#include "leasekv/session.hpp"
#include "leasekv/types.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace leasekv {

namespace detail {
struct election_state;
struct observer_state;
}  // namespace detail

// The leaders of an election, one response each (election::observe). A response is clientv3's: the
// leader's key-value in kvs[0] and the header of the read or watch response that showed it. It reports
// the leader when it starts (or, with none, the first candidate to appear), then each proclamation of
// that leader, then the next leader once its key is gone, and so on.
class leader_observer {
 public:
  ~leader_observer();
  leader_observer(const leader_observer&) = delete;
  leader_observer& operator=(const leader_observer&) = delete;

  // Completes with the next leader response. Completion signature:
  // void(boost::system::error_code, range_response). After cancel(): operation_aborted. When the stream
  // cannot go on (a read failed, a watch was cancelled: compacted history, the store closed), the responses
  // already queued are delivered, then that error. One async_next may be outstanding at a time.
  template <class CompletionToken>
  auto async_next(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, range_response)>(
        [this](auto handler) {
          start_next(detail::make_completion<boost::system::error_code, range_response>(std::move(handler), executor_));
        },
        token);
  }

  // Stops observing; a pending async_next completes with operation_aborted. The destructor cancels.
  void cancel();

 private:
  friend class election;
  leader_observer(boost::asio::any_io_executor ex, std::shared_ptr<detail::observer_state> s)
      : executor_(std::move(ex)), state_(std::move(s)) {}
  void start_next(std::unique_ptr<detail::completion<boost::system::error_code, range_response>> c);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<detail::observer_state> state_;
};

class election {
 public:
  using deadline = std::chrono::steady_clock::time_point;

  // An election named `prefix` (the keys go under prefix + "/") on the session's lease. The session must
  // outlive the calls. `ex`: where async_campaign's wait runs and its handler when that has no executor
  // of its own, and the observers' default (empty: Asio's system executor). The blocking calls never use it.
  election(session& s, std::string_view prefix, boost::asio::any_io_executor ex = {});
  // clientv3's ResumeElection: an election this session already leads with `leader_key`, created at
  // `leader_rev` (election::key() and rev() of the campaign that won, perhaps in an earlier process), so
  // that proclaim() and resign() work on it. Unlike clientv3's, `prefix` is given as to the constructor
  // (the keys under prefix + "/"), so leader() and observe() read the same keys as a campaign's.
  static std::unique_ptr<election> resume(session& s, std::string_view prefix, std::string_view leader_key,
                                          std::int64_t leader_rev, boost::asio::any_io_executor ex = {});
  // Cancels a pending campaign (its handler gets operation_aborted). Leadership is kept: resign() first.
  ~election();
  election(const election&) = delete;
  election& operator=(const election&) = delete;

  // Puts this session's candidate key with `value` (or, if the session already has one, proclaims `value`
  // on it) and blocks until it leads. Fails with the store's error, election_not_leader (the key vanished
  // while waiting), operation_aborted after cancel(), timed_out at the deadline; a campaign that fails
  // deletes its key, so it never blocks the candidates after it.
  result<void> campaign(std::string_view value);
  result<void> campaign_until(std::string_view value, deadline d);

  // campaign(), asynchronously. Completion signature: void(boost::system::error_code).
  template <class CompletionToken>
  auto async_campaign(std::string value, CompletionToken&& token) {
    return initiate(std::move(value), std::nullopt, std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_campaign_until(std::string value, deadline d, CompletionToken&& token) {
    return initiate(std::move(value), d, std::forward<CompletionToken>(token));
  }

  // Ends a pending campaign: it completes with operation_aborted and deletes its key.
  void cancel();

  // Announces a new value while leading, without losing leadership. Fails with election_not_leader
  // unless this session's key is still the one its campaign created (then it forgets that key).
  result<void> proclaim(std::string_view value);

  // Gives up leadership (deletes the key if it is still the campaign's). Nothing to do is not an error.
  result<void> resign();

  // The current leader: its key-value in kvs[0]. Fails with election_no_leader when nobody campaigns.
  result<range_response> leader() const;

  // A stream of leaders (leader_observer). `ex`: where its handlers run by default (empty: the election's).
  std::unique_ptr<leader_observer> observe(boost::asio::any_io_executor ex = {}) const;

  // The campaign's key ("" before a campaign and after resign()), its create revision, and the header of
  // the last response that changed leadership (a campaign won, a proclamation, a resignation).
  std::string key() const;
  std::int64_t rev() const;
  response_header header() const;

 private:
  template <class CompletionToken>
  auto initiate(std::string value, std::optional<deadline> d, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
        [this, d](auto handler, std::string v) {
          start_campaign(std::move(v), d, false,
                         detail::make_completion<boost::system::error_code>(std::move(handler), executor_));
        },
        token, std::move(value));
  }
  void start_campaign(std::string value, std::optional<deadline> d, bool blocking,
                      std::unique_ptr<detail::completion<boost::system::error_code>> c);
  result<void> wait_for_campaign(std::string_view value, std::optional<deadline> d);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<detail::election_state> state_;
};

}  // namespace leasekv
