// leasekv::remote — the store interface over etcd v3's KV, Lease, Watch and Maintenance services: each call
// one RPC (a few for compacted_revision and statistics), translated field by field (convert.hpp), errors
// through the shared status table (connection.hpp), watches and keep-alives on the store's two streams.
#include "connection.hpp"
#include "convert.hpp"
#include "keep_alive_streams.hpp"
#include "watch_stream.hpp"

#include "leasekv/remote.hpp"

#include "rpc.grpc.pb.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <utility>

#include <unistd.h>

namespace leasekv {
namespace remote_detail {
namespace {

using etcdserverpb::KV;
using etcdserverpb::Lease;
using etcdserverpb::Maintenance;

// A txn of reads only is safe to repeat; one that may write is not.
bool read_only(const txn_request& t) {
  auto ops_read_only = [](const std::vector<request_op>& ops) {
    for (const auto& op : ops) {
      if (op.type == request_op::kind::put || op.type == request_op::kind::delete_range) return false;
      if (op.type == request_op::kind::txn && (!op.txn || !read_only(*op.txn))) return false;
    }
    return true;
  };
  return ops_read_only(t.success) && ops_read_only(t.failure);
}

std::chrono::seconds whole_seconds_up(std::chrono::milliseconds ms) {
  return std::chrono::seconds((ms.count() + 999) / 1000);
}

// Thread safety: as every store. Constant after construction: conn_, watches_, keep_alives_.
class remote_store final : public store {
 public:
  explicit remote_store(std::shared_ptr<connection> c)
      : conn_(std::move(c)),
        watches_(std::make_shared<watch_stream>(conn_)),
        keep_alives_(std::make_shared<keep_alive_streams>(conn_)) {
    watches_->start();
  }
  ~remote_store() override {
    detach_anchor();
    close();
  }

  result<put_response> put(std::string_view key, std::string_view value, put_options o) override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::PutRequest req;
    to_pb(key, value, o, &req);
    etcdserverpb::PutResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(false, [&](grpc::ClientContext& ctx, const auto& ch) {
      return KV::NewStub(ch)->Put(&ctx, req, &resp);
    }));
    return from_pb(resp);
  }

  result<range_response> range(const key_range& r, range_options o) override {
    BOOST_OUTCOME_TRY(resp, range_pb(r, o));
    return from_pb(resp);
  }

  result<range_view_response> range_view(const key_range& r, range_options o) override {
    BOOST_OUTCOME_TRY(resp, range_pb(r, o));
    return view_from_pb(resp);
  }

