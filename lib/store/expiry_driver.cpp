#include "store/expiry_driver.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <limits>
#include <mutex>
#include <thread>

namespace leasekv::detail {

namespace asio = boost::asio;

struct expiry_driver::state : std::enable_shared_from_this<state> {
  state(asio::any_io_executor ex, std::function<void(clock::time_point)> p,
        std::function<std::optional<clock::time_point>()> n, const clock& c)
      : strand(asio::make_strand(ex)), timer(strand), process(std::move(p)), next(std::move(n)), clk(c) {}

  static constexpr std::int64_t idle = std::numeric_limits<std::int64_t>::max();

  // Runs on the strand: arm the timer at the next event.
  void arm() {
    {
      std::lock_guard lock(mu);
      if (stopped) return;
    }
    // Mark idle first: a poke() racing with the computation below then posts another arm().
    armed_ns.store(idle, std::memory_order_release);
    auto at = next();
    if (!at) {
      timer.cancel();
      return;
    }
    // An event still due after `process` ran for its time could not be handled (a failing write, say):
    // try again a little later rather than at once, so a stuck event never spins a core.
    if (processed && *at <= *processed) *at = *processed + retry_after;
    std::int64_t expected = idle;
    armed_ns.compare_exchange_strong(expected, at->time_since_epoch().count(), std::memory_order_acq_rel);
    timer.expires_at(*at);
    timer.async_wait(asio::bind_executor(strand, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;  // re-armed or stopped
      {
        std::lock_guard lock(self->mu);
        if (self->stopped) return;
        const clock::time_point now = self->clk.now();
        self->process(now);
        self->processed = now;
      }
      self->arm();
    }));
  }

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  std::function<void(clock::time_point)> process;
  std::function<std::optional<clock::time_point>()> next;
  const clock& clk;
  static constexpr std::chrono::milliseconds retry_after{10};
  std::optional<clock::time_point> processed;  // when `process` last ran; on the strand only
  std::atomic<std::int64_t> armed_ns{idle};
  std::mutex mu;  // held while `process` runs; guards `stopped`
  bool stopped = false;
  std::mutex post_mu;  // a leaf lock: guards posting to the strand against stop()
  bool posting_stopped = false;
};

// The thread a driver owns when the user gives no executor. It starts with the first event (a lease, a
// progress timer): a store that never has one never starts a thread, which keeps opening it cheap.
struct expiry_driver::owned_context {
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;  // guarded by state::post_mu until stop()

  void start() {
    if (!thread.joinable()) thread = std::thread([this] { ioc.run(); });
  }
};

expiry_driver::expiry_driver(asio::any_io_executor executor, std::function<void(clock::time_point)> process,
                             std::function<std::optional<clock::time_point>()> next, const clock& clk) {
  if (!executor) {
    owned_ = std::make_shared<owned_context>();
    executor = owned_->ioc.get_executor();
  }
  state_ = std::make_shared<state>(executor, std::move(process), std::move(next), clk);
  asio::post(state_->strand, [s = state_] { s->arm(); });
  if (owned_ && state_->next()) {  // recovered leases: due before anybody pokes
    std::lock_guard lock(state_->post_mu);
    owned_->start();
  }
}

expiry_driver::~expiry_driver() { stop(); }

void expiry_driver::poke(clock::time_point at) {
  const std::int64_t ns = at.time_since_epoch().count();
  std::int64_t cur = state_->armed_ns.load(std::memory_order_acquire);
  while (ns < cur) {
    if (state_->armed_ns.compare_exchange_weak(cur, ns, std::memory_order_acq_rel)) {
      std::lock_guard lock(state_->post_mu);
      if (!state_->posting_stopped) {
        asio::post(state_->strand, [s = state_] { s->arm(); });
        if (owned_) owned_->start();
      }
      return;
    }
  }
}

void expiry_driver::stop() {
  {
    std::lock_guard lock(state_->mu);  // waits for a `process` in progress
    if (state_->stopped) return;
    state_->stopped = true;
  }
  {
    std::lock_guard lock(state_->post_mu);
    state_->posting_stopped = true;
  }
  asio::post(state_->strand, [s = state_] { s->timer.cancel(); });
  if (owned_) {
    // Without the work guard, run() returns once the cancelled wait and the posts above have run, so
    // no handler (and no reference to the state) is left in the context when it is destroyed. A thread
    // that never started: run what is queued (nothing but no-ops now) here.
    owned_->work.reset();
    if (owned_->thread.joinable()) {
      owned_->thread.join();
    } else {
      owned_->ioc.run();
    }
  }
}

}  // namespace leasekv::detail
