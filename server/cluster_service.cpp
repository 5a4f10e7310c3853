// Cluster: this one member, and membership changes answered as a single-member etcd 3.4 (with its
// default --strict-reconfig-check) answers them, measured with etcdctl against Debian's etcd:
//
//   MemberRemove  of this member: Unknown "etcdserver: re-configuration failed due to not enough
//                 started members" (removing the last voter would lose quorum); of another id:
//                 NotFound "etcdserver: member not found".
//   MemberUpdate  of this member: done (MemberList shows the new peer URLs, as etcd's does; the ids
//                 stay, and nothing listens on peer URLs here); of another id: member not found.
//   MemberPromote of this member: FailedPrecondition "etcdserver: can only promote a learner member";
//                 of another id: member not found.
//   MemberAdd     with URLs etcd cannot parse: InvalidArgument "etcdserver: given member URLs are
//                 invalid"; with a peer URL this member has: FailedPrecondition "etcdserver: Peer URLs
//                 already exists". Any other add etcd would accept, making a cluster of two that waits
//                 for the new member to start. A leasekv-server has no raft to replicate to, so it
//                 refuses such an add with Unimplemented rather than report a member that can never join.
#include "services.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace leasekv::server_detail {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n\v\f\r");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\n\v\f\r") - b + 1);
}

// etcd's types.NewURLs check for one peer URL: scheme http, https, unix or unixs, a "host:port"
// authority, no path. Returns the URL as etcd then writes it (scheme in lower case), or nothing.
std::optional<std::string> parse_peer_url(const std::string& raw) {
  const std::string in = trim(raw);
  if (std::any_of(in.begin(), in.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) return std::nullopt;
  const auto sep = in.find("://");
  if (sep == std::string::npos) return std::nullopt;
  std::string scheme = in.substr(0, sep);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "http" && scheme != "https" && scheme != "unix" && scheme != "unixs") return std::nullopt;
  const std::string rest = in.substr(sep + 3);
  const auto end = rest.find_first_of("/?#");
  if (end != std::string::npos && rest[end] == '/') return std::nullopt;  // a path
  std::string host = rest.substr(0, end);
  if (const auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  // Go's net.SplitHostPort: "[v6]:port", or exactly one colon.
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos || close + 1 >= host.size() || host[close + 1] != ':') return std::nullopt;
    if (host.find_first_of("[]", close + 1) != std::string::npos) return std::nullopt;
  } else if (std::count(host.begin(), host.end(), ':') != 1 || host.find_first_of("[]") != std::string::npos) {
    return std::nullopt;
  }
  return scheme + "://" + rest;
}

grpc::Status member_not_found() { return grpc::Status(grpc::StatusCode::NOT_FOUND, "etcdserver: member not found"); }

}  // namespace

template <class Response>
void cluster_service::fill(Response* resp) {
  // etcd's cluster handlers fill the header without a revision.
  auto* h = resp->mutable_header();
  h->set_cluster_id(c_->identity.cluster_id);
  h->set_member_id(c_->identity.member_id);
  h->set_raft_term(c_->raft_term);
  auto* m = resp->add_members();
  m->set_id(c_->identity.member_id);
  m->set_name(c_->options.name);
  {
    std::lock_guard lock(mu_);
    for (const auto& u : peer_urls_) m->add_peerurls(u);
  }
  for (const auto& u : c_->options.client_urls) m->add_clienturls(u);
}

grpc::ServerUnaryReactor* cluster_service::MemberList(grpc::CallbackServerContext* ctx,
                                                      const etcdserverpb::MemberListRequest*,
                                                      etcdserverpb::MemberListResponse* resp) {
  fill(resp);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* cluster_service::MemberAdd(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::MemberAddRequest* req,
                                                     etcdserverpb::MemberAddResponse*) {
  std::vector<std::string> urls;
  for (const auto& raw : req->peerurls()) {
    auto u = parse_peer_url(raw);
    if (!u) return finish(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: given member URLs are invalid"));
    urls.push_back(*u);
  }
  if (urls.empty()) return finish(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: given member URLs are invalid"));
  {
    std::lock_guard lock(mu_);
    for (const auto& u : urls) {
      if (std::find(peer_urls_.begin(), peer_urls_.end(), u) != peer_urls_.end()) {
        return finish(ctx, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: Peer URLs already exists"));
      }
    }
  }
  return finish(ctx, grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                  "leasekv-server: cannot add a member: leasekv-server is a single member "
                                  "without raft replication, so no other member can join it"));
}

grpc::ServerUnaryReactor* cluster_service::MemberRemove(grpc::CallbackServerContext* ctx,
                                                        const etcdserverpb::MemberRemoveRequest* req,
                                                        etcdserverpb::MemberRemoveResponse*) {
  if (req->id() != c_->identity.member_id) return finish(ctx, member_not_found());
  // etcd maps this error to a client-side status, so it leaves the server as Unknown.
  return finish(ctx, grpc::Status(grpc::StatusCode::UNKNOWN,
                                  "etcdserver: re-configuration failed due to not enough started members"));
}

grpc::ServerUnaryReactor* cluster_service::MemberUpdate(grpc::CallbackServerContext* ctx,
                                                        const etcdserverpb::MemberUpdateRequest* req,
                                                        etcdserverpb::MemberUpdateResponse* resp) {
  if (req->id() != c_->identity.member_id) return finish(ctx, member_not_found());
  {
    // etcd keeps the URLs as given (it checks them only against other members', and there are none).
    std::lock_guard lock(mu_);
    peer_urls_.assign(req->peerurls().begin(), req->peerurls().end());
  }
  fill(resp);
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* cluster_service::MemberPromote(grpc::CallbackServerContext* ctx,
                                                         const etcdserverpb::MemberPromoteRequest* req,
                                                         etcdserverpb::MemberPromoteResponse*) {
  if (req->id() != c_->identity.member_id) return finish(ctx, member_not_found());
  return finish(ctx, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: can only promote a learner member"));
}

}  // namespace leasekv::server_detail
