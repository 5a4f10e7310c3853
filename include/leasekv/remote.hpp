// leasekv — the remote backend: the same leasekv::store, on an etcd v3 server (etcd 3.4, or
// leasekv-server) over gRPC. Code written against the embedded store runs unchanged on it.
//
//   leasekv::remote_options o;
//   o.endpoints = {"http://127.0.0.1:2379"};
//   auto store = leasekv::connect(o).value();                 // a std::unique_ptr<leasekv::store>
//   store->put("/tmp/pid", "2187").value();
//   auto w = store->watch(leasekv::prefix("/tmp/"), {}, ioc.get_executor(), handler).value();
//
// What differs from the embedded store, and why:
// - Errors: the same errc codes, mapped from etcd's gRPC statuses and messages; the server's own message
//   is the error's detail. A server that cannot be reached gives a system error:
//   boost::system::errc::resource_unavailable_try_again (gRPC Unavailable) or timed_out (the per-call
//   timeout passed), with the gRPC message as detail.
// - Leases: etcd's TTLs are whole seconds. grant() rounds a TTL up to whole seconds; time_to_live()'s
//   `remaining` is its whole seconds (etcd says no more).
// - compacted_revision() is found by reading (etcd's API has no call for it): a few Range calls.
// - save_snapshot() writes what the server's Maintenance.Snapshot sends (etcd's bbolt file, as
//   `etcdctl snapshot save` writes), not leasekv's own snapshot format.
// - revision(), compacted_revision() and statistics() cannot fail in the interface: when the server cannot
//   be reached they report 0.
//
// Robustness (clientv3's, see docs/remote.md): one watch stream carries every watcher of the store and is
// re-established after a failure, each watcher resuming from the revision after the last one it received
// (no gap, no duplicate; a resume point compacted meanwhile cancels it with compact_revision set); one
// keep-alive stream renews every lease, re-established after a failure, and a lease is reported lost
// (lease_not_found) only when the server says so or its TTL ran out since its last renewal. Reads,
// time-to-live, lease lists and keep-alives are retried on Unavailable with backoff within their timeout,
// trying the next endpoint; writes are never retried (the write may have applied). close() and the
// destructor return promptly whatever the server does (a stopped process, a dropped network).
//
// Thread safety: as every store, safe to use from any number of threads at once.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/store.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace leasekv {

struct remote_options {
  // Where the server is: "http://host:port", "https://host:port" (TLS), "unix:///path" or
  // "unix:path". Several endpoints name the members of one cluster: calls go to one at a time and
  // move to the next when it cannot be reached.
  std::vector<std::string> endpoints;

  // TLS, for https:// endpoints (PEM text, not file names). An empty CA trusts the system's roots; a
  // client certificate is presented when both cert and key are given.
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;

  // connect() waits this long for the first endpoint to answer (etcdctl's --dial-timeout).
  std::chrono::milliseconds dial_timeout{2000};
  // Every call's deadline, retries included (etcdctl's --command-timeout); a watch's creation too.
  std::chrono::milliseconds call_timeout{5000};
  // First wait between retries of a call that is safe to repeat; it doubles up to 1 s.
  std::chrono::milliseconds retry_backoff{25};
};

// Connects to the server at o.endpoints. Fails with invalid_argument (no endpoint, an endpoint of an
// unknown scheme, TLS material that does not parse), or the system error of the last endpoint tried if
// none answered within dial_timeout.
result<std::unique_ptr<store>> connect(remote_options o);

}  // namespace leasekv
