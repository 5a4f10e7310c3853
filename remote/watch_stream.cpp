#include "watch_stream.hpp"

#include "convert.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_executor.hpp>

#include <algorithm>
#include <chrono>
#include <utility>

namespace leasekv::remote_detail {

// One watcher: what the stream needs to (re)create it, and the delivery of its responses to its handler
// or to async_next, with the in-process guarantees (in order, on its executor, never after cancel).
struct watch_state : std::enable_shared_from_this<watch_state> {
  // Constant after construction.
  std::int64_t id = 0;
  key_range range;
  watch_options opts;
  boost::asio::any_io_executor executor;
  watch_handler handler;  // null: pull mode

  // Guarded by watch_stream::mu_.
  std::int64_t next_rev = 0;     // where a (re)create starts: 0 until known for a watch from "now"
  std::int64_t server_id = -1;   // on the current stream; -1 while not created there
  std::uint64_t generation = 0;  // the stream it was created on
  bool created_once = false;     // the server confirmed it at least once
  bool done = false;             // cancelled (by the user, the server or compaction): never re-created
  bool progress_wanted = false;  // request_progress() awaits the stream-wide answer

  // Delivery, guarded by dmu.
  std::mutex dmu;
  std::condition_variable dcv;
  std::deque<watch_response> queue;
  bool drain_posted = false;
  bool running = false;
  std::thread::id runner;
  bool stopped = false;      // cancel() or close(): nothing more is delivered
  bool final_taken = false;  // pull mode: the cancelled response was taken
  std::unique_ptr<detail::watch_completion> pending;

  void push(watch_response r) {
    std::unique_lock lock(dmu);
    if (stopped) return;
    if (!handler) {
      if (pending) {
        if (r.canceled) final_taken = true;
        auto c = std::move(pending);
        c->complete({}, std::move(r));  // posts
        return;
      }
      queue.push_back(std::move(r));
      return;
    }
    queue.push_back(std::move(r));
    if (drain_posted) return;
    drain_posted = true;
    lock.unlock();
    boost::asio::post(executor, [self = shared_from_this()] { self->drain(); });
  }

  void drain() {
    std::unique_lock lock(dmu);
    while (!stopped && !queue.empty()) {
      watch_response r = std::move(queue.front());
      queue.pop_front();
      running = true;
      runner = std::this_thread::get_id();
      lock.unlock();
      handler(r);
      lock.lock();
      running = false;
      dcv.notify_all();
    }
    drain_posted = false;
  }

  // No handler runs after this returns (unless called from inside one: that one finishes).
  void stop() {
    std::unique_ptr<detail::watch_completion> c;
    {
      std::unique_lock lock(dmu);
      stopped = true;
      queue.clear();
      c = std::move(pending);
      dcv.wait(lock, [&] { return !running || runner == std::this_thread::get_id(); });
    }
    if (c) c->complete(boost::asio::error::operation_aborted, {});
  }

  void start_next(std::unique_ptr<detail::watch_completion> c) {
    std::lock_guard lock(dmu);
    if (stopped) return c->complete(boost::asio::error::operation_aborted, {});
    if (!queue.empty()) {
      watch_response r = std::move(queue.front());
      queue.pop_front();
      if (r.canceled) final_taken = true;
      return c->complete({}, std::move(r));
    }
    if (final_taken) return c->complete(make_error_code(errc::watch_canceled), {});
    pending = std::move(c);
  }
};

namespace {

class remote_watcher final : public watcher {
 public:
  remote_watcher(std::shared_ptr<watch_state> s, std::weak_ptr<watch_stream> stream)
      : watcher(s->executor), s_(std::move(s)), stream_(std::move(stream)) {}
  ~remote_watcher() override { cancel(); }
  std::int64_t id() const override { return s_->id; }
  void cancel() override {
    s_->stop();
    if (auto st = stream_.lock()) st->cancel(s_);
  }
  void request_progress() override {
    if (auto st = stream_.lock()) st->request_progress(s_);
  }

