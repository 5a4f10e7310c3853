#include "watch_stream.hpp"

#include "convert.hpp"
#include "watch_group.hpp"

#include <algorithm>

namespace leasekv::server_detail {

namespace {

// What a queued response costs beyond its events' encoding (the deque node, the header), counted so that
// many tiny responses are bounded too.
constexpr std::size_t response_overhead_bytes = 128;
// The most bytes of events one response gathers while the client is behind (queue_events_locked); far
// below any client's receive limit.
constexpr std::size_t max_batch_bytes = std::size_t{256} << 10;

}  // namespace

store_watch::store_watch(std::unique_ptr<watcher> w, std::atomic<std::size_t>* count) : w_(std::move(w)), count_(count) {
  if (w_) ++*count_;
}

store_watch& store_watch::operator=(store_watch&& o) noexcept {
  if (this != &o) {
    reset();
    w_ = std::move(o.w_);
    count_ = o.count_;
  }
  return *this;
}

void store_watch::reset() {
  if (!w_) return;
  w_.reset();  // cancels
  --*count_;
}

void stream_state::count_queued_locked(std::size_t bytes) {
  queued_bytes += bytes;
  c->counters.queued_watch_bytes += bytes;
  std::uint64_t seen = c->counters.max_queued_watch_bytes.load();
  while (queued_bytes > seen && !c->counters.max_queued_watch_bytes.compare_exchange_weak(seen, queued_bytes)) {
  }
}

std::uint64_t stream_state::push_locked(wire_response r) {
  if (finished) return 0;
  const std::size_t bytes = r.bytes.size() + response_overhead_bytes;
  const std::uint64_t seq = next_seq++;
  if (!r.batch && r.watch_id == -1) barrier_seq = seq;
  queue.push_back({std::move(r), bytes, seq, {}});
  count_queued_locked(bytes);
  write_next_locked();
  return seq;
}

void stream_state::queue_locked(const etcdserverpb::WatchResponse& r, watch_entry* e) {
  push_locked(wire_response::whole(r));
  if (e != nullptr) e->batch_seq = 0;  // its later events go after this one
}

// While the client has not taken a watcher's last batch, its next events join that batch, as etcd sends
// a watcher's pending events in one response: revisions stay in order and whole, the header names the
// latest. A busy stream then costs one write per batch instead of one per revision and watcher. Events
// move ahead of other watchers' responses queued after that batch, never ahead of one of this watcher or
// one for every watcher (a progress notification's revision is every watcher's progress).
void stream_state::queue_events_locked(std::int64_t id, watch_entry& e, const response_header& h,
                                       std::string_view events) {
  if (finished) return;
  // The front may be being written; entries behind it are not.
  if (!queue.empty() && e.batch_seq > queue.front().seq && e.batch_seq > barrier_seq) {
    queued& q = queue[e.batch_seq - queue.front().seq];
    if (q.bytes + events.size() <= max_batch_bytes) {
      q.r.header = h;
      q.r.bytes.append(events);
      q.bytes += events.size();
      count_queued_locked(events.size());
      return;
    }
  }
  e.batch_seq = push_locked(wire_response::events(id, h, std::string(events)));
}

void stream_state::write_next_locked() {
  if (writing || finished || queue.empty() || reactor == nullptr) return;
  writing = true;
  queued& q = queue.front();
  q.out = to_byte_buffer(q.r);
  // With more responses queued behind this one, gRPC may hold it to send with them (one sendmsg for many
  // events instead of one each); the last one queued goes without the hint and flushes them all.
  reactor->StartWrite(&q.out, queue.size() > 1 ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
}

void stream_state::written_locked() {
  writing = false;
  if (queue.empty()) return;
  queued_bytes -= queue.front().bytes;
  c->counters.queued_watch_bytes -= queue.front().bytes;
  queue.pop_front();
}

void stream_state::finish_locked(const grpc::Status& s) {
  if (finished || reactor == nullptr) return;
  finished = true;
  reactor->Finish(s);
}

void stream_state::drop_queue_locked() {
  c->counters.queued_watch_bytes -= queued_bytes;
  queued_bytes = 0;
  queue.clear();
}

result<void> stream_state::start_locked(std::int64_t id, watch_entry& e, std::int64_t current) {
  if (watch_groups::shareable(e.opts, e.fragment) && e.opts.start_revision > current) {
    const std::uint64_t generation = ++next_generation;
    if (auto g = groups->join(shared_from_this(), id, generation, e.range, e.opts)) {
      e.group = std::move(g);
      e.generation = generation;
      return BOOST_OUTCOME_V2_NAMESPACE::success();
    }
  }
  return start_own_locked(id, e);
}

// REQUIRES: mu held (a handler queues under it, and never runs inside store::watch).
result<void> stream_state::start_own_locked(std::int64_t id, watch_entry& e) {
  const std::uint64_t generation = ++next_generation;
  std::weak_ptr<stream_state> weak = weak_from_this();
  auto w = c->store->watch(e.range, e.opts, c->watch_executor, [weak, id, generation](const watch_response& r) {
    if (auto st = weak.lock()) st->on_store_response(id, generation, r);
  });
  if (!w) return w.error();
  e.w = store_watch(std::move(w).value(), &c->counters.store_watches);
  e.generation = generation;
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

void stream_state::stop_locked(std::int64_t id, watch_entry& e, std::vector<store_watch>& to_cancel) {
  if (e.w) to_cancel.push_back(std::move(e.w));
  if (e.group) {
    // The group outlives this: its last store watch, if any, is in to_cancel, and it is cancelled there.
    if (store_watch w = e.group->leave(this, id)) to_cancel.push_back(std::move(w));
    e.group.reset();
  }
}

void stream_state::erase_locked(std::map<std::int64_t, watch_entry>::iterator it) {
  if (!it->second.fed() && paused) --c->counters.paused_watchers;
  --c->counters.watchers;
  watchers.erase(it);
}

void stream_state::cancel_locked(std::map<std::int64_t, watch_entry>::iterator it, const std::string& reason) {
  etcdserverpb::WatchResponse r;
  to_pb(header(c->store->revision()), r.mutable_header());
  r.set_watch_id(it->first);
  r.set_canceled(true);
  r.set_cancel_reason(reason);
  erase_locked(it);
  queue_locked(r);
}

void stream_state::check_bound_locked(std::vector<store_watch>& to_cancel) {
  if (queued_bytes > pause_bytes) pause_locked(to_cancel);
}

void stream_state::pause_locked(std::vector<store_watch>& to_cancel) {
  if (paused || finished) return;
  paused = true;
  ++c->counters.watch_pauses;
  for (auto& [id, e] : watchers) {
    if (!e.fed()) continue;
    stop_locked(id, e, to_cancel);
    ++c->counters.paused_watchers;
  }
}

// The client drained the queue: restart every watcher where it stopped, in a group if it may join one.
// A watcher that cannot be restarted (the store closed) is cancelled with the store's reason.
void stream_state::resume_locked() {
  if (!paused || queued_bytes > resume_bytes) return;
  paused = false;
  const std::int64_t current = c->store->revision();
  for (auto it = watchers.begin(); it != watchers.end();) {
    auto next = std::next(it);
    if (!it->second.fed()) {
      --c->counters.paused_watchers;
      if (auto s = start_locked(it->first, it->second, current); !s) cancel_locked(it, s.error().message());
    }
    it = next;
  }
}

void stream_state::on_store_response(std::int64_t id, std::uint64_t generation, const watch_response& r) {
  std::vector<store_watch> to_cancel;
  {
    std::lock_guard lock(mu);
    auto it = watchers.find(id);
    // Another generation's, a paused watcher's (it is replayed on resume) or a removed watcher's.
    if (it == watchers.end() || it->second.generation != generation || !it->second.w) return;
    watch_entry& e = it->second;
    response_header h = r.header;
    if (h.cluster_id == 0) h = header(r.header.revision);
    if (r.compact_revision != 0) h.revision = 0;  // as etcd: a compaction cancel
    std::string events;
    for (const auto& ev : r.events) append_event(events, ev);
    // All of a revision's events come in one response, so the next unqueued revision is exact.
    if (!r.events.empty()) {
      e.opts.start_revision = r.events.back().kv.mod_revision + 1;
    } else if (r.is_progress_notify()) {
      e.opts.start_revision = std::max(e.opts.start_revision, r.header.revision + 1);
    }
    const bool fragment = e.fragment;
    if (r.canceled) {  // the store watch's last response: the watcher is gone, as in etcd
      to_cancel.push_back(std::move(e.w));
      erase_locked(it);
    }
    if (!r.canceled && !fragment && !events.empty()) {
      queue_events_locked(id, e, h, events);
      // Live again after catching up (a live response's header names its events' revision): join a
      // group if one can take this watcher from its cursor on.
      if (watch_groups::shareable(e.opts, e.fragment) && !paused && r.header.revision == r.events.back().kv.mod_revision) {
        const std::uint64_t gen = ++next_generation;
        if (auto g = groups->join(shared_from_this(), id, gen, e.range, e.opts)) {
          to_cancel.push_back(std::move(e.w));
          e.group = std::move(g);
          e.generation = gen;
        }
      }
    } else {
      etcdserverpb::WatchResponse fixed;
      to_pb(h, fixed.mutable_header());
      fixed.set_watch_id(id);
      fixed.set_canceled(r.canceled);
      fixed.set_compact_revision(r.compact_revision);
      if (r.canceled && r.compact_revision == 0 && r.cancel_reason) fixed.set_cancel_reason(r.cancel_reason.message());
      if (fragment) {
        for (auto& part : fragments(std::move(fixed), events, static_cast<std::size_t>(c->options.max_receive_message_bytes))) {
          push_locked(wire_response{.watch_id = id, .bytes = std::move(part)});
        }
      } else {
        push_locked(wire_response{.watch_id = id, .bytes = fixed.SerializeAsString().append(events)});
      }
      if (!r.canceled) e.batch_seq = 0;  // its later events go after these
    }
    check_bound_locked(to_cancel);
  }
  // Outside the mutex: cancelling waits for a handler of that watch in progress, which may be waiting
  // for it. The watches cancelled here are those this handler's pause took out of the map; no other
  // handler can take them, so two handlers never wait for each other.
  to_cancel.clear();
}

void stream_state::on_group_events(const watch_group* g, const std::vector<std::pair<std::int64_t, std::uint64_t>>& ids,
                                   const encoded_events& ev) {
  std::vector<store_watch> to_cancel;
  {
    std::lock_guard lock(mu);
    response_header h = ev.header;
    if (h.cluster_id == 0) h = header(ev.header.revision);
    for (const auto& [id, generation] : ids) {
      auto it = watchers.find(id);
      if (it == watchers.end() || it->second.generation != generation || it->second.group.get() != g) continue;
      watch_entry& e = it->second;
      // The revisions at or after the cursor (a member that joined after the group's start skips those
      // before it).
      auto from = std::lower_bound(ev.revisions.begin(), ev.revisions.end(), e.opts.start_revision,
                                   [](const auto& r, std::int64_t rev) { return r.first < rev; });
      if (from == ev.revisions.end()) continue;
      queue_events_locked(id, e, h, std::string_view(ev.bytes).substr(from->second));
      e.opts.start_revision = ev.revisions.back().first + 1;
      // A pause takes every member of this stream out of the group: the rest are skipped above and
      // replay this response from history on resume, so the bound holds as for one store response.
      check_bound_locked(to_cancel);
    }
  }
  to_cancel.clear();
}

void stream_state::on_group_ended(const watch_group* g, const std::vector<std::pair<std::int64_t, std::uint64_t>>& ids) {
  std::lock_guard lock(mu);
  for (const auto& [id, generation] : ids) {
    auto it = watchers.find(id);
    if (it == watchers.end() || it->second.generation != generation || it->second.group.get() != g) continue;
    it->second.group.reset();
    if (paused) {
      ++c->counters.paused_watchers;  // started with the others on resume
      continue;
    }
    if (auto s = start_own_locked(id, it->second); !s) cancel_locked(it, s.error().message());
  }
}

}  // namespace leasekv::server_detail
