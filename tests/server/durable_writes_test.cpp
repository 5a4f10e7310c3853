// leasekv::server over a store in a data directory with group commit and server_options::write_threads:
// a lone write runs at once on gRPC's thread (no hop to a write thread and back); writes that come while
// another is in flight wait for their sync on the server's own "leasekv-write" threads; and every write
// the server acknowledged is found by a store reopened on the directory.
//
// Which thread synced is seen through an env that forwards to the real file system (a temporary
// directory) and records the name of each thread that syncs a file.
#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include "rpc.grpc.pb.h"

#include <catch2/catch.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

// Forwards to env::posix(); records the name of every thread that syncs a file.
class recording_env final : public leasekv::env {
 public:
  std::set<std::string> sync_threads() {
    std::lock_guard lock(mu_);
    return names_;
  }
  void forget() {
    std::lock_guard lock(mu_);
    names_.clear();
  }

  leasekv::result<std::string> read_file(const std::string& p) override { return inner_->read_file(p); }
  leasekv::result<std::string> read_file_from(const std::string& p, std::uint64_t offset) override {
    return inner_->read_file_from(p, offset);
  }
  leasekv::result<std::unique_ptr<leasekv::writable_file>> open_append(const std::string& p) override {
    auto f = inner_->open_append(p);
    if (!f) return f.error();
    return std::unique_ptr<leasekv::writable_file>(new file(std::move(f).value(), *this));
  }
  leasekv::result<void> rename(const std::string& from, const std::string& to) override {
    return inner_->rename(from, to);
  }
  leasekv::result<void> remove(const std::string& p) override { return inner_->remove(p); }
  leasekv::result<void> create_dir(const std::string& p) override { return inner_->create_dir(p); }
  leasekv::result<void> sync_dir(const std::string& p) override { return inner_->sync_dir(p); }
  leasekv::result<std::vector<std::string>> list(const std::string& d) override { return inner_->list(d); }
  bool exists(const std::string& p) override { return inner_->exists(p); }
  leasekv::result<std::unique_ptr<leasekv::file_lock>> lock(const std::string& p, std::chrono::milliseconds timeout,
                                                            std::string* holder) override {
    return inner_->lock(p, timeout, holder);
  }

 private:
  class file final : public leasekv::writable_file {
   public:
    file(std::unique_ptr<leasekv::writable_file> f, recording_env& e) : f_(std::move(f)), env_(e) {}
    leasekv::result<void> append(std::string_view data) override { return f_->append(data); }
    leasekv::result<void> sync() override {
      char name[16] = {};
      pthread_getname_np(pthread_self(), name, sizeof name);
      {
        std::lock_guard lock(env_.mu_);
        env_.names_.insert(name);
      }
      return f_->sync();
    }
    leasekv::result<void> truncate(std::uint64_t size) override { return f_->truncate(size); }
    std::uint64_t size() const override { return f_->size(); }

   private:
    std::unique_ptr<leasekv::writable_file> f_;
    recording_env& env_;
  };

  std::shared_ptr<leasekv::env> inner_ = leasekv::env::posix();
  std::mutex mu_;
  std::set<std::string> names_;
};

struct temp_dir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("leasekv-durable-writes-" + std::to_string(::getpid()));
  temp_dir() { std::filesystem::remove_all(path); }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

leasekv::options durable(const temp_dir& dir, std::shared_ptr<leasekv::env> env) {
  leasekv::options o;
  o.data_dir = dir.path.string();
  o.env = std::move(env);
  o.sync = leasekv::sync_policy::group_commit;
  o.clock = std::make_shared<leasekv::manual_clock>();  // no lease expires while the test runs
  return o;
}

}  // namespace

