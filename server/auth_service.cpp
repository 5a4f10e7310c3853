// Auth as etcd 3.4 answers it with authentication disabled (etcd's auth/store.go), measured with etcdctl
// against Debian's etcd: users and roles are managed as usual (`user add`, `role grant-permission`,
// `user list` ...), every success carries a full header, and Authenticate fails with "authentication is
// not enabled". They live in memory, without passwords (nothing ever checks one), and do not survive a
// restart.
//
// AuthEnable is where leasekv-server departs: etcd refuses it without a root user holding the root role
// (so do we, with etcd's errors), and otherwise turns authentication on. leasekv-server cannot check
// tokens or permissions, so it refuses that too, with Unimplemented, rather than pretend requests are
// now authenticated.
#include "convert.hpp"
#include "services.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace leasekv::server_detail {

struct auth_service::registry {
  std::mutex mu;
  std::map<std::string, std::set<std::string>> users;             // name -> roles (guarded by mu)
  std::map<std::string, std::vector<authpb::Permission>> roles;   // name -> permissions, by key (guarded by mu)
};

namespace {

const std::string root = "root";

grpc::Status failed(const char* message) { return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, message); }
grpc::Status user_not_found() { return failed("etcdserver: user name not found"); }
grpc::Status role_not_found() { return failed("etcdserver: role name not found"); }

}  // namespace

auth_service::auth_service(std::shared_ptr<context> c) : c_(std::move(c)), r_(std::make_unique<registry>()) {}
auth_service::~auth_service() = default;

template <class Response>
grpc::ServerUnaryReactor* auth_service::ok(grpc::CallbackServerContext* ctx, Response* resp) {
  to_pb(response_header{c_->identity.cluster_id, c_->identity.member_id, c_->store->revision(), c_->raft_term},
        resp->mutable_header());
  return finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* auth_service::Authenticate(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::AuthenticateRequest*,
                                                     etcdserverpb::AuthenticateResponse*) {
  return finish(ctx, failed("etcdserver: authentication is not enabled"));
}

grpc::ServerUnaryReactor* auth_service::AuthEnable(grpc::CallbackServerContext* ctx,
                                                   const etcdserverpb::AuthEnableRequest*,
                                                   etcdserverpb::AuthEnableResponse*) {
  std::lock_guard lock(r_->mu);
  const auto u = r_->users.find(root);
  if (u == r_->users.end()) return finish(ctx, failed("etcdserver: root user does not exist"));
  if (u->second.count(root) == 0) return finish(ctx, failed("etcdserver: root user does not have root role"));
  return finish(ctx, grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                  "leasekv-server: authentication is not supported: users and roles are kept, "
                                  "but no request is ever checked against them"));
}

grpc::ServerUnaryReactor* auth_service::AuthDisable(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::AuthDisableRequest*,
                                                    etcdserverpb::AuthDisableResponse* resp) {
  return ok(ctx, resp);  // already disabled
}

