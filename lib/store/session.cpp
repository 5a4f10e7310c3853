#include "leasekv/session.hpp"

#include "store/anchor.hpp"

#include <atomic>

namespace leasekv {

result<std::unique_ptr<session>> session::open(store& s, session_options o) {
  BOOST_OUTCOME_TRY(granted, s.grant(o.ttl, o.id));
  std::unique_ptr<session> out(new session(s.anchor_, granted.id));
  // Each renewal is reported; only the end of the lease matters to the session's owner.
  auto lost_reported = std::make_shared<std::atomic<bool>>(false);
  auto on_lost = std::move(o.on_lost);
  auto ka = s.start_keep_alive(granted.id, o.executor,
                              [lost_reported, on_lost](boost::system::error_code ec, const lease_keep_alive_response&) {
                                if (ec && on_lost && !lost_reported->exchange(true)) on_lost(ec);
                              });
  if (!ka) {
    (void)s.revoke(granted.id);
    return ka.error();
  }
  out->keep_alive_ = std::move(ka).value();
  return out;
}

session::~session() { (void)close(); }

result<put_response> session::put(std::string_view key, std::string_view value) {
  return anchor_->call([&](store& s) { return s.put(key, value, {.lease = lease_}); });
}

result<void> session::close() {
  if (closed_) return BOOST_OUTCOME_V2_NAMESPACE::success();
  closed_ = true;
  if (keep_alive_) keep_alive_->cancel();  // before the revoke: the owner is not told its own close is a loss
  auto r = anchor_->call([&](store& s) { return s.revoke(lease_); });
  // Gone already (revoked elsewhere, or the store with it): nothing is left to revoke.
  if (!r && r.error() != errc::lease_not_found && r.error() != errc::closed) return r.error();
  return BOOST_OUTCOME_V2_NAMESPACE::success();
}

}  // namespace leasekv
