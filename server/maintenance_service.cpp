// Maintenance for a single member (etcd's v3rpc/maintenance.go). Status, Alarm, Defragment, Snapshot,
// HashKV and MoveLeader answer as etcd 3.4 does; Snapshot and HashKV work on the bbolt key bucket etcd
// would hold for the store's history (etcd_backend.hpp), so their bytes and hash are etcd's. Hash is
// Unimplemented: etcd's value covers its whole bbolt file (members, auth, alarms, leases, raft index),
// which leasekv does not reproduce, and a different value would mislead whoever compares it with etcd.
#include "alarms.hpp"
#include "convert.hpp"
#include "etcd_backend.hpp"
#include "services.hpp"
#include "status.hpp"

#include <openssl/evp.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <thread>

namespace leasekv::server_detail {
namespace {

// f(path) of the store's snapshot, written to a temporary directory that is removed afterwards.
template <class F>
auto from_store_snapshot(store& s, F f) -> decltype(f(std::string())) {
  std::error_code ec;
  std::string dir = (std::filesystem::temp_directory_path(ec) / "leasekv-snapshot-XXXXXX").string();
  if (ec || ::mkdtemp(dir.data()) == nullptr) {
    return error(boost::system::error_code(errno, boost::system::system_category()),
                 "cannot make a temporary directory for a snapshot");
  }
  const std::string path = dir + "/snapshot";
  auto saved = s.save_snapshot(path);
  auto out = saved ? f(path) : decltype(f(path))(saved.error());
  std::filesystem::remove_all(dir, ec);
  return out;
}

// etcd sends its snapshot in blobs of this size.
constexpr std::size_t snapshot_blob_bytes = 32 * 1024;

// A snapshot stream: the store's snapshot, turned into the bbolt database etcd would send
// (etcd_backend.hpp) on a thread of its own (a large store takes a while and gRPC's threads must not
// block), then sent as etcd sends it: blobs of 32 KiB, `remaining_bytes` counting down, then one blob
// with the SHA-256 of all before it. etcdctl's `snapshot save` takes a stream whose length is 32 past a
// multiple of 512 as whole; a bbolt file is a multiple of its 4096-byte pages.
class snapshot_reactor final : public grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse> {
 public:
  snapshot_reactor(std::shared_ptr<store> s, etcd_member m) : sha_(EVP_MD_CTX_new()) {
    worker_ = std::thread([this, s = std::move(s), m = std::move(m)] {
      if (auto st = prepare(*s, m); !st.ok()) {
        Finish(st);
        return;
      }
      send_next();
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {  // the client went away
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "snapshot stream broken"));
      return;
    }
    send_next();
  }

  void OnDone() override {
    // OnDone follows Finish, the worker's last act; it may still be returning from that call.
    if (worker_.get_id() == std::this_thread::get_id()) {
      worker_.detach();
    } else {
      worker_.join();
    }
    delete this;
  }

 private:
  ~snapshot_reactor() override { EVP_MD_CTX_free(sha_); }

  grpc::Status prepare(store& s, const etcd_member& m) {
    if (sha_ == nullptr || EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr) != 1) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "leasekv-server: cannot start a SHA-256");
    }
    auto db = from_store_snapshot(s, [&](const std::string& path) { return etcd_backend_from_snapshot(path, m); });
    if (!db) return to_status(db.error());
    data_ = std::move(db).value();
    return grpc::Status::OK;
  }

  void send_next() {
    resp_.Clear();
    if (sent_ < data_.size()) {
      const std::size_t n = std::min(snapshot_blob_bytes, data_.size() - sent_);
      EVP_DigestUpdate(sha_, data_.data() + sent_, n);
      resp_.set_blob(data_.data() + sent_, n);
      sent_ += n;
      resp_.set_remaining_bytes(data_.size() - sent_);
      StartWrite(&resp_);
    } else if (!digest_sent_) {
      std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
      unsigned int len = 0;
      EVP_DigestFinal_ex(sha_, digest.data(), &len);
      digest_sent_ = true;
      resp_.set_remaining_bytes(0);
      resp_.set_blob(digest.data(), len);
      StartWrite(&resp_);
    } else {
      Finish(grpc::Status::OK);
    }
  }

  EVP_MD_CTX* const sha_;
  std::thread worker_;
  std::string data_;  // the bbolt file
  std::size_t sent_ = 0;
  bool digest_sent_ = false;
  etcdserverpb::SnapshotResponse resp_;
};

}  // namespace