  result<delete_response> delete_range(const key_range& r, delete_options o) override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::DeleteRangeRequest req;
    to_pb(r, o, &req);
    etcdserverpb::DeleteRangeResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(false, [&](grpc::ClientContext& ctx, const auto& ch) {
      return KV::NewStub(ch)->DeleteRange(&ctx, req, &resp);
    }));
    return from_pb(resp);
  }

  result<txn_response> txn(const txn_request& t) override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::TxnRequest req;
    to_pb(t, &req);
    etcdserverpb::TxnResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(read_only(t), [&](grpc::ClientContext& ctx, const auto& ch) {
      return KV::NewStub(ch)->Txn(&ctx, req, &resp);
    }));
    return from_pb(resp);
  }

  result<compact_response> compact(std::int64_t revision, compact_options o) override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::CompactionRequest req;
    req.set_revision(revision);
    req.set_physical(o.physical);
    etcdserverpb::CompactionResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(false, [&](grpc::ClientContext& ctx, const auto& ch) {
      return KV::NewStub(ch)->Compact(&ctx, req, &resp);
    }));
    return compact_response{from_pb(resp.header())};
  }

  std::int64_t revision() const override {
    auto r = probe(0);
    return r ? r.value() : 0;
  }

  // etcd has no call for it: the compacted revision C is the lowest revision a read may ask for (reads
  // below C fail with compacted), found by bisection. 1 readable: never compacted (-1).
  std::int64_t compacted_revision() const override {
    auto cur = probe(0);
    if (!cur) return 0;
    std::int64_t lo = 1;
    std::int64_t hi = cur.value();
    auto readable = [&](std::int64_t rev) -> result<bool> {
      auto r = probe(rev);
      if (r) return true;
      if (r.error() == errc::compacted) return false;
      return r.error();
    };
    auto first = readable(lo);
    if (!first) return 0;
    if (first.value()) return -1;
    while (lo + 1 < hi) {  // invariant: lo unreadable, hi readable
      const std::int64_t mid = lo + (hi - lo) / 2;
      auto m = readable(mid);
      if (!m) return 0;
      (m.value() ? hi : lo) = mid;
    }
    return hi;
  }

  result<lease_grant_response> grant(std::chrono::milliseconds ttl, lease_id id) override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(ttl.count() <= 0 ? 0 : whole_seconds_up(ttl).count());
    req.set_id(id);
    etcdserverpb::LeaseGrantResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(false, [&](grpc::ClientContext& ctx, const auto& ch) {
      return Lease::NewStub(ch)->LeaseGrant(&ctx, req, &resp);
    }));
    if (!resp.error().empty()) return error(errc::invalid_argument, resp.error());
    return lease_grant_response{from_pb(resp.header()), resp.id(), resp.ttl(), std::chrono::seconds(resp.ttl())};
  }

  result<lease_revoke_response> revoke(lease_id id) override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::LeaseRevokeRequest req;
    req.set_id(id);
    etcdserverpb::LeaseRevokeResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(false, [&](grpc::ClientContext& ctx, const auto& ch) {
      return Lease::NewStub(ch)->LeaseRevoke(&ctx, req, &resp);
    }));
    return lease_revoke_response{from_pb(resp.header())};
  }

  // A stream of its own for one renewal, as clientv3's KeepAliveOnce. TTL 0 in the answer: the lease is
  // unknown or expired.
  result<lease_keep_alive_response> keep_alive_once(lease_id id) override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(id);
    etcdserverpb::LeaseKeepAliveResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(true, [&](grpc::ClientContext& ctx, const auto& ch) {
      auto stream = Lease::NewStub(ch)->LeaseKeepAlive(&ctx);
      const bool ok = stream->Write(req) && stream->Read(&resp);
      ctx.TryCancel();  // one answer is all this call wants
      const grpc::Status s = stream->Finish();
      return ok ? grpc::Status::OK : s;
    }));
    if (resp.ttl() <= 0) return error(errc::lease_not_found);
    return lease_keep_alive_response{from_pb(resp.header()), resp.id(), resp.ttl(), std::chrono::seconds(resp.ttl())};
  }

  result<std::unique_ptr<keep_alive>> start_keep_alive(lease_id id, boost::asio::any_io_executor ex,
                                                       keep_alive_handler handler) override {
    BOOST_OUTCOME_TRY(first, keep_alive_once(id));
    return keep_alives_->start(id, first, std::move(ex), std::move(handler));
  }

  result<lease_time_to_live_response> time_to_live(lease_id id, time_to_live_options o) override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::LeaseTimeToLiveRequest req;
    req.set_id(id);
    req.set_keys(o.keys);
    etcdserverpb::LeaseTimeToLiveResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(true, [&](grpc::ClientContext& ctx, const auto& ch) {
      return Lease::NewStub(ch)->LeaseTimeToLive(&ctx, req, &resp);
    }));
    lease_time_to_live_response out;
    out.header = from_pb(resp.header());
    out.id = id;
    out.ttl = resp.ttl();
    out.granted_ttl = resp.grantedttl();
    if (resp.ttl() >= 0) {
      out.remaining = std::chrono::seconds(resp.ttl());
      out.granted = std::chrono::seconds(resp.grantedttl());
    }
    for (const auto& k : resp.keys()) out.keys.push_back(k);
    return out;
  }

  result<lease_leases_response> leases() override {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::LeaseLeasesRequest req;
    etcdserverpb::LeaseLeasesResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(true, [&](grpc::ClientContext& ctx, const auto& ch) {
      return Lease::NewStub(ch)->LeaseLeases(&ctx, req, &resp);
    }));
    lease_leases_response out;
    out.header = from_pb(resp.header());
    for (const auto& l : resp.leases()) out.leases.push_back({l.id()});
    return out;
  }

  result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                         watch_handler handler) override {
    BOOST_OUTCOME_TRYV(check_open());
    return watches_->watch(std::move(r), o, std::move(ex), std::move(handler));
  }

  // What Maintenance.Snapshot sends, written to `path` (through a temporary file, synced, renamed).
  result<void> save_snapshot(const std::string& path) override {
    BOOST_OUTCOME_TRYV(check_open());
    const std::string tmp = path + ".part";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) return error(boost::system::error_code(errno, boost::system::system_category()), tmp);
    bool wrote = true;
    auto r = conn_->call(false, [&](grpc::ClientContext& ctx, const auto& ch) {
      etcdserverpb::SnapshotRequest req;
      auto stream = Maintenance::NewStub(ch)->Snapshot(&ctx, req);
      etcdserverpb::SnapshotResponse resp;
      while (stream->Read(&resp)) {
        wrote = wrote && std::fwrite(resp.blob().data(), 1, resp.blob().size(), f) == resp.blob().size();
      }
      return stream->Finish();
    });
    wrote = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0 && wrote;
    const int err = errno;
    std::fclose(f);
    if (!r || !wrote) {
      std::remove(tmp.c_str());
      if (!r) return r.error();
      return error(boost::system::error_code(err, boost::system::system_category()), tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return error(boost::system::error_code(errno, boost::system::system_category()), path);
    }
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  // A remote store is always current: its revision, read now.
  result<std::int64_t> refresh() override {
    BOOST_OUTCOME_TRYV(check_open());
    return probe(0);
  }

  void close() override {
    closed_.store(true, std::memory_order_release);
    watches_->close();
    keep_alives_->close();
  }

  stats statistics() const override {
    stats out;
    if (closed_.load(std::memory_order_acquire)) return out;
    etcdserverpb::RangeRequest req;
    req.set_key(std::string(1, '\0'));
    req.set_range_end(std::string(1, '\0'));
    req.set_count_only(true);
    etcdserverpb::RangeResponse range;
    if (conn_->call(true, [&](grpc::ClientContext& ctx, const auto& ch) { return KV::NewStub(ch)->Range(&ctx, req, &range); })) {
      out.keys = static_cast<std::size_t>(range.count());
    }
    etcdserverpb::LeaseLeasesResponse leases;
    if (conn_->call(true, [&](grpc::ClientContext& ctx, const auto& ch) {
          return Lease::NewStub(ch)->LeaseLeases(&ctx, etcdserverpb::LeaseLeasesRequest(), &leases);
        })) {
      out.leases = static_cast<std::size_t>(leases.leases_size());
    }
    etcdserverpb::StatusResponse status;
    if (conn_->call(true, [&](grpc::ClientContext& ctx, const auto& ch) {
          return Maintenance::NewStub(ch)->Status(&ctx, etcdserverpb::StatusRequest(), &status);
        })) {
      out.bytes = static_cast<std::uint64_t>(status.dbsize());
    }
    return out;
  }

 private:
  result<void> check_open() const {
    if (closed_.load(std::memory_order_acquire)) return errc::closed;
    return BOOST_OUTCOME_V2_NAMESPACE::success();
  }

  result<etcdserverpb::RangeResponse> range_pb(const key_range& r, const range_options& o) const {
    BOOST_OUTCOME_TRYV(check_open());
    etcdserverpb::RangeRequest req;
    to_pb(r, o, &req);
    etcdserverpb::RangeResponse resp;
    BOOST_OUTCOME_TRYV(conn_->call(true, [&](grpc::ClientContext& ctx, const auto& ch) {
      return KV::NewStub(ch)->Range(&ctx, req, &resp);
    }));
    return resp;
  }

  // A one-key count-only read at `rev` (0: now): its header's revision, or its error.
  result<std::int64_t> probe(std::int64_t rev) const {
    BOOST_OUTCOME_TRY(resp, range_pb(key_range(std::string(1, '\0')), {.revision = rev, .count_only = true}));
    return resp.header().revision();
  }

  std::shared_ptr<connection> conn_;
  std::shared_ptr<watch_stream> watches_;
  std::shared_ptr<keep_alive_streams> keep_alives_;
  std::atomic<bool> closed_{false};
};

}  // namespace
}  // namespace remote_detail

result<std::unique_ptr<store>> connect(remote_options o) {
  BOOST_OUTCOME_TRY(c, remote_detail::connection::make(o));
  BOOST_OUTCOME_TRYV(c->dial(std::chrono::steady_clock::now() + o.dial_timeout));
  return std::unique_ptr<store>(std::make_unique<remote_detail::remote_store>(std::move(c)));
}

}  // namespace leasekv
