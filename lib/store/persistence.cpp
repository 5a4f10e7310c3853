// The store's side of durability: what goes into the log, when it is synced, snapshots, and recovery.
#include "store/store_impl.hpp"

#include "base/time_math.hpp"

#include <spdlog/logger.h>

namespace leasekv {

// Wall-clock deadlines are kept in milliseconds: 9e9 s (the largest TTL) past the epoch does not fit in
// int64 nanoseconds.
std::int64_t embedded_store::impl::to_wall_ms(clock::time_point t) const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const std::int64_t now_ms = duration_cast<milliseconds>(clk->wall_now().time_since_epoch()).count();
  return now_ms + duration_cast<milliseconds>(base::saturating_sub(t, clk->now())).count();
}

clock::time_point embedded_store::impl::from_wall_ms(std::int64_t ms) const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const std::int64_t now_ms = duration_cast<milliseconds>(clk->wall_now().time_since_epoch()).count();
  // A deadline is never more than the largest TTL ahead; further back than that it is just as past. The
  // clamp keeps a damaged or hostile record from overflowing the clock's nanoseconds.
  constexpr std::int64_t limit = duration_cast<milliseconds>(max_lease_ttl).count();
  const std::int64_t delta = ms < now_ms - limit ? -limit : ms > now_ms + limit ? limit : ms - now_ms;
  return base::saturating_add(clk->now(), milliseconds(delta));
}

result<void> embedded_store::impl::commit(storage::entry_record rec, bool group) {
  if (!dir) return BOOST_OUTCOME_V2_NAMESPACE::success();
  if (group) {
    for (const mvcc::change& c : kv.changes()) {
      storage::change_record ch;
      ch.key.assign(c.entry->key());
      if (c.version->tombstone()) {
        ch.kind = storage::change_kind::del;
      } else {
        ch.value.assign(c.version->value());
        ch.lease = c.version->lease;
      }
      rec.changes.push_back(std::move(ch));
    }
  }
  rec.revision = kv.current_revision();
  auto lsn = dir->append(storage::encode(rec));
  if (lsn && opts.sync == sync_policy::per_write) {
    if (auto synced = dir->sync_to(lsn.value()); !synced) lsn = synced.error();
  }
  if (!lsn) {
    if (group) kv.abort_write();
    if (opts.logger) opts.logger->error("{}: write failed: {}", opts.data_dir, lsn.error().message());
    return lsn.error();
  }
  last_lsn = lsn.value();
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

void embedded_store::impl::emit_snapshot(const std::function<void(std::string_view)>& emit) const {
  storage::snap_meta_record meta;
  meta.revision = kv.current_revision();
  meta.compacted_revision = kv.compacted_revision();
  meta.cluster_id = cluster_id;
  meta.member_id = member_id;
  emit(storage::encode(meta));
  storage::snap_key_record k;
  std::vector<const mvcc::key_version*> chain;
  kv.for_each_entry([&](const mvcc::key_entry& e) {
    chain.clear();
    for (const mvcc::key_version* v = e.head; v != nullptr; v = v->older) chain.push_back(v);
    k.key.assign(e.key());
    k.versions.clear();
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const mvcc::key_version& v = **it;
      k.versions.push_back({v.mod_main, v.rev().sub, v.create_revision(), v.version(), v.lease,
                            std::string(v.value())});
    }
    emit(storage::encode(k));
  });
  for (const lease::lease_record* l : lessor.by_deadline()) {
    emit(storage::encode_snap_lease(l->id, l->ttl.count(), to_wall_ms(l->expires_at)));
  }
}

void embedded_store::impl::snapshot_if_due() {
  if (!dir->wants_snapshot()) return;
  auto r = dir->snapshot([this](const std::function<void(std::string_view)>& emit) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    emit_snapshot(emit);
  });
  if (!r && opts.logger) opts.logger->error("{}: snapshot failed (the log keeps growing): {}", opts.data_dir, r.error().message());
}

