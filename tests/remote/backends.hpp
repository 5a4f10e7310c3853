// What the remote backend's tests connect to: leasekv-server in this process (on a manual clock), and a
// real etcd 3.4 process on loopback (ports the OS picked), stopped by the test.
#pragma once

#include "conformance/model_runs.hpp"

#include <leasekv/leasekv.hpp>
#include <leasekv/remote.hpp>
#include <leasekv/server.hpp>

#include <sys/types.h>

#include <memory>
#include <string>

namespace leasekv::testing {

// A single-member etcd on loopback, its data in `dir` (a fresh temporary one if empty). The destructor
// kills it (SIGKILL after SIGCONT, so a stopped one goes too) and removes a temporary dir.
class etcd_process {
 public:
  static std::unique_ptr<etcd_process> start(std::string dir = {});
  ~etcd_process();
  etcd_process(const etcd_process&) = delete;
  etcd_process& operator=(const etcd_process&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  const std::string& dir() const { return dir_; }
  void signal(int sig) const;
  // Stops it (SIGTERM, waits) and starts it again on the same ports and data.
  void restart();

 private:
  etcd_process() = default;
  void spawn();
  void stop();
  pid_t pid_ = -1;
  int client_port_ = 0;
  int peer_port_ = 0;
  std::string dir_;
  bool own_dir_ = false;
};

// A port the OS picked as free just now.
int free_port();

// leasekv-server in this process serving a store of `o` (on a manual clock if o.clock is unset) at
// `listen` ("127.0.0.1:0" or "unix:/path").
struct served_store {
  std::shared_ptr<manual_clock> clk;
  std::shared_ptr<store> backend;  // the store the server serves
  std::unique_ptr<server> srv;
  std::string endpoint;  // for remote_options: http://host:port or unix:/path
};
served_store serve(options o, const std::string& listen = "127.0.0.1:0");

// The remote backend connected to `endpoint`.
std::unique_ptr<store> connect_to(const std::string& endpoint, std::chrono::milliseconds call_timeout = std::chrono::seconds(5));

// Openers for the model runs.
opened_store open_on_leasekv_server(options o);
opened_store open_on_etcd(options o);

}  // namespace leasekv::testing