 private:
  void start_next(std::unique_ptr<detail::watch_completion> c) override { s_->start_next(std::move(c)); }
  std::shared_ptr<watch_state> s_;
  std::weak_ptr<watch_stream> stream_;
};

}  // namespace

watch_stream::~watch_stream() { close(); }

void watch_stream::start() { thread_ = std::thread([this] { run(); }); }

result<std::unique_ptr<watcher>> watch_stream::watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                                     watch_handler handler) {
  if (r.key.empty()) r.key = std::string(1, '\0');
  if (!r.range_end.empty() && r.range_end != std::string(1, '\0') && r.range_end <= r.key) {
    return errc::watch_range_empty;
  }
  if (o.start_revision < 0) return error(errc::invalid_argument, "watch_options::start_revision is negative");
  auto s = std::make_shared<watch_state>();
  s->range = std::move(r);
  s->opts = o;
  s->executor = ex ? std::move(ex) : boost::asio::any_io_executor(boost::asio::system_executor());
  s->handler = std::move(handler);
  s->next_rev = o.start_revision;
  {
    std::lock_guard wl(write_mu_);
    {
      std::lock_guard lock(mu_);
      if (closing_) return errc::closed;
      s->id = next_id_++;
      watchers_[s->id] = s;
    }
    send_create(s);
  }
  auto w = std::make_unique<remote_watcher>(s, weak_from_this());
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, std::chrono::steady_clock::now() + conn_->options().call_timeout,
                 [&] { return closing_ || s->created_once || s->done; });
  if (closing_) return errc::closed;
  return std::unique_ptr<watcher>(std::move(w));
}

void watch_stream::send(const etcdserverpb::WatchRequest& req) {
  std::shared_ptr<stream_type> st;
  {
    std::lock_guard lock(mu_);
    st = stream_;
  }
  if (st) st->Write(req);  // a failure shows as the read side ending: the thread reconnects
}

void watch_stream::send_create(const std::shared_ptr<watch_state>& s) {
  etcdserverpb::WatchRequest req;
  {
    std::lock_guard lock(mu_);
    if (!stream_ || s->done) return;
    auto* c = req.mutable_create_request();
    c->set_key(s->range.key);
    c->set_range_end(s->range.range_end);
    c->set_start_revision(s->next_rev);
    c->set_progress_notify(s->opts.progress_notify);
    c->set_prev_kv(s->opts.prev_kv);
    if (s->opts.no_put) c->add_filters(etcdserverpb::WatchCreateRequest::NOPUT);
    if (s->opts.no_delete) c->add_filters(etcdserverpb::WatchCreateRequest::NODELETE);
    pending_creates_.push_back(s->id);
  }
  send(req);
}

void watch_stream::cancel(const std::shared_ptr<watch_state>& s) {
  std::lock_guard wl(write_mu_);
  std::int64_t server_id = -1;
  {
    std::lock_guard lock(mu_);
    if (s->done && s->server_id < 0) {
      watchers_.erase(s->id);
      return;
    }
    s->done = true;
    watchers_.erase(s->id);
    server_id = s->server_id;
    if (server_id >= 0 && s->generation == generation_) by_server_id_.erase(server_id);
    s->server_id = -1;
  }
  // A watcher still awaiting its created reply is cancelled when the reply comes (handle()).
  if (server_id >= 0) {
    etcdserverpb::WatchRequest req;
    req.mutable_cancel_request()->set_watch_id(server_id);
    send(req);
  }
}

void watch_stream::request_progress(const std::shared_ptr<watch_state>& s) {
  std::lock_guard wl(write_mu_);
  {
    std::lock_guard lock(mu_);
    if (s->done) return;
    s->progress_wanted = true;
  }
  etcdserverpb::WatchRequest req;
  req.mutable_progress_request();
  send(req);
}