bool embedded_store::impl::apply_entry(const storage::entry_record& rec, bool live) {
  if (!rec.changes.empty()) {
    kv.begin_write();
    for (const auto& c : rec.changes) {
      if (c.kind == storage::change_kind::put) {
        kv.put(c.key, c.value, c.lease, false, false, nullptr);
      } else if (kv.delete_range(key_range(c.key), nullptr) != 1) {
        kv.abort_write();
        return false;
      }
    }
    kv.end_write();
    if (kv.current_revision() != rec.revision) return false;
  }
  for (const auto& op : rec.lease_ops) {
    switch (op.kind) {
      case storage::lease_op_kind::grant:
        if (!lessor.restore(op.id, std::chrono::milliseconds(op.ttl_ms), from_wall_ms(op.deadline_wall_ms))) return false;
        break;
      case storage::lease_op_kind::renew:
        if (lessor.find(op.id) == nullptr) return false;
        lessor.set_deadline(op.id, from_wall_ms(op.deadline_wall_ms));
        break;
      case storage::lease_op_kind::revoke:
        break;  // after the deletions' attachments are settled, below
    }
  }
  if (live && !rec.changes.empty()) after_write();
  for (const auto& op : rec.lease_ops) {
    if (op.kind == storage::lease_op_kind::revoke) lessor.forget(op.id);
  }
  if (rec.compact_revision) {
    if (!kv.set_compacted(*rec.compact_revision)) return false;
    std::optional<std::string> resume(std::in_place);
    while (resume) resume = kv.compact_batch(*rec.compact_revision, *resume, SIZE_MAX);
  }
  return true;
}

// Runs inside store::open, before any other thread can see the store: the lock is not needed.
result<void> embedded_store::impl::recover() {
  storage::recovery_sink sink;
  sink.meta = [this](const storage::snap_meta_record& m) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    kv.restore_revisions(m.revision, m.compacted_revision);
    cluster_id = m.cluster_id;
    member_id = m.member_id;
    return true;
  };
  sink.key = [this](const storage::snap_key_record& k) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    for (const auto& v : k.versions) {
      kv.restore_version(k.key, {v.mod_main, v.mod_sub}, v.create_revision, v.version, v.lease, v.value);
    }
    return true;
  };
  sink.lease = [this](std::int64_t id, std::int64_t ttl_ms, std::int64_t deadline_wall_ms) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    return lessor.restore(id, std::chrono::milliseconds(ttl_ms), from_wall_ms(deadline_wall_ms)).has_value();
  };
  sink.entry = [this](const storage::entry_record& rec) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    return apply_entry(rec, false);
  };

  storage::snap_meta_record fresh;
  fresh.revision = kv.current_revision();
  fresh.compacted_revision = kv.compacted_revision();
  fresh.cluster_id = cluster_id;
  fresh.member_id = member_id;
  storage::data_dir_options dopts;
  dopts.read_only = opts.read_only;
  dopts.lock_timeout = opts.lock_timeout;
  dopts.snapshot_after_bytes = opts.tuning.snapshot_after_bytes;
  dopts.logger = opts.logger;
  BOOST_OUTCOME_TRY(d, storage::data_dir::open(opts.env ? opts.env : env::posix(), opts.data_dir, dopts, fresh, sink));
  dir = std::move(d);

  // Attachments follow from the keys, as etcd rebuilds them: each live key joins the lease it names (a
  // key naming a lease that no longer exists stays unattached).
  kv.for_each_entry([this](const mvcc::key_entry& e) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
    const mvcc::key_version* v = e.live_at(kv.current_revision());
    if (v != nullptr && v->lease != no_lease) lessor.attach(v->lease, &e);
  });
  if (opts.lease_restart_full_ttl) {
    const clock::time_point now = clk->now();
    for (const lease::lease_record* l : lessor.by_deadline()) lessor.set_deadline(l->id, base::saturating_add(now, l->ttl));
  }
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

}  // namespace leasekv

namespace leasekv {

result<void> embedded_store::save_snapshot(const std::string& path) {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  auto& e = impl_->opts.env ? *impl_->opts.env : *env::posix();
  read_lock lock(impl_->mu, impl_->waiting);  // one consistent revision; writers wait, readers go on
  return storage::write_snapshot_file(e, path, 1, [this](const std::function<void(std::string_view)>& emit)
                                                   LEASEKV_NO_THREAD_SAFETY_ANALYSIS { impl_->emit_snapshot(emit); });
}

result<std::int64_t> embedded_store::refresh() {
  BOOST_OUTCOME_TRYV(impl_->check_open());
  write_lock lock(impl_->mu, impl_->waiting);
  BOOST_OUTCOME_TRYV(impl_->check_open());  // under the lock: close() may have closed the directory
  if (impl_->dir && impl_->opts.read_only) {
    storage::recovery_sink sink;
    sink.entry = [this](const storage::entry_record& rec) LEASEKV_NO_THREAD_SAFETY_ANALYSIS {
      return impl_->apply_entry(rec, true);
    };
    BOOST_OUTCOME_TRYV(impl_->dir->follow(sink));
  }
  return impl_->kv.current_revision();
}

}  // namespace leasekv