TEST_CASE("server: with write threads, a lone write syncs in line and concurrent ones on the write threads and all survive a reopen",
          "[server]") {
  temp_dir dir;
  auto env = std::make_shared<recording_env>();
  std::shared_ptr<leasekv::store> store = leasekv::store::open(durable(dir, env)).value();
  env->forget();  // the syncs of opening the directory ran on this thread
  leasekv::server_options so;
  so.listen = {"127.0.0.1:0"};
  so.write_threads = 4;
  auto server = leasekv::server::start(store, so).value();
  auto ch = grpc::CreateChannel(server->addresses().at(0), grpc::InsecureChannelCredentials());
  auto kv = etcdserverpb::KV::NewStub(ch);
  auto lease = etcdserverpb::Lease::NewStub(ch);

  // Every kind of write once: a lease grant and revoke, a txn, a delete, a compaction.
  {
    grpc::ClientContext c;
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(60);
    etcdserverpb::LeaseGrantResponse resp;
    REQUIRE(lease->LeaseGrant(&c, req, &resp).ok());
    grpc::ClientContext c2;
    etcdserverpb::LeaseRevokeRequest revoke;
    revoke.set_id(resp.id());
    etcdserverpb::LeaseRevokeResponse revoke_resp;
    REQUIRE(lease->LeaseRevoke(&c2, revoke, &revoke_resp).ok());
  }
  {
    grpc::ClientContext c;
    etcdserverpb::TxnRequest req;
    auto* put = req.add_success()->mutable_request_put();
    put->set_key("gone");
    put->set_value("soon");
    etcdserverpb::TxnResponse resp;
    REQUIRE(kv->Txn(&c, req, &resp).ok());
    CHECK(resp.succeeded());
    grpc::ClientContext c2;
    etcdserverpb::DeleteRangeRequest del;
    del.set_key("gone");
    etcdserverpb::DeleteRangeResponse del_resp;
    REQUIRE(kv->DeleteRange(&c2, del, &del_resp).ok());
    CHECK(del_resp.deleted() == 1);
    grpc::ClientContext c3;
    etcdserverpb::CompactionRequest compact;
    compact.set_revision(del_resp.header().revision());
    etcdserverpb::CompactionResponse compact_resp;
    REQUIRE(kv->Compact(&c3, compact, &compact_resp).ok());
  }

  // One write at a time: each ran at once on gRPC's thread.
  {
    const auto synced_on = env->sync_threads();
    CHECK_FALSE(synced_on.empty());
    CHECK(synced_on.count("leasekv-write") == 0);
  }
  env->forget();

  // Many puts at once, more callers than write threads, so some wait for a thread and syncs are shared.
  constexpr int clients = 16;
  constexpr int puts_each = 20;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < puts_each; ++i) {
        grpc::ClientContext c;
        c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        etcdserverpb::PutRequest req;
        req.set_key("k/" + std::to_string(t) + "/" + std::to_string(i));
        req.set_value("v" + std::to_string(t * 1000 + i));
        etcdserverpb::PutResponse resp;
        if (!kv->Put(&c, req, &resp).ok() || resp.header().revision() <= 0) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failed.load() == 0);
  CHECK(env->sync_threads().count("leasekv-write") == 1);  // writes that came while another was in flight

  server->shutdown();
  server.reset();
  store->close();
  store.reset();

  auto reopened = leasekv::store::open(durable(dir, leasekv::env::posix())).value();
  auto all = reopened->range(leasekv::prefix("k/"), {}).value();
  CHECK(all.count == clients * puts_each);
  for (int t = 0; t < clients; ++t) {
    for (int i = 0; i < puts_each; ++i) {
      auto one = reopened->range(leasekv::key_range("k/" + std::to_string(t) + "/" + std::to_string(i)), {}).value();
      REQUIRE(one.kvs.size() == 1);
      CHECK(one.kvs[0].value == "v" + std::to_string(t * 1000 + i));
    }
  }
  CHECK(reopened->range(leasekv::key_range("gone"), {}).value().kvs.empty());
  reopened->close();
}