grpc::ServerUnaryReactor* auth_service::UserAdd(grpc::CallbackServerContext* ctx,
                                                const etcdserverpb::AuthUserAddRequest* req,
                                                etcdserverpb::AuthUserAddResponse* resp) {
  if (req->name().empty()) {
    return finish(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: user name is empty"));
  }
  {
    std::lock_guard lock(r_->mu);
    if (!r_->users.emplace(req->name(), std::set<std::string>{}).second) {
      return finish(ctx, failed("etcdserver: user name already exists"));
    }
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::UserGet(grpc::CallbackServerContext* ctx,
                                                const etcdserverpb::AuthUserGetRequest* req,
                                                etcdserverpb::AuthUserGetResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    const auto u = r_->users.find(req->name());
    if (u == r_->users.end()) return finish(ctx, user_not_found());
    for (const auto& role : u->second) resp->add_roles(role);
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::UserList(grpc::CallbackServerContext* ctx,
                                                 const etcdserverpb::AuthUserListRequest*,
                                                 etcdserverpb::AuthUserListResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    for (const auto& [name, roles] : r_->users) resp->add_users(name);
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::UserDelete(grpc::CallbackServerContext* ctx,
                                                   const etcdserverpb::AuthUserDeleteRequest* req,
                                                   etcdserverpb::AuthUserDeleteResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    if (r_->users.erase(req->name()) == 0) return finish(ctx, user_not_found());
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::UserChangePassword(grpc::CallbackServerContext* ctx,
                                                           const etcdserverpb::AuthUserChangePasswordRequest* req,
                                                           etcdserverpb::AuthUserChangePasswordResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    if (r_->users.count(req->name()) == 0) return finish(ctx, user_not_found());
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::UserGrantRole(grpc::CallbackServerContext* ctx,
                                                      const etcdserverpb::AuthUserGrantRoleRequest* req,
                                                      etcdserverpb::AuthUserGrantRoleResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    const auto u = r_->users.find(req->user());
    if (u == r_->users.end()) return finish(ctx, user_not_found());
    // etcd lets the root role be granted before anyone has added it.
    if (req->role() != root && r_->roles.count(req->role()) == 0) return finish(ctx, role_not_found());
    u->second.insert(req->role());  // granting it again changes nothing, and is no error
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::UserRevokeRole(grpc::CallbackServerContext* ctx,
                                                       const etcdserverpb::AuthUserRevokeRoleRequest* req,
                                                       etcdserverpb::AuthUserRevokeRoleResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    const auto u = r_->users.find(req->name());
    if (u == r_->users.end()) return finish(ctx, user_not_found());
    if (u->second.erase(req->role()) == 0) return finish(ctx, failed("etcdserver: role is not granted to the user"));
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::RoleAdd(grpc::CallbackServerContext* ctx,
                                                const etcdserverpb::AuthRoleAddRequest* req,
                                                etcdserverpb::AuthRoleAddResponse* resp) {
  if (req->name().empty()) {
    return finish(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: role name is empty"));
  }
  {
    std::lock_guard lock(r_->mu);
    if (!r_->roles.emplace(req->name(), std::vector<authpb::Permission>{}).second) {
      return finish(ctx, failed("etcdserver: role name already exists"));
    }
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::RoleGet(grpc::CallbackServerContext* ctx,
                                                const etcdserverpb::AuthRoleGetRequest* req,
                                                etcdserverpb::AuthRoleGetResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    const auto r = r_->roles.find(req->role());
    if (r == r_->roles.end()) return finish(ctx, role_not_found());
    for (const auto& p : r->second) *resp->add_perm() = p;
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::RoleList(grpc::CallbackServerContext* ctx,
                                                 const etcdserverpb::AuthRoleListRequest*,
                                                 etcdserverpb::AuthRoleListResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    for (const auto& [name, perms] : r_->roles) resp->add_roles(name);
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::RoleDelete(grpc::CallbackServerContext* ctx,
                                                   const etcdserverpb::AuthRoleDeleteRequest* req,
                                                   etcdserverpb::AuthRoleDeleteResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    if (r_->roles.erase(req->role()) == 0) return finish(ctx, role_not_found());
    for (auto& [name, roles] : r_->users) roles.erase(req->role());  // revoked from every user too
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::RoleGrantPermission(grpc::CallbackServerContext* ctx,
                                                            const etcdserverpb::AuthRoleGrantPermissionRequest* req,
                                                            etcdserverpb::AuthRoleGrantPermissionResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    const auto r = r_->roles.find(req->name());
    if (r == r_->roles.end()) return finish(ctx, role_not_found());
    auto& perms = r->second;
    const auto& p = req->perm();
    // As etcd: the first permission whose key is not below the new key is updated in place if it has
    // the same key and range end; otherwise the new one is added and the list kept in key order.
    auto at = std::find_if(perms.begin(), perms.end(), [&](const authpb::Permission& q) { return q.key() >= p.key(); });
    if (at != perms.end() && at->key() == p.key() && at->range_end() == p.range_end()) {
      at->set_permtype(p.permtype());
    } else {
      authpb::Permission added;
      added.set_permtype(p.permtype());
      added.set_key(p.key());
      added.set_range_end(p.range_end());
      perms.push_back(std::move(added));
      std::stable_sort(perms.begin(), perms.end(),
                       [](const authpb::Permission& a, const authpb::Permission& b) { return a.key() < b.key(); });
    }
  }
  return ok(ctx, resp);
}

grpc::ServerUnaryReactor* auth_service::RoleRevokePermission(grpc::CallbackServerContext* ctx,
                                                             const etcdserverpb::AuthRoleRevokePermissionRequest* req,
                                                             etcdserverpb::AuthRoleRevokePermissionResponse* resp) {
  {
    std::lock_guard lock(r_->mu);
    const auto r = r_->roles.find(req->role());
    if (r == r_->roles.end()) return finish(ctx, role_not_found());
    auto& perms = r->second;
    const auto before = perms.size();
    perms.erase(std::remove_if(perms.begin(), perms.end(),
                               [&](const authpb::Permission& q) {
                                 return q.key() == req->key() && q.range_end() == req->range_end();
                               }),
                perms.end());
    if (perms.size() == before) return finish(ctx, failed("etcdserver: permission is not granted to the role"));
  }
  return ok(ctx, resp);
}

}  // namespace leasekv::server_detail
