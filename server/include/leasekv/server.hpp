// leasekv::server — serves a store over etcd v3's gRPC API, so etcdctl, Go's clientv3 and other etcd
// clients use it as they use etcd 3.4.
//
//   auto store = leasekv::store::open({.min_lease_ttl = std::chrono::seconds(2)}).value();
//   leasekv::server_options o;
//   o.listen = {"127.0.0.1:0"};
//   auto srv = leasekv::server::start(std::shared_ptr<leasekv::store>(std::move(store)), o).value();
//   // srv->addresses()[0] == "127.0.0.1:<the port the OS picked>"
//   srv->shutdown();
//
// The server is a translation: each RPC is checked, handed to the store, and answered with the store's
// response and header, as etcd's v3rpc handlers do; errors are mapped to etcd's gRPC codes and messages
// (docs/server.md). It keeps no state of its own beyond its streams.
//
// Thread safety: every call may be made from any thread; shutdown is idempotent. The destructor shuts down.
#pragma once

#include "leasekv/error.hpp"
#include "leasekv/store.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace leasekv {

// How etcd names a member and its cluster: the member id is the first 8 bytes (big-endian) of the SHA-1
// of its peer URLs (sorted, concatenated) followed by the cluster token; the cluster id is the same of
// the member ids (sorted, each 8 bytes big-endian). With etcd's defaults (peer URL
// http://localhost:2380, token etcd-cluster): member 0x8e9e05c52164694d, cluster 14841639068965178418.
struct member_identity {
  std::uint64_t member_id = 0;
  std::uint64_t cluster_id = 0;
};
member_identity derive_identity(std::vector<std::string> peer_urls, std::string_view cluster_token);

struct server_options {
  // gRPC listen addresses: "host:port" (port 0: the OS picks one) or "unix:/path". At least one.
  std::vector<std::string> listen;
  // This member as MemberList shows it.
  std::string name = "default";
  std::vector<std::string> peer_urls = {"http://localhost:2380"};
  std::vector<std::string> client_urls;  // advertised client URLs
  // The largest message received, in bytes: etcd's --max-request-bytes plus 512 KiB.
  int max_receive_message_bytes = 1572864 + 512 * 1024;
  // The most streams one client connection may have open at once (etcd's --max-concurrent-streams);
  // 0 leaves gRPC's default, unbounded, as etcd's default of 2^32-1 is.
  std::uint32_t max_concurrent_streams = 0;

  // TLS (etcd's --cert-file, --key-file, --trusted-ca-file, --client-cert-auth): the addresses of
  // tls_listen (same forms as listen) are served with tls; addresses() lists them after listen's.
  struct tls_options {
    std::string cert_chain_pem;  // the server's certificate (and its chain), PEM
    std::string private_key_pem;
    // With client_cert_auth, a client must present a certificate signed by one of these (PEM); without,
    // no client certificate is asked for.
    std::string client_ca_pem;
    bool client_cert_auth = false;
  };
  std::vector<std::string> tls_listen;
  tls_options tls;

  // Also serve plaintext connections accepted elsewhere and handed over with serve_connection(): etcd
  // answers HTTP/1 (/health, /metrics) and gRPC on one client port, so leasekv-server accepts there
  // itself, answers HTTP/1, and hands HTTP/2 connections to the server.
  bool handed_connections = false;

  // Writes (Put, DeleteRange, Txn, Compact, LeaseGrant, LeaseRevoke) run on a pool of this many threads
  // of the server's own ("leasekv-write"), each call answered from there once the store has returned,
  // so a write waiting for its sync holds no gRPC thread (gRPC runs its callbacks on a few threads, about
  // one per core). With sync_policy::group_commit, writes waiting together share one fdatasync: the pool
  // bounds how many can. 0 (the default): writes run on gRPC's threads, best for a store whose writes
  // never wait (in memory, or sync_policy::none). An answer is never sent before the store has returned.
  std::size_t write_threads = 0;
};

class server {
 public:
  // Starts serving `store` on every address of o.listen and o.tls_listen. The member and cluster ids
  // and the raft term reported are the store's (those its response headers carry). Fails with
  // invalid_argument (the detail says why) if there is no address (nor handed_connections), tls_listen
  // has no certificate, or an address cannot be bound.
  static result<std::unique_ptr<server>> start(std::shared_ptr<store> s, server_options o);

  virtual ~server() = default;
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // The bound addresses, in o.listen's order, with the ports the OS picked: "127.0.0.1:41235",
  // "unix:/path".
  virtual std::vector<std::string> addresses() const = 0;
  virtual member_identity identity() const = 0;
  // etcd's /metrics in Prometheus' text format: gRPC call counts per method and status code
  // (grpc_server_started_total, grpc_server_handled_total, grpc_server_msg_*_total) and etcd_* gauges
  // of the store (size, keys, revisions) and of this member (leader, version).
  virtual std::string metrics() const = 0;
  // The alarms raised on this member by name, as etcd's Alarm call lists them ("NOSPACE"); /health is
  // unhealthy while one is raised.
  virtual std::vector<std::string> active_alarms() const = 0;
  // Serves the accepted plaintext connection `fd`, whose first bytes the caller already read from it
  // (`already_read`: an HTTP/2 client's preface, or part of it). The server owns fd from here on; it is
  // closed at once unless the server was started with handed_connections and is not shut down.
  // `listener_fd` is the listening socket it was accepted on.
  virtual void serve_connection(int listener_fd, int fd, std::string_view already_read) = 0;
  // Ends every RPC (streams end with Unavailable), stops listening, and waits for handlers to return.
  // The store stays open.
  virtual void shutdown() = 0;
  // Blocks until shutdown() has been called and has finished.
  virtual void wait() = 0;

  // What the server's streams hold now, for tests and monitoring (docs/server.md, "Slow watch clients").
  struct stats {
    std::size_t watch_streams = 0;       // open Watch RPCs
    std::size_t watchers = 0;            // watchers on them, paused ones included
    std::size_t paused_watchers = 0;     // watchers of streams paused because their client fell behind
    std::size_t store_watches = 0;       // store watches feeding the watchers (watchers may share one)
    std::size_t keep_alive_streams = 0;  // open LeaseKeepAlive RPCs
    std::uint64_t queued_watch_bytes = 0;      // watch responses queued, not yet taken by the client
    std::uint64_t max_queued_watch_bytes = 0;  // the most one watch stream ever had queued
    std::uint64_t watch_pauses = 0;            // how often a watch stream was paused
  };
  virtual stats statistics() const = 0;

 protected:
  server() = default;
};

}  // namespace leasekv
