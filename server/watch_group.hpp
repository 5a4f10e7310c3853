// Shared watches: watchers that follow one store watch (docs/server.md, "Shared watches"). Many clients
// often watch the same range with the same options (every instance of a service watching its
// configuration prefix; 100 watchers of one prefix in the benchmark). Each watcher of its own costs the
// store an event copy, a queue entry and a handler call per write, and the server an encoding per event.
// Watchers of one range with the same filters and prev_kv setting, without fragment or progress_notify,
// whose cursor (the first revision they have not queued) is above the store's revision, may instead join
// a group: one store watch whose events are encoded once and appended, as bytes, to each member's
// pending response on its stream.
//
// A member is exactly a watcher at a position, its cursor. It joins only while the group's store watch
// started at or below that cursor and the group has handed out no revision at or above it, so the group
// delivers every revision the member needs, and the member takes only those at or after its cursor: no
// gap, no duplicate, the order of the store. A member leaves when its stream pauses (it resumes with a
// store watch of its own from its cursor, and rejoins a group once that one is caught up), when it is
// cancelled, and when its stream ends. When the group's store watch itself ends (compaction overtook it
// while it caught up from history, the store closed), each member goes on with a store watch of its own
// from its cursor, which replays, or is cancelled, exactly as such a watcher would have been all along.
//
// Locks: a stream's mu -> the registry's mu -> a group's mu. A group's handler takes its group's mu
// alone, then, having released it, each member stream's mu in turn. A group's store watch is cancelled
// outside every mutex, or inside its own handler.
//
// Thread safety: watch_groups and watch_group may be used from any thread.
#pragma once

#include "watch_stream.hpp"

#include <compare>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace leasekv::server_detail {

// One store response's events, encoded once for every member.
struct encoded_events {
  response_header header;
  std::string bytes;  // append_event's entries
  // Where each revision's events start in bytes, in revision order.
  std::vector<std::pair<std::int64_t, std::size_t>> revisions;
};

// What watchers must have in common to share a watch.
struct watch_group_key {
  std::string key;
  std::string range_end;
  bool prev_kv = false;
  bool no_put = false;
  bool no_delete = false;
  friend auto operator<=>(const watch_group_key&, const watch_group_key&) = default;
};

class watch_group : public std::enable_shared_from_this<watch_group> {
 public:
  explicit watch_group(std::int64_t start) : start_(start), handed_through_(start - 1) {}

  // Adds watcher (id, generation) of `st` at `cursor` if the group can feed it from there. REQUIRES: st->mu held.
  bool join(const std::shared_ptr<stream_state>& st, std::int64_t id, std::uint64_t generation, std::int64_t cursor);
  // Removes watcher `id` of `st`. Returns the group's store watch, to cancel outside every mutex, if it
  // was the last member (the group then ends).
  store_watch leave(const stream_state* st, std::int64_t id);

 private:
  friend class watch_groups;
  void on_store_response(const watch_response& r);

  const std::int64_t start_;  // the store watch's start revision

  std::mutex mu_;  // guards everything below
  std::int64_t handed_through_;  // the last revision handed to the members
  bool ended_ = false;           // no member may join: the store watch ended, or the last member left
  struct stream_members {
    std::weak_ptr<stream_state> st;
    const stream_state* raw;
    std::vector<std::pair<std::int64_t, std::uint64_t>> ids;  // (watch id, generation)
  };
  std::vector<stream_members> members_;
  store_watch w_;
};

// The groups of one server, by key.
class watch_groups {
 public:
  explicit watch_groups(std::shared_ptr<context> c) : c_(std::move(c)) {}

  // May watcher (range, opts, fragment) ever share a watch?
  static bool shareable(const watch_options& opts, bool fragment) { return !fragment && !opts.progress_notify; }
  // Joins watcher (id, generation) of `st` to the group of its range and options at opts.start_revision
  // (starting the group's store watch if need be, only when opts.start_revision is above the store's
  // revision). Null if it cannot join one now. REQUIRES: st->mu held, shareable.
  std::shared_ptr<watch_group> join(const std::shared_ptr<stream_state>& st, std::int64_t id, std::uint64_t generation,
                                    const key_range& range, const watch_options& opts);

 private:
  const std::shared_ptr<context> c_;
  std::mutex mu_;  // guards the two below
  // Ended groups' entries stay until a sweep: when the map reaches sweep_at_ entries, those are erased.
  std::map<watch_group_key, std::weak_ptr<watch_group>> groups_;
  std::size_t sweep_at_ = 64;
};

}  // namespace leasekv::server_detail
