#include "watch_group.hpp"

#include <algorithm>

namespace leasekv::server_detail {

bool watch_group::join(const std::shared_ptr<stream_state>& st, std::int64_t id, std::uint64_t generation,
                       std::int64_t cursor) {
  std::lock_guard lock(mu_);
  // Revisions below start_ never come; those up to handed_through_ went out without this member.
  if (ended_ || cursor < start_ || cursor <= handed_through_) return false;
  auto it = std::find_if(members_.begin(), members_.end(), [&](const stream_members& m) { return m.raw == st.get(); });
  if (it == members_.end()) it = members_.insert(members_.end(), stream_members{st, st.get(), {}});
  it->ids.emplace_back(id, generation);
  return true;
}

store_watch watch_group::leave(const stream_state* st, std::int64_t id) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(members_.begin(), members_.end(), [&](const stream_members& m) { return m.raw == st; });
  if (it == members_.end()) return {};
  std::erase_if(it->ids, [id](const auto& m) { return m.first == id; });
  if (it->ids.empty()) members_.erase(it);
  if (!members_.empty()) return {};
  ended_ = true;
  return std::move(w_);
}

void watch_group::on_store_response(const watch_response& r) {
  std::vector<stream_members> to;
  store_watch self;  // cancelled at the end of this handler, which its own handler may do
  if (r.canceled) {
    {
      std::lock_guard lock(mu_);
      ended_ = true;
      self = std::move(w_);
      to = std::move(members_);
      members_.clear();
    }
    for (const auto& m : to) {
      if (auto st = m.st.lock()) st->on_group_ended(this, m.ids);
    }
    return;
  }
  if (r.events.empty()) return;  // a progress notification: no member asked for those
  encoded_events ev;
  ev.header = r.header;
  for (const auto& e : r.events) {
    const std::int64_t rev = e.kv.mod_revision;
    if (ev.revisions.empty() || ev.revisions.back().first != rev) ev.revisions.emplace_back(rev, ev.bytes.size());
    append_event(ev.bytes, e);
  }
  {
    std::lock_guard lock(mu_);
    handed_through_ = ev.revisions.back().first;
    to = members_;
  }
  for (const auto& m : to) {
    if (auto st = m.st.lock()) st->on_group_events(this, m.ids, ev);
  }
}

std::shared_ptr<watch_group> watch_groups::join(const std::shared_ptr<stream_state>& st, std::int64_t id,
                                                std::uint64_t generation, const key_range& range,
                                                const watch_options& opts) {
  watch_group_key k{range.key, range.range_end, opts.prev_kv, opts.no_put, opts.no_delete};
  std::lock_guard lock(mu_);
  auto it = groups_.find(k);
  if (it != groups_.end()) {
    if (auto g = it->second.lock(); g && g->join(st, id, generation, opts.start_revision)) return g;
  }
  // Only from a cursor above the store's revision: a watcher still to replay history keeps its own watch.
  if (opts.start_revision <= c_->store->revision()) return nullptr;
  // A new group from this cursor, replacing an ended one or one past it (whose members stay with it).
  // The member first: the store watch may hand out its first revision before store::watch returns.
  auto g = std::make_shared<watch_group>(opts.start_revision);
  g->join(st, id, generation, opts.start_revision);
  std::weak_ptr<watch_group> weak = g;
  auto w = c_->store->watch(range, opts, c_->watch_executor, [weak](const watch_response& r) {
    if (auto grp = weak.lock()) grp->on_store_response(r);
  });
  if (!w) return nullptr;
  store_watch ended_already;
  {
    std::lock_guard glock(g->mu_);
    (g->ended_ ? ended_already : g->w_) = store_watch(std::move(w).value(), &c_->counters.store_watches);
  }
  if (ended_already) {
    // Its handler already ended the group (and waits for st's mutex, held here, to move the member on):
    // cancelled on the watch executor, outside every mutex.
    auto late = std::make_shared<store_watch>(std::move(ended_already));
    boost::asio::post(c_->watch_executor, [late] { late->reset(); });
  }
  if (groups_.size() >= sweep_at_) {
    std::erase_if(groups_, [](const auto& e) { return e.second.expired(); });
    sweep_at_ = 2 * groups_.size() + 64;
  }
  groups_.insert_or_assign(std::move(k), g);
  return g;
}

}  // namespace leasekv::server_detail
