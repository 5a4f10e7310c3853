#include "recipes/observer.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <deque>

namespace leasekv {

namespace detail {

// clientv3's observe loop, on a strand: read the oldest key (or, with none, watch the prefix for the
// first put), report it, then follow that key's puts until its delete, and start over. Responses wait in
// a queue for async_next. A reader that falls behind holds the loop back instead of growing the queue:
// with max_queued responses waiting, the watch on the leader's key is dropped and later started again from
// the revision after the last response queued (as clientv3's goroutine blocks on its channel).
struct observer_state : std::enable_shared_from_this<observer_state> {
  using completion_ptr = std::unique_ptr<completion<boost::system::error_code, range_response>>;
  static constexpr std::size_t max_queued = 64;

  observer_state(recipes::anchor_ptr a, std::string p, recipes::strand s)
      : anchor(std::move(a)), prefix(std::move(p)), on(std::move(s)) {}
  ~observer_state() { retire(); }

  // Everything below runs on `on`.
  recipes::anchor_ptr anchor;
  std::string prefix;
  recipes::strand on;
  std::deque<range_response> queue;
  completion_ptr pending;
  std::unique_ptr<watcher> current;
  bool awaiting_put = false;  // watching the prefix for the first candidate
  std::string following;      // else: the leader's key, watched from next_revision
  std::int64_t next_revision = 0;
  bool paused = false;
  bool ended = false;
  error end_error;

  void find_leader() {
    if (ended) return;
    auto r = recipes::on_store(anchor, [&](store& s) { return s.range(leasekv::prefix(prefix), recipes::first_created()); });
    if (!r) {
      end(r.error());
      return;
    }
    if (r.value().kvs.empty()) {
      awaiting_put = true;
      watch(leasekv::prefix(prefix), r.value().header.revision);
      return;
    }
    range_response one;
    one.header = r.value().header;
    one.kvs.push_back(r.value().kvs.front());
    one.count = 1;
    const std::string key = one.kvs.front().key;
    const std::int64_t from = one.header.revision + 1;
    send(std::move(one));
    follow(key, from);
  }

  void follow(const std::string& key, std::int64_t from) {
    awaiting_put = false;
    following = key;
    next_revision = from;
    if (queue.size() >= max_queued) {
      paused = true;
      retire();
      return;
    }
    watch(key_range(key), from);
  }

  void on_watch(const watch_response& wr) {
    if (ended) return;
    if (wr.canceled) {
      end(wr.compact_revision != 0 ? error(errc::compacted)
                                   : wr.cancel_reason ? error(wr.cancel_reason) : error(errc::watch_canceled));
      return;
    }
    for (const auto& e : wr.events) {
      if (awaiting_put) {
        if (e.type != watch_event::kind::put) continue;
        // As clientv3: the first put's header, at that put's revision.
        range_response one;
        one.header = wr.header;
        one.header.revision = e.kv.mod_revision;
        one.kvs.push_back(e.kv);
        one.count = 1;
        send(std::move(one));
        follow(e.kv.key, e.kv.mod_revision + 1);
        return;
      }
      if (e.type == watch_event::kind::del) {
        find_leader();
        return;
      }
      range_response one;
      one.header = wr.header;
      one.kvs.push_back(e.kv);
      one.count = 1;
      send(std::move(one));
      next_revision = e.kv.mod_revision + 1;
    }
    if (!awaiting_put && queue.size() >= max_queued) {
      paused = true;
      retire();
    }
  }

  void watch(key_range r, std::int64_t from) {
    watch_options o;
    o.start_revision = from;
    auto w = recipes::on_store(anchor, [&](store& s) {
      return s.watch(std::move(r), o, on, [self = weak_from_this()](const watch_response& wr) {
        if (auto me = self.lock()) me->on_watch(wr);
      });
    });
    retire();
    if (!w) {
      end(w.error());
      return;
    }
    current = std::move(w).value();
  }

  // Cancels the current watcher and destroys it later: its handler may be running further up the stack.
  void retire() {
    if (!current) return;
    current->cancel();
    boost::asio::post(on, [dead = std::shared_ptr<watcher>(std::move(current))] {});
  }

  void send(range_response r) {
    if (pending) {
      auto c = std::move(pending);
      c->complete({}, std::move(r));
      return;
    }
    queue.push_back(std::move(r));
  }

  void next(completion_ptr c) {
    if (!queue.empty()) {
      c->complete({}, std::move(queue.front()));
      queue.pop_front();
      if (paused && !ended && queue.size() < max_queued) {
        paused = false;
        follow(following, next_revision);
      }
      return;
    }
    if (ended) {
      c->complete(end_error, {});
      return;
    }
    pending = std::move(c);
  }

  void end(error e) {
    if (ended) return;
    ended = true;
    end_error = std::move(e);
    retire();
    if (pending && queue.empty()) {
      auto c = std::move(pending);
      c->complete(end_error, {});
    }
  }
};

}  // namespace detail

namespace recipes {

std::shared_ptr<detail::observer_state> start_observer(anchor_ptr anchor, std::string prefix, strand on) {
  auto st = std::make_shared<detail::observer_state>(std::move(anchor), std::move(prefix), on);
  boost::asio::post(on, [st] { st->find_leader(); });
  return st;
}

}  // namespace recipes

leader_observer::~leader_observer() { cancel(); }

void leader_observer::start_next(std::unique_ptr<detail::completion<boost::system::error_code, range_response>> c) {
  auto st = state_;
  boost::asio::post(st->on, [st, c = std::move(c)]() mutable { st->next(std::move(c)); });
}

void leader_observer::cancel() {
  auto st = state_;
  boost::asio::post(st->on, [st] {
    st->queue.clear();
    st->end(error(boost::asio::error::operation_aborted));
    // A stream that had already ended still answers operation_aborted from now on.
    st->end_error = error(boost::asio::error::operation_aborted);
  });
}

}  // namespace leasekv
