// leasekv::remote — one Watch stream per store carrying all its watchers (clientv3's watchGrpcStream).
//
// A thread of the store owns the stream: it opens it, (re)creates every watcher on it, reads its
// responses and hands each to its watcher. When the stream breaks (the server stopped, restarted, or a
// member failed) the thread opens a new one, on the next endpoint, after a backoff, and re-creates each
// watcher from the revision after the last one it received: the server replays what was missed, and
// any event at a revision already received is dropped, so a watcher sees no gap and no duplicate. A
// resume point compacted meanwhile gets the server's cancel with compact_revision, delivered as
// in-process. Creates are sent in order and their replies bound in order (etcd answers creates in
// request order).
//
// Thread safety: watch(), cancel and close() may be called from any thread. Lock order: write_mu_, then
// mu_, then a watcher's delivery mutex. No user code runs under any of them.
#pragma once

#include "connection.hpp"

#include "leasekv/store.hpp"

#include "rpc.grpc.pb.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace leasekv::remote_detail {

struct watch_state;

class watch_stream : public std::enable_shared_from_this<watch_stream> {
 public:
  explicit watch_stream(std::shared_ptr<connection> c) : conn_(std::move(c)) {}
  ~watch_stream();

  // Starts the stream's thread. Called once, before watch().
  void start();

  // Validates the request as the store does, adds the watcher, and waits (up to the call timeout) for
  // the server to confirm it, so that a write made after watch() returns is seen. If the server cannot
  // be reached meanwhile, the watcher is returned anyway and is created when the stream comes back.
  result<std::unique_ptr<watcher>> watch(key_range r, watch_options o, boost::asio::any_io_executor ex,
                                         watch_handler handler);

  // Ends the stream and every watcher: no handler runs after it returns, pending pulls complete with
  // operation_aborted. Returns promptly whatever the server does. Idempotent.
  void close();

  // For the watcher handles.
  void cancel(const std::shared_ptr<watch_state>& s);
  void request_progress(const std::shared_ptr<watch_state>& s);

 private:
  using stream_type = grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;
  void run();
  // Sends a create for `s` on the current stream, if there is one. REQUIRES: write_mu_ held.
  void send_create(const std::shared_ptr<watch_state>& s);
  void send(const etcdserverpb::WatchRequest& req);  // REQUIRES: write_mu_ held
  void handle(const etcdserverpb::WatchResponse& resp);

  std::shared_ptr<connection> conn_;
  std::thread thread_;

  std::mutex write_mu_;  // serializes writes on the stream (and the FIFO of pending creates with them)
  std::mutex mu_;        // guards everything below
  std::condition_variable cv_;
  bool closing_ = false;
  std::int64_t next_id_ = 0;
  std::map<std::int64_t, std::shared_ptr<watch_state>> watchers_;  // by client id: every live watcher
  // The current stream: null between streams.
  std::shared_ptr<grpc::ClientContext> ctx_;
  std::shared_ptr<stream_type> stream_;
  std::uint64_t generation_ = 0;                   // streams opened so far
  std::map<std::int64_t, std::int64_t> by_server_id_;  // server watch id -> client id, current stream
  std::deque<std::int64_t> pending_creates_;       // client ids awaiting their created reply, in order
};

}  // namespace leasekv::remote_detail
