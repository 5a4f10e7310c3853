// leasekv::remote — the channels to a server's endpoints, the status-to-error mapping, and unary calls
// with their deadline, retries and failover.
//
// Thread safety: a connection is used from any thread at once; its endpoint choice is an atomic.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/remote.hpp"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace leasekv::remote_detail {

// The error for a failed RPC, with the server's message as detail. etcd's texts (wire::etcd_statuses) map
// to their errc whatever the code (clientv3 matches by text too); "mvcc: watcher range is empty" too.
// Unavailable is resource_unavailable_try_again, DeadlineExceeded timed_out, Cancelled
// operation_canceled; another InvalidArgument invalid_argument; anything else io_error's code is not
// claimed: it stays a system protocol_error with the status in the detail.
error to_error(const grpc::Status& s);

// Whether a failed call's status says the server was not reached or is not serving (worth another
// endpoint, and another try for a call safe to repeat).
bool is_unavailable(const grpc::Status& s);

// gRPC takes deadlines on the system clock only.
inline std::chrono::system_clock::time_point grpc_deadline(std::chrono::steady_clock::time_point t) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(t - std::chrono::steady_clock::now());
}

// The pause before a stream's next attempt: `first`, doubling up to 1 s, and `first` again after an
// attempt that worked.
class stream_backoff {
 public:
  explicit stream_backoff(std::chrono::milliseconds first) : first_(first), next_(first) {}
  std::chrono::milliseconds after(bool worked) {
    if (worked) next_ = first_;
    const auto d = next_;
    next_ = std::min<std::chrono::milliseconds>(next_ * 2, std::chrono::seconds(1));
    return d;
  }

 private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds next_;
};

// A stream's context: no deadline, and etcd's "hasleader" metadata, so that a member that lost its
// leader ends the stream (Unavailable, "etcdserver: no leader") and the store moves to another member
// instead of waiting on a partitioned one.
std::shared_ptr<grpc::ClientContext> stream_context();

class connection;

// The end of a stream thread's attempt: forgets its context (`ctx`, guarded by `mu` with `closing`), then,
// unless the store is closing, moves `conn` past endpoint `index` and waits `pause` (or until closing).
// Returns false if the store is closing: the thread ends.
bool next_attempt(std::mutex& mu, std::condition_variable& cv, std::shared_ptr<grpc::ClientContext>& ctx,
                  const bool& closing, const connection& conn, std::size_t index, std::chrono::milliseconds pause);

class connection {
 public:
  // Parses the endpoints and makes a channel to each. Fails with invalid_argument naming a bad endpoint.
  static result<std::shared_ptr<connection>> make(const remote_options& o);

  const remote_options& options() const { return opts_; }
  // The channel calls should use now, and its index (to pass back to failed()).
  std::shared_ptr<grpc::Channel> channel(std::size_t* index = nullptr) const;
  // The endpoint at `index` failed: later calls go to the next one (unless another thread moved on).
  void failed(std::size_t index) const;
  // Waits for some endpoint to connect, each in turn, until `deadline`. Returns the last failure.
  result<void> dial(std::chrono::steady_clock::time_point deadline);

  // Runs `rpc(ctx, stub_channel)` -> grpc::Status with the per-call deadline. A failure with Unavailable
  // moves to the next endpoint; if `repeatable`, the call is tried again there after a backoff (25 ms
  // doubling up to 1 s) until the deadline. Never repeats a call that is not repeatable.
  template <class Rpc>
  result<void> call(bool repeatable, Rpc&& rpc) const {
    const auto deadline = std::chrono::steady_clock::now() + opts_.call_timeout;
    auto backoff = opts_.retry_backoff;
    for (;;) {
      std::size_t index = 0;
      auto ch = channel(&index);
      grpc::ClientContext ctx;
      ctx.set_deadline(grpc_deadline(deadline));
      const grpc::Status s = rpc(ctx, ch);
      if (s.ok()) return BOOST_OUTCOME_V2_NAMESPACE::success();
      if (!is_unavailable(s)) return to_error(s);
      failed(index);
      if (!repeatable || std::chrono::steady_clock::now() + backoff >= deadline) return to_error(s);
      std::this_thread::sleep_for(backoff);
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(1));
    }
  }

 private:
  explicit connection(remote_options o) : opts_(std::move(o)) {}
  remote_options opts_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  mutable std::atomic<std::size_t> current_{0};  // the endpoint in use (mod the count)
};

}  // namespace leasekv::remote_detail
