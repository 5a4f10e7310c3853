// leasekv::server under hostile clients, in this process over loopback gRPC: a watch client that never
// reads (its stream pauses, writers and other clients go on, and it later gets every revision exactly
// once, or etcd's compaction cancel), many clients doing puts, txns, watches and keep-alives at once
// with their streams cancelled mid-flight, and etcd's watch fragmenting. Every case ends by checking
// that the server holds no stream or watcher any more and still answers.
#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include "rpc.grpc.pb.h"
#include "support/forwarding_store.hpp"

#include <catch2/catch.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using watch_rw = grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

// Polls `done` (every 10 ms) until it holds or `limit` passed; generous limits, for loaded CI machines.
bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

struct fixture {
  std::shared_ptr<leasekv::manual_clock> clock = std::make_shared<leasekv::manual_clock>();
  std::shared_ptr<leasekv::store> store;
  std::unique_ptr<leasekv::server> server;

  fixture() {
    leasekv::options o{.clock = clock, .min_lease_ttl = std::chrono::seconds(2)};
    o.tuning.prefault_memory = false;
    store = leasekv::store::open(o).value();
    server = leasekv::server::start(store, {.listen = {"127.0.0.1:0"}}).value();
  }

  // A channel of its own (one connection per client). `slow`: the client's transport takes little ahead
  // of what the application reads (no window growth), so a client that stops reading is felt at once.
  std::shared_ptr<grpc::Channel> channel(bool slow = false) const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own, not shared with other clients
    args.SetMaxReceiveMessageSize(64 << 20);
    if (slow) {
      args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
      args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
    }
    return grpc::CreateCustomChannel(server->addresses().at(0), grpc::InsecureChannelCredentials(), args);
  }

  // Every stream and watcher is gone and the server still answers.
  void check_clean() const {
    CHECK(eventually([&] {
      const auto s = server->statistics();
      return s.watch_streams == 0 && s.watchers == 0 && s.store_watches == 0 && s.keep_alive_streams == 0 &&
             s.queued_watch_bytes == 0;
    }));
    const auto s = server->statistics();
    CHECK(s.watch_streams == 0);
    CHECK(s.watchers == 0);
    CHECK(s.paused_watchers == 0);
    CHECK(s.store_watches == 0);
    CHECK(s.keep_alive_streams == 0);
    CHECK(s.queued_watch_bytes == 0);
    auto kv = etcdserverpb::KV::NewStub(channel());
    grpc::ClientContext c;
    etcdserverpb::RangeRequest r;
    r.set_key("k");
    etcdserverpb::RangeResponse resp;
    CHECK(kv->Range(&c, r, &resp).ok());
  }
};

std::int64_t put(etcdserverpb::KV::Stub& kv, const std::string& key, const std::string& value) {
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + 60s);
  etcdserverpb::PutRequest p;
  p.set_key(key);
  p.set_value(value);
  etcdserverpb::PutResponse resp;
  const auto s = kv.Put(&c, p, &resp);
  if (!s.ok()) FAIL("put " << key << ": " << s.error_message());
  return resp.header().revision();
}

std::int64_t compact(etcdserverpb::KV::Stub& kv, std::int64_t revision) {
  grpc::ClientContext c;
  etcdserverpb::CompactionRequest r;
  r.set_revision(revision);
  etcdserverpb::CompactionResponse resp;
  REQUIRE(kv.Compact(&c, r, &resp).ok());
  return revision;
}

etcdserverpb::WatchRequest create_request(const std::string& prefix, std::int64_t start = 0, bool fragment = false) {
  etcdserverpb::WatchRequest req;
  auto* cr = req.mutable_create_request();
  cr->set_key(prefix);
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  cr->set_range_end(end);
  cr->set_start_revision(start);
  cr->set_fragment(fragment);
  return req;
}

// A value whose bytes name its key's revision-to-be, so a reader can check what it got.
std::string value_for(std::size_t i, std::size_t size) {
  std::string v = std::to_string(i) + ":";
  v.resize(size, static_cast<char>('a' + i % 26));
  return v;
}

}  // namespace

