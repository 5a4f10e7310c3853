// Helpers shared by the commands (kept out of main.cpp so tests and fuzzers can link the commands).
#include "printer.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string_view>

namespace leasekvctl {
namespace {

std::atomic<bool> stop_requested{false};

extern "C" void on_signal(int) { stop_requested.store(true); }

// The real clock, N ms ahead. For tests across processes: with LEASEKV_CLOCK_SKEW_MS set, an invocation
// sees the time N ms later — leases due by then are expired when it opens the store — so a test sees an
// expiry without waiting for it.
class skewed_clock final : public leasekv::clock {
 public:
  explicit skewed_clock(std::chrono::milliseconds skew) : skew_(skew) {}
  time_point now() const noexcept override { return base_->now() + skew_; }  // |skew| is bounded below
  std::chrono::system_clock::time_point wall_now() const noexcept override { return base_->wall_now() + skew_; }

 private:
  std::shared_ptr<leasekv::clock> base_ = leasekv::clock::system();
  std::chrono::milliseconds skew_;
};

std::shared_ptr<leasekv::clock> clock_from_env() {
  const char* v = std::getenv("LEASEKV_CLOCK_SKEW_MS");
  if (v == nullptr || *v == '\0') return nullptr;
  std::int64_t ms = 0;
  try {
    ms = parse_int(v, 10);
  } catch (const std::exception&) {
    throw cli_error(exit_bad_args, std::string("bad LEASEKV_CLOCK_SKEW_MS ") + v + " (expecting milliseconds)");
  }
  // A century either way: far beyond any TTL a test needs, and the clock's nanoseconds cannot overflow.
  constexpr std::int64_t limit = 100LL * 366 * 24 * 3600 * 1000;
  if (ms > limit || ms < -limit) {
    throw cli_error(exit_bad_args, std::string("bad LEASEKV_CLOCK_SKEW_MS ") + v + " (at most " + std::to_string(limit) +
                                       " ms either way)");
  }
  return std::make_shared<skewed_clock>(std::chrono::milliseconds(ms));
}

}  // namespace

bool interrupted() { return stop_requested.load(); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string error_text(const boost::system::error_code& ec) {
  std::string m = ec.message();
  if (m.rfind("mvcc: ", 0) == 0) m = "etcdserver: " + m;
  return m;
}

std::unique_ptr<leasekv::store> open_store(const context& c, access how) {
  leasekv::options o;
  o.data_dir = c.data_dir;
  o.min_lease_ttl = std::chrono::seconds(2);  // etcd's: short TTLs are raised to 2 s
  o.clock = clock_from_env();
  o.lock_timeout = how == access::write ? std::chrono::milliseconds(5000) : std::chrono::milliseconds(0);
  // A reader opens as a writer when it can (its open revokes the leases that are due), and otherwise
  // reads beside the writer that holds the lock, or from a directory it may not write (a read-only file
  // system, no permission). A directory that does not exist is the empty store, and a read creates
  // nothing: only a write makes a data directory.
  auto cannot_write = [](const boost::system::error_code& ec) {
    return ec == leasekv::errc::locked || ec == boost::system::errc::read_only_file_system ||
           ec == boost::system::errc::permission_denied || ec == boost::system::errc::operation_not_permitted;
  };
  if (how == access::read && !leasekv::env::posix()->exists(c.data_dir)) o.read_only = true;
  auto s = leasekv::store::open(o);
  if (!s && how == access::read && !o.read_only && cannot_write(s.error())) {
    o.read_only = true;
    s = leasekv::store::open(o);
  }
  if (!s) {
    const std::string& detail = s.error().detail();
    throw cli_error(exit_error, error_text(s.error()) + (detail.empty() ? "" : " (" + detail + ")"));
  }
  return std::move(s).value();
}

}  // namespace leasekvctl
