// Fuzzes leasekv::server's request handling over a real gRPC connection (loopback, an OS-picked port):
// the input is a sequence of requests, each the bytes of a serialized etcd request, sent to a server on
// a fresh in-memory store with a manual clock. Unary requests go out as raw bytes, so a payload that is
// not a valid message reaches the server too; keep-alive and watch requests go out on one stream of each,
// held open across the input. The fuzzer aborts unless
//   - every answer is OK, or one of etcd's errors with its exact code and text, or InvalidArgument
//     saying what was wrong with a request etcd defines no answer for, or (for bytes that do not parse
//     as the request) gRPC's own parse failure;
//   - an OK answer parses as the method's response;
//   - afterwards the server still answers, and once the streams are closed it holds none of them.
//
// Input: records of [kind][length: 2 bytes little-endian][payload: length bytes], the last one cut to
// what is left. The seeds in tests/fuzz/corpus/server are written by tests/fuzz/fuzz_server_seeds.py.
#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include "rpc.grpc.pb.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_server: %s\n", what.c_str());
  std::abort();
}

// etcd's statuses a client can get for these calls (spec §5.1): code and exact text.
bool etcd_error(const grpc::Status& s) {
  static const std::pair<grpc::StatusCode, const char*> known[] = {
      {grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: key is not provided"},
      {grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: key not found"},
      {grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: value is provided"},
      {grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: lease is provided"},
      {grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: too many operations in txn request"},
      {grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"},
      {grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: request is too large"},
      {grpc::StatusCode::OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"},
      {grpc::StatusCode::OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"},
      {grpc::StatusCode::OUT_OF_RANGE, "etcdserver: too large lease TTL"},
      {grpc::StatusCode::NOT_FOUND, "etcdserver: requested lease not found"},
      {grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: lease already exists"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"},
  };
  for (const auto& [code, text] : known) {
    if (s.error_code() == code && s.error_message() == text) return true;
  }
  // What etcd has no answer for (an enum value it does not define): InvalidArgument, saying why.
  return s.error_code() == grpc::StatusCode::INVALID_ARGUMENT && s.error_message().starts_with("leasekv: invalid argument: ");
}

std::string describe(const grpc::Status& s) {
  return "code " + std::to_string(s.error_code()) + " \"" + s.error_message() + "\"";
}

// One unary method: its path and a parser for its request and its response.
struct method {
  const char* path;
  bool (*parses)(const std::string&);
  bool (*response_parses)(const std::string&);
};

template <class M>
bool parses(const std::string& bytes) {
  M m;
  return m.ParseFromString(bytes);
}

constexpr method unary_methods[] = {
    {"/etcdserverpb.KV/Range", parses<etcdserverpb::RangeRequest>, parses<etcdserverpb::RangeResponse>},
    {"/etcdserverpb.KV/Put", parses<etcdserverpb::PutRequest>, parses<etcdserverpb::PutResponse>},
    {"/etcdserverpb.KV/DeleteRange", parses<etcdserverpb::DeleteRangeRequest>, parses<etcdserverpb::DeleteRangeResponse>},
    {"/etcdserverpb.KV/Txn", parses<etcdserverpb::TxnRequest>, parses<etcdserverpb::TxnResponse>},
    {"/etcdserverpb.KV/Compact", parses<etcdserverpb::CompactionRequest>, parses<etcdserverpb::CompactionResponse>},
    {"/etcdserverpb.Lease/LeaseGrant", parses<etcdserverpb::LeaseGrantRequest>, parses<etcdserverpb::LeaseGrantResponse>},
    {"/etcdserverpb.Lease/LeaseRevoke", parses<etcdserverpb::LeaseRevokeRequest>, parses<etcdserverpb::LeaseRevokeResponse>},
    {"/etcdserverpb.Lease/LeaseTimeToLive", parses<etcdserverpb::LeaseTimeToLiveRequest>,
     parses<etcdserverpb::LeaseTimeToLiveResponse>},
    {"/etcdserverpb.Lease/LeaseLeases", parses<etcdserverpb::LeaseLeasesRequest>, parses<etcdserverpb::LeaseLeasesResponse>},
};
constexpr std::uint8_t unary_kinds = sizeof(unary_methods) / sizeof(unary_methods[0]);
// Kinds after the unary ones: a keep-alive request, a watch request, and advancing the clock by the
// payload's first byte in seconds.
constexpr std::uint8_t keep_alive_kind = unary_kinds;
constexpr std::uint8_t watch_kind = unary_kinds + 1;
constexpr std::uint8_t advance_kind = unary_kinds + 2;
constexpr std::uint8_t kinds = unary_kinds + 3;

grpc::Status call(grpc::GenericStub& stub, const char* path, const std::string& payload, std::string* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 60s);  // a hang is a finding too
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, path, grpc::StubOptions(), &request, &reply, [&](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status s = done.get_future().get();
  if (s.ok()) {
    std::vector<grpc::Slice> slices;
    if (!reply.Dump(&slices).ok()) fail("cannot read a response");
    response->clear();
    for (const auto& sl : slices) response->append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  }
  return s;
}

struct session {
  std::shared_ptr<leasekv::manual_clock> clock = std::make_shared<leasekv::manual_clock>();
  std::shared_ptr<leasekv::store> store;
  std::unique_ptr<leasekv::server> server;
  std::shared_ptr<grpc::Channel> channel;

  session() {
    leasekv::options o{.clock = clock, .min_lease_ttl = std::chrono::seconds(2)};
    o.tuning.prefault_memory = false;
    o.quota_bytes = 1 << 20;                 // small, so that the quota's error is reachable
    o.watch_progress_interval = std::chrono::seconds(1);  // reachable by advancing the clock
    store = leasekv::store::open(o).value();
    server = leasekv::server::start(store, {.listen = {"127.0.0.1:0"}}).value();
    channel = grpc::CreateChannel(server->addresses().at(0), grpc::InsecureChannelCredentials());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  session s;
  grpc::GenericStub stub(s.channel);
  auto lease = etcdserverpb::Lease::NewStub(s.channel);
  auto watch = etcdserverpb::Watch::NewStub(s.channel);

  // The streams, opened on first use; their answers are read by threads of their own.
  grpc::ClientContext ka_ctx;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>> ka;
  std::thread ka_reader;
  grpc::ClientContext watch_ctx;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>> w;
  std::thread watch_reader;

  std::size_t i = 0;
  while (i + 3 <= size) {
    const std::uint8_t kind = data[i] % kinds;
    std::size_t length = data[i + 1] | (std::size_t{data[i + 2]} << 8);
    i += 3;
    length = std::min(length, size - i);
    const std::string payload(reinterpret_cast<const char*>(data + i), length);
    i += length;

    if (kind < unary_kinds) {
      const method& m = unary_methods[kind];
      std::string response;
      const grpc::Status st = call(stub, m.path, payload, &response);
      if (st.ok()) {
        if (!m.response_parses(response)) fail(std::string(m.path) + ": an OK answer that does not parse");
      } else if (m.parses(payload)) {
        if (!etcd_error(st)) fail(std::string(m.path) + ": not an etcd error: " + describe(st));
      } else if (st.error_code() != grpc::StatusCode::UNIMPLEMENTED && st.error_code() != grpc::StatusCode::INTERNAL) {
        // grpc++ 1.51 refuses a request it cannot parse before any handler runs, with Unimplemented.
        fail(std::string(m.path) + ": bytes that do not parse, answered " + describe(st));
      }
    } else if (kind == keep_alive_kind) {
      etcdserverpb::LeaseKeepAliveRequest r;
      if (!r.ParseFromString(payload)) continue;
      if (!ka) {
        ka = lease->LeaseKeepAlive(&ka_ctx);
        ka_reader = std::thread([&ka] {
          etcdserverpb::LeaseKeepAliveResponse resp;
          while (ka->Read(&resp)) {
            if (resp.ttl() < 0) fail("keep-alive: a negative TTL");
          }
        });
      }
      ka->Write(r);
    } else if (kind == watch_kind) {
      etcdserverpb::WatchRequest r;
      if (!r.ParseFromString(payload)) continue;
      if (!w) {
        w = watch->Watch(&watch_ctx);
        watch_reader = std::thread([&w] {
          etcdserverpb::WatchResponse resp;
          while (w->Read(&resp)) {
            if (resp.created() && resp.canceled() && resp.watch_id() != -1) fail("watch: a failed create with an id");
            if (resp.compact_revision() != 0 && (!resp.canceled() || resp.header().revision() != 0)) {
              fail("watch: a compaction cancel that is not etcd's");
            }
          }
        });
      }
      w->Write(r);
    } else if (kind == advance_kind) {
      s.clock->advance(std::chrono::seconds(payload.empty() ? 1 : static_cast<std::uint8_t>(payload[0])));
    }
  }

  // The server still answers.
  std::string response;
  const grpc::Status st = call(stub, unary_methods[0].path, std::string("\x0a\x01k", 3), &response);
  if (!st.ok()) fail("a range after the input: " + describe(st));

  // Client gone: its streams end, and the server holds none of them.
  if (ka) {
    ka_ctx.TryCancel();
    ka_reader.join();
    ka->Finish();
  }
  if (w) {
    watch_ctx.TryCancel();
    watch_reader.join();
    w->Finish();
  }
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    const auto stats = s.server->statistics();
    if (stats.watch_streams == 0 && stats.watchers == 0 && stats.keep_alive_streams == 0 && stats.queued_watch_bytes == 0) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) fail("streams left on the server after their client went away");
    std::this_thread::sleep_for(1ms);
  }
  s.server->shutdown();
  return 0;
}
