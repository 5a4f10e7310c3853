// leasekv::remote — one LeaseKeepAlive stream per store renewing every lease of its keep-alive streams
// (clientv3's lessor).
//
// A thread of the store sends each lease's renewal every third of its TTL and another reads the replies,
// each posted to the lease's handlers. When the stream breaks, or a renewal goes unanswered for the call
// timeout, the stream is cancelled and opened again (the next endpoint, after a backoff) and renewals go
// on. A lease is reported lost (lease_not_found, once) only when the server answers that it is gone
// (TTL 0), or when its TTL ran out since its last acknowledged renewal: until then a broken stream is
// only retried.
//
// Thread safety: start(), the handles' cancel() and close() may be called from any thread. mu_ guards the
// leases; a handle's handler mutex is held only while its handler runs, and never taken under mu_ (the
// renewal thread reads the handle's atomic cancelled flag), so a handler may call back into the store.
#pragma once

#include "connection.hpp"

#include "leasekv/store.hpp"

#include "rpc.grpc.pb.h"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace leasekv::remote_detail {

struct keep_alive_entry;

class keep_alive_streams : public std::enable_shared_from_this<keep_alive_streams> {
 public:
  explicit keep_alive_streams(std::shared_ptr<connection> c) : conn_(std::move(c)) {}
  ~keep_alive_streams();

  // Starts renewing lease `id`, whose renewal the caller just received (`first`): posts `first` to the
  // handler, then each later renewal. Fails with closed after close().
  result<std::unique_ptr<keep_alive>> start(lease_id id, const lease_keep_alive_response& first,
                                            boost::asio::any_io_executor ex, keep_alive_handler handler);

  // Stops every stream: no handler runs after it returns. Returns promptly. Idempotent.
  void close();

 private:
  using stream_type = grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>;
  struct lease_state {
    std::chrono::seconds ttl{0};
    std::chrono::steady_clock::time_point next_renewal;
    std::chrono::steady_clock::time_point deadline;       // last acknowledged renewal + TTL
    std::chrono::steady_clock::time_point awaiting_since;  // a renewal sent and not answered; epoch if none
    std::vector<std::weak_ptr<keep_alive_entry>> entries;
  };
  void run();
  void on_response(const etcdserverpb::LeaseKeepAliveResponse& resp);
  // Posts lease_not_found to every entry of `id` and forgets it. REQUIRES: mu_ held.
  void lost(lease_id id, const response_header& h);

  std::shared_ptr<connection> conn_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closing_ = false;
  bool broken_ = false;  // the current stream's read side ended
  std::map<lease_id, lease_state> leases_;
  std::shared_ptr<grpc::ClientContext> ctx_;
};

}  // namespace leasekv::remote_detail
