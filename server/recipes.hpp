// leasekv::server — what the Lock and Election services share: clientv3/concurrency's recipes (a session
// on a lease, keys named by that lease under a prefix, waiting for older keys to go), run inside the server
// over the store, as etcd's v3lock and v3election servers run them over their in-process client.
//
// Their blocking steps hold no thread: each waits on a store watch whose handler runs on a strand of the
// watch executor, and everything a waiting call does after its start runs on that strand.
#pragma once

#include "services.hpp"

#include <boost/asio/strand.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace leasekv::server_detail {

using strand = boost::asio::strand<boost::asio::any_io_executor>;

// etcd's status for any failure of these services: code Unknown with the error's etcd text (its v3lock and
// v3election servers return their client's errors unconverted).
grpc::Status recipe_status(const error& e);
grpc::Status recipe_status(const std::string& message);

// The lease a session of these services runs on: `requested`, or for 0 a fresh lease of 60 s (the
// default session TTL) that nothing renews, as etcd grants. Fails as store::grant fails.
result<lease_id> session_lease(context& c, lease_id requested);

// The key a session holds under `prefix` (which ends in "/"): the prefix and the lease id in lowercase
// hex, as Go's %x writes it ("mylock/694d7b5a6ac21504").
std::string session_key(std::string_view prefix, lease_id lease);

// The range options of "the first created key under the prefix" (create revision ascending, limit 1)
// and of "the last created key at or before `max_create_revision`".
range_options first_created();
range_options last_created_up_to(std::int64_t max_create_revision);

// `h` with this member's ids where the store left them out (watch responses carry only revisions).
response_header with_ids(const context& c, response_header h);

// clientv3's waitDeletes without blocking a thread: completes once no key under `prefix` has a create
// revision <= max_create_revision. It finds the newest such key, watches it from the range's revision
// until a delete, and looks again; so each waiter waits only for the key just older than its own. It
// completes with the header of the range that found none, or with the error of a range, or compacted
// if a watch's history was compacted away.
//
// Thread safety: construct anywhere; start(), cancel() and the destructor run on `s`, and so does the
// handler (inside start() too, when nothing is left to wait for).
class wait_deletes {
 public:
  using handler = std::function<void(result<response_header>)>;
  wait_deletes(std::shared_ptr<context> c, strand s, std::string prefix, std::int64_t max_create_revision,
               handler h);
  ~wait_deletes() { cancel(); }
  wait_deletes(const wait_deletes&) = delete;
  wait_deletes& operator=(const wait_deletes&) = delete;

  void start() { look(); }
  // Stops waiting: the handler is not called after this returns. Idempotent.
  void cancel();

 private:
  void look();
  void on_watch(const watch_response& r);
  void complete(result<response_header> r);

  std::shared_ptr<context> c_;
  strand strand_;
  std::string prefix_;
  std::int64_t max_create_revision_;
  handler handler_;
  bool done_ = false;
  std::unique_ptr<watcher> watcher_;
  // A cancelled watcher whose handler may be on the stack: destroyed at the next change of watcher.
  std::unique_ptr<watcher> retired_;
};

}  // namespace leasekv::server_detail