void watch_stream::handle(const etcdserverpb::WatchResponse& resp) {
  std::shared_ptr<watch_state> s;
  std::vector<std::pair<std::shared_ptr<watch_state>, watch_response>> out;
  std::int64_t cancel_server_id = -1;
  {
    std::lock_guard lock(mu_);
    if (resp.created()) {
      if (pending_creates_.empty()) return;
      const std::int64_t id = pending_creates_.front();
      pending_creates_.pop_front();
      auto it = watchers_.find(id);
      if (it == watchers_.end() || it->second->done) {
        // Cancelled while its create was on the way.
        if (!resp.canceled()) cancel_server_id = resp.watch_id();
      } else if (resp.canceled()) {
        s = it->second;
        s->done = true;
        watchers_.erase(it);
        watch_response r;
        r.watch_id = s->id;
        r.canceled = true;
        const std::string& why = resp.cancel_reason();
        r.compact_revision = resp.compact_revision();
        if (resp.compact_revision() != 0) {
          r.cancel_reason = make_error_code(errc::compacted);
        } else {
          r.cancel_reason = why == "mvcc: watcher range is empty" ? make_error_code(errc::watch_range_empty)
                                                                   : make_error_code(errc::watch_canceled);
        }
        out.emplace_back(s, std::move(r));
      } else {
        s = it->second;
        s->server_id = resp.watch_id();
        s->generation = generation_;
        s->created_once = true;
        by_server_id_[resp.watch_id()] = s->id;
        if (s->next_rev == 0) s->next_rev = resp.header().revision() + 1;
      }
      cv_.notify_all();
    } else if (resp.watch_id() == -1) {
      // The stream-wide answer to progress_request: to the watchers that asked.
      for (auto& [id, w] : watchers_) {
        if (!w->progress_wanted) continue;
        w->progress_wanted = false;
        watch_response r;
        r.header = from_pb(resp.header());
        r.watch_id = id;
        out.emplace_back(w, std::move(r));
      }
    } else {
      auto it = by_server_id_.find(resp.watch_id());
      if (it == by_server_id_.end()) {
        if (!resp.canceled()) cancel_server_id = resp.watch_id();  // events for a watcher we dropped
      } else {
        auto w = watchers_.find(it->second);
        if (w == watchers_.end()) {
          by_server_id_.erase(it);
          return;
        }
        s = w->second;
        watch_response r;
        r.header = from_pb(resp.header());
        r.watch_id = s->id;
        if (resp.canceled()) {
          by_server_id_.erase(it);
          s->done = true;
          watchers_.erase(w);
          r.canceled = true;
          r.compact_revision = resp.compact_revision();
          r.cancel_reason = resp.compact_revision() != 0 ? make_error_code(errc::compacted)
                                                          : make_error_code(errc::watch_canceled);
          out.emplace_back(s, std::move(r));
        } else if (resp.events_size() == 0) {
          // A progress notification: the watcher has everything up to this revision.
          s->next_rev = std::max(s->next_rev, resp.header().revision() + 1);
          out.emplace_back(s, std::move(r));
        } else {
          // After a resume the server may replay what was already received: drop it.
          for (const auto& e : resp.events()) {
            if (e.kv().mod_revision() >= s->next_rev) r.events.push_back(from_pb(e));
          }
          if (!r.events.empty()) {
            s->next_rev = r.events.back().kv.mod_revision + 1;
            out.emplace_back(s, std::move(r));
          }
        }
      }
    }
  }
  if (cancel_server_id >= 0) {
    std::lock_guard wl(write_mu_);
    etcdserverpb::WatchRequest req;
    req.mutable_cancel_request()->set_watch_id(cancel_server_id);
    send(req);
  }
  for (auto& [w, r] : out) w->push(std::move(r));
}

void watch_stream::run() {
  stream_backoff backoff(conn_->options().retry_backoff);
  for (;;) {
    std::size_t index = 0;
    auto ch = conn_->channel(&index);
    auto stub = etcdserverpb::Watch::NewStub(ch);
    auto ctx = stream_context();
    std::shared_ptr<stream_type> stream;
    {
      std::lock_guard wl(write_mu_);
      std::vector<std::shared_ptr<watch_state>> all;
      {
        std::lock_guard lock(mu_);
        if (closing_) return;
        ctx_ = ctx;
      }
      stream = std::shared_ptr<stream_type>(stub->Watch(ctx.get()));
      {
        std::lock_guard lock(mu_);
        stream_ = stream;
        ++generation_;
        by_server_id_.clear();
        pending_creates_.clear();
        for (auto& [id, w] : watchers_) {
          w->server_id = -1;
          all.push_back(w);
        }
      }
      for (auto& w : all) send_create(w);
    }
    etcdserverpb::WatchResponse resp;
    bool got_any = false;
    while (stream->Read(&resp)) {
      got_any = true;
      handle(resp);
    }
    {
      std::lock_guard wl(write_mu_);
      {
        std::lock_guard lock(mu_);
        stream_.reset();
      }
      ctx->TryCancel();  // etcd 3.4 does not end the RPC on a half-close: cancel it
      stream->Finish();
    }
    if (!next_attempt(mu_, cv_, ctx_, closing_, *conn_, index, backoff.after(got_any))) return;
  }
}

void watch_stream::close() {
  std::vector<std::shared_ptr<watch_state>> all;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    if (ctx_) ctx_->TryCancel();
    for (auto& [id, w] : watchers_) {
      w->done = true;
      all.push_back(w);
    }
    watchers_.clear();
    cv_.notify_all();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  for (auto& w : all) w->stop();
}

}  // namespace leasekv::remote_detail