grpc::ServerUnaryReactor* maintenance_service::Status(grpc::CallbackServerContext* ctx,
                                                      const etcdserverpb::StatusRequest*,
                                                      etcdserverpb::StatusResponse* resp) {
  const auto stats = c_->store->statistics();
  const auto rev = c_->store->revision();
  to_pb(response_header{c_->identity.cluster_id, c_->identity.member_id, rev, c_->raft_term}, resp->mutable_header());
  // The etcd version whose API this server speaks (clients check it is at least 3.2).
  resp->set_version("3.4.23");
  resp->set_dbsize(static_cast<std::int64_t>(stats.bytes));
  resp->set_dbsizeinuse(static_cast<std::int64_t>(stats.bytes));
  resp->set_leader(c_->identity.member_id);
  // No raft log: the store's revision stands in for its index.
  resp->set_raftindex(static_cast<std::uint64_t>(rev));
  resp->set_raftappliedindex(static_cast<std::uint64_t>(rev));
  resp->set_raftterm(c_->raft_term);
  // Each raised alarm, as etcd lists them (`etcdctl endpoint status` prints them as ERRORS).
  for (const auto& a : c_->alarms->get(alarm_none)) resp->add_errors(alarm_text(a));
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* maintenance_service::Alarm(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::AlarmRequest* req,
                                                     etcdserverpb::AlarmResponse* resp) {
  // No header: etcd's alarm answers carry none.
  auto add = [&](const alarm_member& a) {
    auto* m = resp->add_alarms();
    m->set_memberid(a.member_id);
    m->set_alarm(static_cast<etcdserverpb::AlarmType>(a.type));
  };
  const std::int32_t type = req->alarm();
  switch (req->action()) {
    case etcdserverpb::AlarmRequest::GET:
      for (const auto& a : c_->alarms->get(type)) add(a);
      break;
    case etcdserverpb::AlarmRequest::ACTIVATE:
      add(c_->alarms->activate(req->memberid(), type));
      break;
    case etcdserverpb::AlarmRequest::DEACTIVATE:
      if (auto a = c_->alarms->deactivate(req->memberid(), type)) add(*a);
      break;
    default:  // an action etcd does not define: an empty answer, as etcd's
      break;
  }
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* maintenance_service::Defragment(grpc::CallbackServerContext* ctx,
                                                          const etcdserverpb::DefragmentRequest*,
                                                          etcdserverpb::DefragmentResponse*) {
  // The store keeps no free pages to give back, so there is nothing to do; etcd's answer has no header.
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* maintenance_service::Hash(grpc::CallbackServerContext* ctx, const etcdserverpb::HashRequest*,
                                                    etcdserverpb::HashResponse*) {
  return finish(ctx, grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                  "leasekv-server: Hash is not supported: etcd's value is a CRC-32C of its bbolt "
                                  "database file, which leasekv does not have"));
}

grpc::ServerUnaryReactor* maintenance_service::HashKV(grpc::CallbackServerContext* ctx,
                                                      const etcdserverpb::HashKVRequest* req,
                                                      etcdserverpb::HashKVResponse* resp) {
  // Over the key bucket etcd would hold (etcd_backend.hpp): etcd's value for the same history.
  auto h = from_store_snapshot(*c_->store, [&](const std::string& path) {
    return hash_kv_from_snapshot(path, req->revision());
  });
  if (!h) return finish(ctx, to_status(h.error()));
  // The header carries the current revision, whichever was hashed.
  to_pb(response_header{c_->identity.cluster_id, c_->identity.member_id, h.value().revision, c_->raft_term},
        resp->mutable_header());
  resp->set_hash(h.value().hash);
  resp->set_compact_revision(h.value().compact_revision);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* maintenance_service::Snapshot(
    grpc::CallbackServerContext*, const etcdserverpb::SnapshotRequest*) {
  return new snapshot_reactor(c_->store, {c_->identity.member_id, c_->options.name, c_->options.peer_urls,
                                          c_->options.client_urls});
}

grpc::ServerUnaryReactor* maintenance_service::MoveLeader(grpc::CallbackServerContext* ctx,
                                                          const etcdserverpb::MoveLeaderRequest* req,
                                                          etcdserverpb::MoveLeaderResponse*) {
  // This member leads and is the only voter: moving leadership to itself is done at once (etcd answers
  // OK, without a header), to anyone else is etcd's "bad leader transferee".
  if (req->targetid() != c_->identity.member_id) {
    return finish(ctx, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: bad leader transferee"));
  }
  return finish(ctx, grpc::Status::OK);
}

}  // namespace leasekv::server_detail
