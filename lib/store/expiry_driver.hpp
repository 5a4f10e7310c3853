// Drives lease expiry (and keep-alive renewals) with the real clock: a Boost.Asio steady_timer armed at
// the store's next event, on the user's executor or on a thread the driver owns when none is given.
//
// With a manual clock there is no driver: manual_clock::advance() calls the store directly.
//
// An event that `process` leaves due (it could not be handled) is retried 10 ms later, not at once.
//
// Thread safety: poke() and stop() may be called from any thread. After stop() returns, `process` is
// never called again.
#pragma once

#include "leasekv/clock.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <optional>

namespace leasekv::detail {

class expiry_driver {
 public:
  // `process(now)` handles everything due by `now`; `next()` tells when the next event is due.
  expiry_driver(boost::asio::any_io_executor executor, std::function<void(clock::time_point)> process,
                std::function<std::optional<clock::time_point>()> next, const clock& clk);
  ~expiry_driver();
  expiry_driver(const expiry_driver&) = delete;
  expiry_driver& operator=(const expiry_driver&) = delete;

  // An event may now be due at `at`: make sure the timer fires by then.
  void poke(clock::time_point at);
  // Stops the timer (and joins the owned thread). Idempotent.
  void stop();

 private:
  struct owned_context;
  struct state;
  std::shared_ptr<owned_context> owned_;  // declared first: destroyed after the state's timer
  std::shared_ptr<state> state_;
};

}  // namespace leasekv::detail