TEST_CASE("server stress: a watch client that never reads pauses its stream while writers and other watchers go on, then gets every revision once", "[server][stress]") {
  fixture f;
  auto slow_channel = f.channel(true);
  auto slow_watch = etcdserverpb::Watch::NewStub(slow_channel);
  grpc::ClientContext slow_ctx;
  auto slow = slow_watch->Watch(&slow_ctx);
  REQUIRE(slow->Write(create_request("k/")));
  etcdserverpb::WatchResponse created;
  REQUIRE(slow->Read(&created));
  REQUIRE(created.created());
  const std::int64_t first = created.header().revision() + 1;

  // A watcher that keeps up, on its own connection: it must see every put while the slow one sleeps.
  auto fast_watch = etcdserverpb::Watch::NewStub(f.channel());
  grpc::ClientContext fast_ctx;
  auto fast = fast_watch->Watch(&fast_ctx);
  REQUIRE(fast->Write(create_request("k/")));
  std::atomic<std::int64_t> fast_last{0};
  std::atomic<bool> fast_in_order{true};
  // Both watch "k/" from now on: they share one store watch until the slow one's stream pauses.
  etcdserverpb::WatchResponse fast_created;
  REQUIRE(fast->Read(&fast_created));
  REQUIRE(fast_created.created());
  CHECK(f.server->statistics().store_watches == 1);
  std::thread fast_reader([&] {
    etcdserverpb::WatchResponse r;
    std::int64_t expect = first;
    while (fast->Read(&r)) {
      for (const auto& e : r.events()) {
        if (e.kv().mod_revision() != expect) fast_in_order = false;
        expect = e.kv().mod_revision() + 1;
        fast_last = e.kv().mod_revision();
      }
    }
  });

  // Writers: 4 clients putting 19 MiB of 4 KiB values, far more than the stream's bound, one store
  // response (a catch-up batch holds up to 1024 events) and the transport's windows together.
  constexpr std::size_t writers = 4;
  constexpr std::size_t per_writer = 1200;
  constexpr std::size_t value_bytes = 4 * 1024;
  std::atomic<std::int64_t> last_rev{0};
  std::vector<std::chrono::steady_clock::duration> worst(writers);
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto kv = etcdserverpb::KV::NewStub(f.channel());
      for (std::size_t i = 0; i < per_writer; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto rev = put(*kv, "k/" + std::to_string(w) + "/" + std::to_string(i), value_for(i, value_bytes));
        worst[w] = std::max(worst[w], std::chrono::steady_clock::now() - t0);
        std::int64_t seen = last_rev.load();
        while (rev > seen && !last_rev.compare_exchange_weak(seen, rev)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::int64_t last = last_rev.load();
  REQUIRE(last == first + static_cast<std::int64_t>(writers * per_writer) - 1);

  // Writers were never held up by the sleeping client (generous: the sanitizers on a loaded machine).
  for (auto d : worst) CHECK(d < 5s);
  // The keeping-up watcher saw everything, in order.
  CHECK(eventually([&] { return fast_last.load() == last; }));
  CHECK(fast_in_order);
  // The sleeping client's stream paused: its queue stayed within the bound (4 MiB) plus one store
  // response (at most one catch-up batch of 1024 events, and a revision).
  auto s = f.server->statistics();
  CHECK(s.watch_pauses >= 1);
  CHECK(s.paused_watchers == 1);
  CHECK(s.max_queued_watch_bytes <= (std::uint64_t{4} << 20) + 1025 * (value_bytes + 512));
  WARN("most bytes one stream queued: " << s.max_queued_watch_bytes << ", pauses " << s.watch_pauses);

  // It reads now: every revision from its start to the last, once each, in order (the missed part is
  // replayed from history when it catches up).
  std::int64_t expect = first;
  etcdserverpb::WatchResponse r;
  while (expect <= last && slow->Read(&r)) {
    REQUIRE_FALSE(r.canceled());
    for (const auto& e : r.events()) {
      REQUIRE(e.kv().mod_revision() == expect);
      REQUIRE(e.kv().value().size() == value_bytes);
      ++expect;
    }
  }
  CHECK(expect == last + 1);
  CHECK(f.server->statistics().paused_watchers == 0);

  // A put after the catch-up arrives live.
  auto kv = etcdserverpb::KV::NewStub(f.channel());
  const auto rev = put(*kv, "k/live", "x");
  REQUIRE(slow->Read(&r));
  REQUIRE(r.events_size() == 1);
  CHECK(r.events(0).kv().mod_revision() == rev);
  // Live again, it rejoined the fast one's shared watch; both get the next put once.
  CHECK(eventually([&] { return f.server->statistics().store_watches == 1; }));
  const auto rev2 = put(*kv, "k/live2", "y");
  REQUIRE(slow->Read(&r));
  REQUIRE(r.events_size() == 1);
  CHECK(r.events(0).kv().mod_revision() == rev2);
  CHECK(eventually([&] { return fast_last.load() == rev2; }));
  CHECK(fast_in_order);

  slow_ctx.TryCancel();
  fast_ctx.TryCancel();
  fast_reader.join();
  slow->Finish();
  fast->Finish();
  f.check_clean();
}

TEST_CASE("server stress: a sleeping watch client whose missed history is compacted gets etcd's compaction cancel", "[server][stress]") {
  fixture f;
  auto slow_watch = etcdserverpb::Watch::NewStub(f.channel(true));
  grpc::ClientContext slow_ctx;
  auto slow = slow_watch->Watch(&slow_ctx);
  REQUIRE(slow->Write(create_request("k/")));
  etcdserverpb::WatchResponse r;
  REQUIRE(slow->Read(&r));
  REQUIRE(r.created());
  std::int64_t expect = r.header().revision() + 1;

  auto kv = etcdserverpb::KV::NewStub(f.channel());
  std::int64_t last = 0;
  for (std::size_t i = 0; i < 1000 && f.server->statistics().paused_watchers == 0; ++i) {
    last = put(*kv, "k/" + std::to_string(i), value_for(i, 16 * 1024));
  }
  REQUIRE(f.server->statistics().paused_watchers == 1);
  for (std::size_t i = 0; i < 10; ++i) last = put(*kv, "k/more" + std::to_string(i), "v");
  compact(*kv, last);

  // What was queued before the pause arrives in order; then the cancel, at the compacted revision.
  bool cancelled = false;
  while (!cancelled && slow->Read(&r)) {
    for (const auto& e : r.events()) {
      REQUIRE(e.kv().mod_revision() == expect);
      ++expect;
    }
    if (r.canceled()) {
      cancelled = true;
      CHECK(r.compact_revision() == last);
      CHECK(r.header().revision() == 0);
      CHECK(r.events_size() == 0);
    }
  }
  CHECK(cancelled);
  CHECK(expect < last);  // the pause left a gap only the compaction cancel can explain
  CHECK(eventually([&] { return f.server->statistics().watchers == 0; }));

  slow_ctx.TryCancel();
  slow->Finish();
  f.check_clean();
}

TEST_CASE("server stress: a watcher created with fragment gets a large response in parts below the receive limit", "[server][stress]") {
  fixture f;
  auto kv = etcdserverpb::KV::NewStub(f.channel());
  constexpr std::size_t value_bytes = 900 * 1024;  // three exceed the 2 MiB limit; two do not
  const auto from = put(*kv, "f/1", std::string(value_bytes, 'a'));
  put(*kv, "f/2", std::string(value_bytes, 'b'));
  const auto last = put(*kv, "f/3", std::string(value_bytes, 'c'));

  auto watch = etcdserverpb::Watch::NewStub(f.channel());
  for (const bool fragment : {true, false}) {
    grpc::ClientContext ctx;
    auto stream = watch->Watch(&ctx);
    REQUIRE(stream->Write(create_request("f/", from, fragment)));
    etcdserverpb::WatchResponse r;
    REQUIRE(stream->Read(&r));
    REQUIRE(r.created());
    std::vector<etcdserverpb::WatchResponse> got;
    std::int64_t events = 0;
    while (events < 3 && stream->Read(&r)) {
      events += r.events_size();
      got.push_back(r);
    }
    REQUIRE(events == 3);
    if (fragment) {
      REQUIRE(got.size() == 2);
      CHECK(got[0].fragment());
      CHECK(got[0].events_size() == 2);
      CHECK_FALSE(got[1].fragment());
      CHECK(got[1].events_size() == 1);
      for (const auto& part : got) {
        CHECK(part.ByteSizeLong() < 1572864 + 512 * 1024);
        CHECK(part.header().revision() == last);
      }
      CHECK(got[1].events(0).kv().value() == std::string(value_bytes, 'c'));
    } else {
      REQUIRE(got.size() == 1);
      CHECK_FALSE(got[0].fragment());
      CHECK(got[0].events_size() == 3);
    }
    ctx.TryCancel();
    stream->Finish();
  }
  f.check_clean();
}

TEST_CASE("server stress: watchers of one range and options share one store watch, each from its own start", "[server][stress]") {
  fixture f;
  auto kv = etcdserverpb::KV::NewStub(f.channel());
  struct stream {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::Watch::Stub> stub;
    grpc::ClientContext ctx;
    std::unique_ptr<watch_rw> rw;
  };
  auto open = [&](stream& s) {
    s.channel = f.channel();
    s.stub = etcdserverpb::Watch::NewStub(s.channel);
    s.rw = s.stub->Watch(&s.ctx);
  };
  // Creates `n` watchers of "s/" on `s`; returns their ids and the revision they start after.
  auto create = [](stream& s, std::size_t n, bool prev_kv = false) {
    std::vector<std::int64_t> ids;
    std::int64_t after = 0;
    for (std::size_t i = 0; i < n; ++i) {
      auto req = create_request("s/");
      req.mutable_create_request()->set_prev_kv(prev_kv);
      REQUIRE(s.rw->Write(req));
      etcdserverpb::WatchResponse r;
      REQUIRE(s.rw->Read(&r));
      REQUIRE(r.created());
      ids.push_back(r.watch_id());
      after = r.header().revision();
    }
    return std::make_pair(ids, after);
  };
  // Reads `s` until each of `ids` has events up to revision `last`; returns each one's revisions, and
  // each one's previous values (empty when the event has none).
  struct got {
    std::vector<std::int64_t> revisions;
    std::vector<std::string> prev;
  };
  auto read_until = [](stream& s, const std::vector<std::int64_t>& ids, std::int64_t last) {
    std::map<std::int64_t, got> out;
    auto done = [&] {
      return std::all_of(ids.begin(), ids.end(), [&](std::int64_t id) {
        return !out[id].revisions.empty() && out[id].revisions.back() == last;
      });
    };
    etcdserverpb::WatchResponse r;
    while (!done() && s.rw->Read(&r)) {
      REQUIRE_FALSE(r.canceled());
      for (const auto& e : r.events()) {
        out[r.watch_id()].revisions.push_back(e.kv().mod_revision());
        out[r.watch_id()].prev.push_back(e.has_prev_kv() ? e.prev_kv().value() : "");
      }
    }
    return out;
  };
  auto revisions = [](std::int64_t from, std::int64_t to) {
    std::vector<std::int64_t> v;
    for (std::int64_t i = from; i <= to; ++i) v.push_back(i);
    return v;
  };

  stream a;
  open(a);
  const auto [a_ids, a_after] = create(a, 10);
  CHECK(f.server->statistics().store_watches == 1);
  std::int64_t mid = 0;
  for (int i = 0; i < 50; ++i) mid = put(*kv, "s/" + std::to_string(i % 7), "v" + std::to_string(i));

  // Late joiners on another stream start after `mid`; a watcher with prev_kv is another group.
  stream b;
  open(b);
  const auto [b_ids, b_after] = create(b, 10);
  CHECK(b_after >= mid);
  const auto [p_ids, p_after] = create(b, 1, true);
  CHECK(f.server->statistics().store_watches == 2);
  CHECK(f.server->statistics().watchers == 21);
  std::int64_t last = 0;
  for (int i = 50; i < 100; ++i) last = put(*kv, "s/" + std::to_string(i % 7), "v" + std::to_string(i));

  const auto got_a = read_until(a, a_ids, last);
  for (std::int64_t id : a_ids) CHECK(got_a.at(id).revisions == revisions(a_after + 1, last));
  std::vector<std::int64_t> b_and_p = b_ids;
  b_and_p.push_back(p_ids.at(0));
  const auto got_b = read_until(b, b_and_p, last);
  for (std::int64_t id : b_ids) {
    CHECK(got_b.at(id).revisions == revisions(b_after + 1, last));
    for (const auto& p : got_b.at(id).prev) CHECK(p.empty());
  }
  // With prev_kv: each put of "s/<i % 7>" overwrote the value put 7 revisions earlier.
  const auto& p = got_b.at(p_ids.at(0));
  REQUIRE(p.revisions == revisions(p_after + 1, last));
  for (std::size_t i = 0; i < p.prev.size(); ++i) {
    CHECK(p.prev[i] == "v" + std::to_string(p.revisions[i] - (last - 99) - 7));
  }

  // A cancelled member gets its cancel and nothing after it; the others go on.
  etcdserverpb::WatchRequest cancel;
  cancel.mutable_cancel_request()->set_watch_id(a_ids.at(0));
  REQUIRE(a.rw->Write(cancel));
  etcdserverpb::WatchResponse r;
  REQUIRE(a.rw->Read(&r));
  CHECK(r.canceled());
  CHECK(r.watch_id() == a_ids.at(0));
  const auto after_cancel = put(*kv, "s/x", "x");
  std::vector<std::int64_t> rest(a_ids.begin() + 1, a_ids.end());
  const auto got_rest = read_until(a, rest, after_cancel);
  CHECK(got_rest.count(a_ids.at(0)) == 0);
  for (std::int64_t id : rest) CHECK(got_rest.at(id).revisions == std::vector<std::int64_t>{after_cancel});
  CHECK(f.server->statistics().store_watches == 2);

  for (stream* s : {&a, &b}) {
    s->ctx.TryCancel();
    s->rw->Finish();
  }
  f.check_clean();
}

namespace {

// A store whose first watch the test can end, as the store ends a watch that compaction overtook: the
// handler gets a compaction cancel, and nothing from the store after it.
class first_watch_tap final : public leasekv::testing::forwarding_store {
 public:
  using forwarding_store::forwarding_store;
  using store::watch;

  leasekv::result<std::unique_ptr<leasekv::watcher>> watch(leasekv::key_range r, leasekv::watch_options o,
                                                           boost::asio::any_io_executor ex,
                                                           leasekv::watch_handler handler) override {
    std::lock_guard lock(mu_);
    if (first_) return forwarding_store::watch(std::move(r), o, std::move(ex), std::move(handler));
    first_ = std::make_shared<tap>();
    first_->handler = std::move(handler);
    return forwarding_store::watch(std::move(r), o, std::move(ex), [t = first_](const leasekv::watch_response& resp) {
      {
        std::lock_guard tap_lock(t->mu);
        if (t->cut) return;
      }
      t->handler(resp);
    });
  }

  // Ends the first watch with a compaction cancel at `compacted`. REQUIRES: no response of it in flight.
  void end_first(std::int64_t compacted) {
    std::shared_ptr<tap> t;
    {
      std::lock_guard lock(mu_);
      t = first_;
    }
    REQUIRE(t);
    {
      std::lock_guard tap_lock(t->mu);
      t->cut = true;
    }
    leasekv::watch_response r;
    r.canceled = true;
    r.compact_revision = compacted;
    r.cancel_reason = leasekv::errc::compacted;
    t->handler(r);
  }

 private:
  struct tap {
    std::mutex mu;
    bool cut = false;
    leasekv::watch_handler handler;
  };
  std::mutex mu_;
  std::shared_ptr<tap> first_;
};

}  // namespace

TEST_CASE("server stress: when a shared store watch ends, its watchers go on from where each one was", "[server][stress]") {
  auto clock = std::make_shared<leasekv::manual_clock>();
  leasekv::options o{.clock = clock};
  o.tuning.prefault_memory = false;
  auto tapped = std::make_shared<first_watch_tap>(leasekv::store::open(o).value());
  auto server = leasekv::server::start(tapped, {.listen = {"127.0.0.1:0"}}).value();
  auto channel = grpc::CreateChannel(server->addresses().at(0), grpc::InsecureChannelCredentials());
  auto kv = etcdserverpb::KV::NewStub(channel);
  auto watch = etcdserverpb::Watch::NewStub(channel);
  grpc::ClientContext ctx;
  auto rw = watch->Watch(&ctx);
  constexpr int watchers = 4;
  std::int64_t after = 0;
  for (int i = 0; i < watchers; ++i) {
    REQUIRE(rw->Write(create_request("g/")));
    etcdserverpb::WatchResponse r;
    REQUIRE(rw->Read(&r));
    REQUIRE(r.created());
    after = r.header().revision();
  }
  REQUIRE(server->statistics().store_watches == 1);
  // Reads until every watcher has revision `last`; each must get every revision after `after` once, in order.
  std::vector<std::int64_t> next(watchers, after + 1);
  auto read_to = [&](std::int64_t last) {
    etcdserverpb::WatchResponse r;
    while (std::any_of(next.begin(), next.end(), [&](std::int64_t n) { return n <= last; }) && rw->Read(&r)) {
      REQUIRE_FALSE(r.canceled());
      REQUIRE(r.watch_id() >= 0);
      REQUIRE(r.watch_id() < watchers);
      for (const auto& e : r.events()) {
        REQUIRE(e.kv().mod_revision() == next[static_cast<std::size_t>(r.watch_id())]);
        ++next[static_cast<std::size_t>(r.watch_id())];
      }
    }
  };
  std::int64_t last = 0;
  for (int i = 0; i < 5; ++i) last = put(*kv, "g/" + std::to_string(i), "v");
  read_to(last);

  // The shared watch ends; no watcher sees that: each goes on with a store watch of its own, and on its
  // first live event joins a new shared watch.
  tapped->end_first(last);
  CHECK(server->statistics().store_watches == watchers);
  for (int i = 5; i < 10; ++i) last = put(*kv, "g/" + std::to_string(i), "v");
  read_to(last);
  for (std::int64_t n : next) CHECK(n == last + 1);
  CHECK(eventually([&] { return server->statistics().store_watches == 1; }));
  last = put(*kv, "g/after", "v");
  read_to(last);
  for (std::int64_t n : next) CHECK(n == last + 1);

  ctx.TryCancel();
  rw->Finish();
  CHECK(eventually([&] { return server->statistics().watchers == 0 && server->statistics().store_watches == 0; }));
  server->shutdown();
}

TEST_CASE("server stress: many clients put, txn, watch and keep leases alive at once, their streams cancelled mid-flight", "[server][stress]") {
  fixture f;
  constexpr int clients = 32;
  constexpr int rounds = 6;
  std::atomic<int> failures{0};
  std::atomic<int> out_of_order{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto ch = f.channel(c % 4 == 0);
      auto kv = etcdserverpb::KV::NewStub(ch);
      auto lease = etcdserverpb::Lease::NewStub(ch);
      auto watch = etcdserverpb::Watch::NewStub(ch);
      const std::string mine = "c/" + std::to_string(c) + "/";
      for (int round = 0; round < rounds; ++round) {
        // A watch stream on everybody's keys and one on this client's, read a little, then cancelled
        // with responses still coming (or, every third round, never read at all).
        grpc::ClientContext wctx;
        auto w = watch->Watch(&wctx);
        if (!w->Write(create_request("c/")) || !w->Write(create_request(mine))) ++failures;
        // A keep-alive stream on a fresh lease.
        grpc::ClientContext gctx;
        etcdserverpb::LeaseGrantRequest grant;
        grant.set_ttl(60);
        etcdserverpb::LeaseGrantResponse granted;
        if (!lease->LeaseGrant(&gctx, grant, &granted).ok()) ++failures;
        grpc::ClientContext kctx;
        auto ka = lease->LeaseKeepAlive(&kctx);
        for (int i = 0; i < 5; ++i) {
          // Puts (one on the lease) and a compare-and-swap txn.
          grpc::ClientContext pctx;
          etcdserverpb::PutRequest p;
          p.set_key(mine + std::to_string(i));
          p.set_value(std::string(512, 'v'));
          if (i == 0) p.set_lease(granted.id());
          etcdserverpb::PutResponse presp;
          if (!kv->Put(&pctx, p, &presp).ok()) ++failures;
          grpc::ClientContext tctx;
          etcdserverpb::TxnRequest t;
          auto* cmp = t.add_compare();
          cmp->set_key(mine + std::to_string(i));
          cmp->set_target(etcdserverpb::Compare::MOD);
          cmp->set_mod_revision(presp.header().revision());
          auto* op = t.add_success()->mutable_request_put();
          op->set_key(mine + "cas");
          op->set_value(std::to_string(i));
          etcdserverpb::TxnResponse tresp;
          if (!kv->Txn(&tctx, t, &tresp).ok()) ++failures;
          etcdserverpb::LeaseKeepAliveRequest kreq;
          kreq.set_id(granted.id());
          if (!ka->Write(kreq)) ++failures;
        }
        if (round % 3 != 2) {
          // At least 12 responses are due: two created replies and each watcher's events of this
          // round's puts and txns.
          etcdserverpb::WatchResponse r;
          std::int64_t last[2] = {0, 0};
          for (int i = 0; i < 8 && w->Read(&r); ++i) {
            if (r.watch_id() < 0 || r.watch_id() > 1) {
              ++failures;
              continue;
            }
            for (const auto& e : r.events()) {
              if (e.kv().mod_revision() <= last[r.watch_id()]) ++out_of_order;
              last[r.watch_id()] = e.kv().mod_revision();
            }
          }
          etcdserverpb::LeaseKeepAliveResponse kresp;
          if (!ka->Read(&kresp) || kresp.ttl() != 60) ++failures;
        }
        // Mid-flight: keep-alive requests unanswered or unread, watch responses still queued.
        wctx.TryCancel();
        kctx.TryCancel();
        w->Finish();
        ka->Finish();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(out_of_order == 0);
  f.check_clean();
}

TEST_CASE("server stress: a keep-alive client that never reads holds one answer and blocks nobody", "[server][stress]") {
  fixture f;
  auto ch = f.channel(true);
  auto lease = etcdserverpb::Lease::NewStub(ch);
  grpc::ClientContext gctx;
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(60);
  etcdserverpb::LeaseGrantResponse granted;
  REQUIRE(lease->LeaseGrant(&gctx, grant, &granted).ok());

  grpc::ClientContext kctx;
  auto ka = lease->LeaseKeepAlive(&kctx);
  // Requests sent and never read: the writer thread ends when the transport stops taking them.
  std::atomic<int> sent{0};
  std::thread sender([&] {
    etcdserverpb::LeaseKeepAliveRequest kreq;
    kreq.set_id(granted.id());
    for (int i = 0; i < 200000 && ka->Write(kreq); ++i) ++sent;
  });
  REQUIRE(eventually([&] { return f.server->statistics().keep_alive_streams == 1 && sent > 1000; }));

  // Another client's keep-alives are answered at once meanwhile.
  auto other = etcdserverpb::Lease::NewStub(f.channel());
  grpc::ClientContext octx;
  auto oka = other->LeaseKeepAlive(&octx);
  for (int i = 0; i < 100; ++i) {
    etcdserverpb::LeaseKeepAliveRequest kreq;
    kreq.set_id(granted.id());
    REQUIRE(oka->Write(kreq));
    etcdserverpb::LeaseKeepAliveResponse kresp;
    REQUIRE(oka->Read(&kresp));
    CHECK(kresp.ttl() == 60);
  }
  octx.TryCancel();
  oka->Finish();

  kctx.TryCancel();
  sender.join();
  ka->Finish();
  f.check_clean();
}
