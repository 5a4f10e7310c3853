// leasekv::server's Maintenance, Cluster, Auth and Health services in this process, through grpc++
// stubs: alarms and the writes they refuse, the snapshot stream etcdctl accepts, membership changes
// refused as a single etcd member refuses them, auth as etcd with authentication disabled.
#include <leasekv/server.hpp>
#include <leasekv/store.hpp>

#include "health.grpc.pb.h"
#include "rpc.grpc.pb.h"

#include <catch2/catch.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <openssl/sha.h>

#include <chrono>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

constexpr std::uint64_t member = 0x8e9e05c52164694dull;  // etcd's default member id

struct fixture {
  std::shared_ptr<leasekv::manual_clock> clock = std::make_shared<leasekv::manual_clock>();
  std::shared_ptr<leasekv::store> store;
  std::unique_ptr<leasekv::server> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  std::unique_ptr<etcdserverpb::Cluster::Stub> cluster;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;

  explicit fixture(std::uint64_t quota_bytes = 0) {
    const auto id = leasekv::derive_identity({"http://localhost:2380"}, "etcd-cluster");
    store = leasekv::store::open({.quota_bytes = quota_bytes, .cluster_id = id.cluster_id, .member_id = id.member_id,
                                  .clock = clock, .min_lease_ttl = std::chrono::seconds(2)})
                .value();
    server = leasekv::server::start(store, {.listen = {"127.0.0.1:0"}}).value();
    channel = grpc::CreateChannel(server->addresses().at(0), grpc::InsecureChannelCredentials());
    kv = etcdserverpb::KV::NewStub(channel);
    lease = etcdserverpb::Lease::NewStub(channel);
    maintenance = etcdserverpb::Maintenance::NewStub(channel);
    cluster = etcdserverpb::Cluster::NewStub(channel);
    auth = etcdserverpb::Auth::NewStub(channel);
  }

  grpc::Status put(const std::string& key, const std::string& value) {
    grpc::ClientContext c;
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    etcdserverpb::PutResponse resp;
    return kv->Put(&c, req, &resp);
  }

  etcdserverpb::AlarmResponse alarm(etcdserverpb::AlarmRequest::AlarmAction action, etcdserverpb::AlarmType type,
                                    std::uint64_t id = member) {
    grpc::ClientContext c;
    etcdserverpb::AlarmRequest req;
    req.set_action(action);
    req.set_memberid(id);
    req.set_alarm(type);
    etcdserverpb::AlarmResponse resp;
    REQUIRE(maintenance->Alarm(&c, req, &resp).ok());
    return resp;
  }

  std::vector<std::string> status_errors() {
    grpc::ClientContext c;
    etcdserverpb::StatusResponse resp;
    REQUIRE(maintenance->Status(&c, {}, &resp).ok());
    return {resp.errors().begin(), resp.errors().end()};
  }
};

// A txn whose success branch is `op`.
etcdserverpb::TxnRequest txn_of(etcdserverpb::RequestOp op) {
  etcdserverpb::TxnRequest t;
  *t.add_success() = std::move(op);
  return t;
}

etcdserverpb::RequestOp put_op(const std::string& key) {
  etcdserverpb::RequestOp op;
  op.mutable_request_put()->set_key(key);
  op.mutable_request_put()->set_value("v");
  return op;
}

etcdserverpb::RequestOp delete_op(const std::string& key) {
  etcdserverpb::RequestOp op;
  op.mutable_request_delete_range()->set_key(key);
  return op;
}

etcdserverpb::RequestOp range_op(const std::string& key) {
  etcdserverpb::RequestOp op;
  op.mutable_request_range()->set_key(key);
  return op;
}

grpc::Status run_txn(fixture& f, const etcdserverpb::TxnRequest& t) {
  grpc::ClientContext c;
  etcdserverpb::TxnResponse resp;
  return f.kv->Txn(&c, t, &resp);
}

void check_status(const grpc::Status& s, grpc::StatusCode code, const std::string& message) {
  CHECK(s.error_code() == code);
  CHECK(s.error_message() == message);
}

const std::string no_space = "etcdserver: mvcc: database space exceeded";

}  // namespace

TEST_CASE("maintenance: a put over the quota raises NOSPACE, which refuses data-adding writes until it is disarmed", "[server]") {
  fixture f(4096);
  REQUIRE(f.put("a", "b").ok());
  CHECK(f.alarm(etcdserverpb::AlarmRequest::GET, etcdserverpb::NONE).alarms_size() == 0);
  CHECK(f.status_errors().empty());

  check_status(f.put("big", std::string(8192, 'x')), grpc::StatusCode::RESOURCE_EXHAUSTED, no_space);
  auto alarms = f.alarm(etcdserverpb::AlarmRequest::GET, etcdserverpb::NONE);
  REQUIRE(alarms.alarms_size() == 1);
  CHECK(alarms.alarms(0).memberid() == member);
  CHECK(alarms.alarms(0).alarm() == etcdserverpb::NOSPACE);
  CHECK_FALSE(alarms.has_header());  // etcd's alarm answers carry no header
  CHECK(f.status_errors() == std::vector<std::string>{"memberID:10276657743932975437 alarm:NOSPACE "});

  // While raised: puts, txns with a put and grants are refused; deletes, reads and read-only txns are not.
  check_status(f.put("small", "y"), grpc::StatusCode::RESOURCE_EXHAUSTED, no_space);
  check_status(run_txn(f, txn_of(put_op("t"))), grpc::StatusCode::RESOURCE_EXHAUSTED, no_space);
  CHECK(run_txn(f, txn_of(delete_op("nothing"))).ok());
  CHECK(run_txn(f, txn_of(range_op("a"))).ok());
  {
    grpc::ClientContext c;
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(10);
    etcdserverpb::LeaseGrantResponse resp;
    check_status(f.lease->LeaseGrant(&c, req, &resp), grpc::StatusCode::RESOURCE_EXHAUSTED, no_space);
  }
  {
    grpc::ClientContext c;
    etcdserverpb::DeleteRangeRequest req;
    req.set_key("a");
    etcdserverpb::DeleteRangeResponse resp;
    CHECK(f.kv->DeleteRange(&c, req, &resp).ok());
    CHECK(resp.deleted() == 1);
  }
  // Compaction makes room, yet the alarm still refuses until it is disarmed (etcd's recovery: compact,
  // defragment, disarm).
  {
    grpc::ClientContext c;
    etcdserverpb::CompactionRequest req;
    req.set_revision(f.store->revision());
    etcdserverpb::CompactionResponse resp;
    REQUIRE(f.kv->Compact(&c, req, &resp).ok());
  }
  check_status(f.put("small", "y"), grpc::StatusCode::RESOURCE_EXHAUSTED, no_space);

  auto lifted = f.alarm(etcdserverpb::AlarmRequest::DEACTIVATE, etcdserverpb::NOSPACE);
  REQUIRE(lifted.alarms_size() == 1);
  CHECK(lifted.alarms(0).alarm() == etcdserverpb::NOSPACE);
  CHECK(f.alarm(etcdserverpb::AlarmRequest::GET, etcdserverpb::NONE).alarms_size() == 0);
  CHECK(f.status_errors().empty());
  CHECK(f.put("small", "y").ok());
  // Disarming what is not raised answers no alarm.
  CHECK(f.alarm(etcdserverpb::AlarmRequest::DEACTIVATE, etcdserverpb::NOSPACE).alarms_size() == 0);
}

TEST_CASE("maintenance: Alarm ACTIVATE raises as etcd does, and CORRUPT refuses writes with DataLoss", "[server]") {
  fixture f;
  REQUIRE(f.put("a", "b").ok());
  auto raised = f.alarm(etcdserverpb::AlarmRequest::ACTIVATE, etcdserverpb::NOSPACE, 7);
  REQUIRE(raised.alarms_size() == 1);
  CHECK(raised.alarms(0).memberid() == 7);
  check_status(f.put("a", "c"), grpc::StatusCode::RESOURCE_EXHAUSTED, no_space);
  CHECK(f.alarm(etcdserverpb::AlarmRequest::GET, etcdserverpb::CORRUPT).alarms_size() == 0);
  CHECK(f.alarm(etcdserverpb::AlarmRequest::GET, etcdserverpb::NOSPACE).alarms_size() == 1);
  f.alarm(etcdserverpb::AlarmRequest::DEACTIVATE, etcdserverpb::NOSPACE, 7);
  REQUIRE(f.put("a", "c").ok());

  f.alarm(etcdserverpb::AlarmRequest::ACTIVATE, etcdserverpb::CORRUPT);
  const std::string corrupt = "etcdserver: corrupt cluster";
  check_status(f.put("a", "d"), grpc::StatusCode::DATA_LOSS, corrupt);
  check_status(run_txn(f, txn_of(delete_op("a"))), grpc::StatusCode::DATA_LOSS, corrupt);
  CHECK(run_txn(f, txn_of(range_op("a"))).ok());
  {
    grpc::ClientContext c;
    etcdserverpb::RangeRequest req;
    req.set_key("a");
    etcdserverpb::RangeResponse resp;
    REQUIRE(f.kv->Range(&c, req, &resp).ok());
    CHECK(resp.kvs(0).value() == "c");
  }
  CHECK(f.status_errors() == std::vector<std::string>{"memberID:10276657743932975437 alarm:CORRUPT "});
  f.alarm(etcdserverpb::AlarmRequest::DEACTIVATE, etcdserverpb::CORRUPT);
  CHECK(f.put("a", "d").ok());
}

TEST_CASE("maintenance: Snapshot streams etcd's bbolt database of the store in 32 KiB blobs, then its SHA-256", "[server]") {
  fixture f;
  for (int i = 0; i < 200; ++i) REQUIRE(f.put("key/" + std::to_string(i), std::string(500, 'v')).ok());
  grpc::ClientContext c;
  auto reader = f.maintenance->Snapshot(&c, {});
  etcdserverpb::SnapshotResponse resp;
  std::vector<etcdserverpb::SnapshotResponse> parts;
  while (reader->Read(&resp)) parts.push_back(resp);
  REQUIRE(reader->Finish().ok());
  REQUIRE(parts.size() >= 5);  // 100 KB of values: four blobs or more, then the digest

  std::uint64_t total = 0;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) total += parts[i].blob().size();
  std::string data;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    CHECK_FALSE(parts[i].has_header());
    if (i + 2 < parts.size()) CHECK(parts[i].blob().size() == 32 * 1024);
    data += parts[i].blob();
    CHECK(parts[i].remaining_bytes() == total - data.size());
  }
  // etcdctl's rule for a whole snapshot: 32 bytes past a multiple of 512.
  CHECK((data.size() + parts.back().blob().size()) % 512 == 32);
  CHECK(parts.back().remaining_bytes() == 0);
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), reinterpret_cast<unsigned char*>(digest.data()));
  CHECK(parts.back().blob() == digest);

  // A bbolt file of 4096-byte pages whose two meta pages carry bbolt's magic and version 2 (the
  // shell test has etcdctl open and check it).
  REQUIRE(data.size() % 4096 == 0);
  for (const std::size_t meta : {std::size_t{16}, std::size_t{4096 + 16}}) {
    CHECK(data.substr(meta, 8) == std::string("\xED\xDA\x0C\xED\x02\x00\x00\x00", 8));
  }
  // etcd's key bucket entry of the last put: revision 201 as 8 bytes big-endian, '_', sub-revision 0,
  // then the KeyValue as etcd encodes it.
  mvccpb::KeyValue kv;
  kv.set_key("key/199");
  kv.set_create_revision(201);
  kv.set_mod_revision(201);
  kv.set_version(1);
  kv.set_value(std::string(500, 'v'));
  const std::string entry = std::string("\0\0\0\0\0\0\0\xc9_\0\0\0\0\0\0\0\0", 17) + kv.SerializeAsString();
  CHECK(data.find(entry) != std::string::npos);
}

TEST_CASE("maintenance: Defragment and MoveLeader to this member succeed, Hash is Unimplemented", "[server]") {
  fixture f;
  {
    grpc::ClientContext c;
    etcdserverpb::DefragmentResponse resp;
    CHECK(f.maintenance->Defragment(&c, {}, &resp).ok());
    CHECK_FALSE(resp.has_header());
  }
  {
    grpc::ClientContext c;
    etcdserverpb::MoveLeaderRequest req;
    req.set_targetid(member);
    etcdserverpb::MoveLeaderResponse resp;
    CHECK(f.maintenance->MoveLeader(&c, req, &resp).ok());
  }
  {
    grpc::ClientContext c;
    etcdserverpb::MoveLeaderRequest req;
    req.set_targetid(1234);
    etcdserverpb::MoveLeaderResponse resp;
    check_status(f.maintenance->MoveLeader(&c, req, &resp), grpc::StatusCode::FAILED_PRECONDITION,
                 "etcdserver: bad leader transferee");
  }
  {
    grpc::ClientContext c;
    etcdserverpb::HashResponse resp;
    const auto s = f.maintenance->Hash(&c, {}, &resp);
    CHECK(s.error_code() == grpc::StatusCode::UNIMPLEMENTED);
    CHECK_THAT(s.error_message(), Catch::Contains("bbolt"));
  }
}

TEST_CASE("maintenance: HashKV gives etcd 3.4's values for the same history, compaction included", "[server]") {
  fixture f;
  auto hash_kv = [&](std::int64_t rev, etcdserverpb::HashKVResponse& resp) {
    grpc::ClientContext c;
    etcdserverpb::HashKVRequest req;
    req.set_revision(rev);
    return f.maintenance->HashKV(&c, req, &resp);
  };
  auto del = [&](const std::string& key) {
    grpc::ClientContext c;
    etcdserverpb::DeleteRangeRequest req;
    req.set_key(key);
    etcdserverpb::DeleteRangeResponse resp;
    REQUIRE(f.kv->DeleteRange(&c, req, &resp).ok());
  };
  etcdserverpb::HashKVResponse resp;
  REQUIRE(hash_kv(0, resp).ok());
  CHECK(resp.hash() == 1084519789u);  // a fresh etcd's
  CHECK(resp.compact_revision() == -1);
  CHECK(resp.header().revision() == 1);

  // The values etcd 3.4.23 answered after the same etcdctl commands: put a 1, del a, put a 2, put a 3,
  // del a, put a 4, put b 1, del b, put c 1, compaction 5, put a 5, del c, put b 2.
  REQUIRE(f.put("a", "1").ok());
  del("a");
  REQUIRE(f.put("a", "2").ok());
  REQUIRE(f.put("a", "3").ok());
  del("a");
  REQUIRE(f.put("a", "4").ok());
  REQUIRE(f.put("b", "1").ok());
  del("b");
  REQUIRE(f.put("c", "1").ok());
  {
    grpc::ClientContext c;
    etcdserverpb::CompactionRequest req;
    req.set_revision(5);
    etcdserverpb::CompactionResponse compacted;
    REQUIRE(f.kv->Compact(&c, req, &compacted).ok());
  }
  REQUIRE(f.put("a", "5").ok());
  del("c");
  REQUIRE(f.put("b", "2").ok());

  REQUIRE(hash_kv(0, resp).ok());
  CHECK(resp.hash() == 2538129542u);
  CHECK(resp.compact_revision() == 5);
  CHECK(resp.header().revision() == 13);
  REQUIRE(hash_kv(6, resp).ok());
  CHECK(resp.hash() == 1337084641u);
  CHECK(resp.header().revision() == 13);  // the current revision, whichever was hashed
  REQUIRE(hash_kv(10, resp).ok());
  CHECK(resp.hash() == 1637983572u);
  check_status(hash_kv(5, resp), grpc::StatusCode::OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted");
  check_status(hash_kv(14, resp), grpc::StatusCode::OUT_OF_RANGE,
               "etcdserver: mvcc: required revision is a future revision");
}

TEST_CASE("cluster: membership changes are refused with a single etcd member's errors, and an update of it is kept", "[server]") {
  fixture f;
  auto add = [&](std::vector<std::string> urls) {
    grpc::ClientContext c;
    etcdserverpb::MemberAddRequest req;
    for (auto& u : urls) req.add_peerurls(u);
    etcdserverpb::MemberAddResponse resp;
    return f.cluster->MemberAdd(&c, req, &resp);
  };
  const std::string bad_urls = "etcdserver: given member URLs are invalid";
  check_status(add({}), grpc::StatusCode::INVALID_ARGUMENT, bad_urls);
  check_status(add({"notaurl"}), grpc::StatusCode::INVALID_ARGUMENT, bad_urls);
  check_status(add({"ftp://127.0.0.1:2380"}), grpc::StatusCode::INVALID_ARGUMENT, bad_urls);
  check_status(add({"http://127.0.0.1"}), grpc::StatusCode::INVALID_ARGUMENT, bad_urls);
  check_status(add({"http://127.0.0.1:2380/path"}), grpc::StatusCode::INVALID_ARGUMENT, bad_urls);
  check_status(add({"http://127.0.0.1:2390", "http://localhost:2380"}), grpc::StatusCode::FAILED_PRECONDITION,
               "etcdserver: Peer URLs already exists");
  CHECK(add({"http://127.0.0.1:2390"}).error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(add({"http://[::1]:2390"}).error_code() == grpc::StatusCode::UNIMPLEMENTED);

  auto by_id = [&](auto method, std::uint64_t id) {
    grpc::ClientContext c;
    typename std::remove_reference_t<decltype(*std::get<1>(method))> req;
    req.set_id(id);
    typename std::remove_reference_t<decltype(*std::get<2>(method))> resp;
    return (f.cluster.get()->*std::get<0>(method))(&c, req, &resp);
  };
  auto remove = std::make_tuple(&etcdserverpb::Cluster::Stub::MemberRemove,
                                static_cast<etcdserverpb::MemberRemoveRequest*>(nullptr),
                                static_cast<etcdserverpb::MemberRemoveResponse*>(nullptr));
  auto promote = std::make_tuple(&etcdserverpb::Cluster::Stub::MemberPromote,
                                 static_cast<etcdserverpb::MemberPromoteRequest*>(nullptr),
                                 static_cast<etcdserverpb::MemberPromoteResponse*>(nullptr));
  auto update = std::make_tuple(&etcdserverpb::Cluster::Stub::MemberUpdate,
                                static_cast<etcdserverpb::MemberUpdateRequest*>(nullptr),
                                static_cast<etcdserverpb::MemberUpdateResponse*>(nullptr));
  const std::string not_found = "etcdserver: member not found";
  check_status(by_id(remove, 1234), grpc::StatusCode::NOT_FOUND, not_found);
  check_status(by_id(promote, 1234), grpc::StatusCode::NOT_FOUND, not_found);
  check_status(by_id(update, 1234), grpc::StatusCode::NOT_FOUND, not_found);
  check_status(by_id(remove, member), grpc::StatusCode::UNKNOWN,
               "etcdserver: re-configuration failed due to not enough started members");
  check_status(by_id(promote, member), grpc::StatusCode::FAILED_PRECONDITION,
               "etcdserver: can only promote a learner member");

  grpc::ClientContext c;
  etcdserverpb::MemberUpdateRequest req;
  req.set_id(member);
  req.add_peerurls("http://127.0.0.1:2480");
  etcdserverpb::MemberUpdateResponse resp;
  REQUIRE(f.cluster->MemberUpdate(&c, req, &resp).ok());
  CHECK(resp.header().member_id() == member);
  CHECK(resp.header().revision() == 0);
  REQUIRE(resp.members_size() == 1);
  CHECK(resp.members(0).peerurls(0) == "http://127.0.0.1:2480");
  grpc::ClientContext c2;
  etcdserverpb::MemberListResponse list;
  REQUIRE(f.cluster->MemberList(&c2, {}, &list).ok());
  CHECK(list.members(0).peerurls(0) == "http://127.0.0.1:2480");
  CHECK(list.members(0).id() == member);
}

TEST_CASE("auth: users and roles are managed as by etcd with authentication disabled, which stays disabled", "[server]") {
  fixture f;
  REQUIRE(f.put("a", "b").ok());  // revision 2, which the auth headers carry
  auto call = [&](auto method, const auto& req) {
    grpc::ClientContext c;
    std::remove_pointer_t<std::decay_t<decltype(std::get<1>(method))>> resp;
    auto s = (f.auth.get()->*std::get<0>(method))(&c, req, &resp);
    return std::make_pair(s, resp);
  };
#define LEASEKV_AUTH(name, Req, Resp) \
  std::make_tuple(&etcdserverpb::Auth::Stub::name, static_cast<etcdserverpb::Resp*>(nullptr))
  const auto user_add = LEASEKV_AUTH(UserAdd, AuthUserAddRequest, AuthUserAddResponse);
  const auto user_get = LEASEKV_AUTH(UserGet, AuthUserGetRequest, AuthUserGetResponse);
  const auto user_list = LEASEKV_AUTH(UserList, AuthUserListRequest, AuthUserListResponse);
  const auto user_delete = LEASEKV_AUTH(UserDelete, AuthUserDeleteRequest, AuthUserDeleteResponse);
  const auto grant_role = LEASEKV_AUTH(UserGrantRole, AuthUserGrantRoleRequest, AuthUserGrantRoleResponse);
  const auto revoke_role = LEASEKV_AUTH(UserRevokeRole, AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse);
  const auto role_add = LEASEKV_AUTH(RoleAdd, AuthRoleAddRequest, AuthRoleAddResponse);
  const auto role_get = LEASEKV_AUTH(RoleGet, AuthRoleGetRequest, AuthRoleGetResponse);
  const auto role_list = LEASEKV_AUTH(RoleList, AuthRoleListRequest, AuthRoleListResponse);
  const auto role_delete = LEASEKV_AUTH(RoleDelete, AuthRoleDeleteRequest, AuthRoleDeleteResponse);
  const auto grant_perm = LEASEKV_AUTH(RoleGrantPermission, AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse);
  const auto revoke_perm = LEASEKV_AUTH(RoleRevokePermission, AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse);
  const auto enable = LEASEKV_AUTH(AuthEnable, AuthEnableRequest, AuthEnableResponse);
  const auto disable = LEASEKV_AUTH(AuthDisable, AuthDisableRequest, AuthDisableResponse);
#undef LEASEKV_AUTH

  // With nobody added, the lists are empty (spec §13) and answered with the full header.
  auto [s, users] = call(user_list, etcdserverpb::AuthUserListRequest{});
  REQUIRE(s.ok());
  CHECK(users.users_size() == 0);
  CHECK(users.header().revision() == 2);
  CHECK(users.header().member_id() == member);
  CHECK(call(role_list, etcdserverpb::AuthRoleListRequest{}).second.roles_size() == 0);

  etcdserverpb::AuthUserAddRequest add;
  check_status(call(user_add, add).first, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: user name is empty");
  add.set_name("root");
  add.set_password("secret");
  REQUIRE(call(user_add, add).first.ok());
  check_status(call(user_add, add).first, grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: user name already exists");
  add.set_name("alice");
  REQUIRE(call(user_add, add).first.ok());
  auto listed = call(user_list, etcdserverpb::AuthUserListRequest{}).second;
  CHECK(std::vector<std::string>(listed.users().begin(), listed.users().end()) == std::vector<std::string>{"alice", "root"});

  // AuthEnable: etcd's errors while root lacks the root role, then refused: nothing would enforce it.
  check_status(call(enable, etcdserverpb::AuthEnableRequest{}).first, grpc::StatusCode::FAILED_PRECONDITION,
               "etcdserver: root user does not have root role");
  etcdserverpb::AuthUserGrantRoleRequest grant;
  grant.set_user("root");
  grant.set_role("root");  // granted before anyone added it, as etcd allows
  REQUIRE(call(grant_role, grant).first.ok());
  CHECK(call(enable, etcdserverpb::AuthEnableRequest{}).first.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(call(disable, etcdserverpb::AuthDisableRequest{}).first.ok());

  etcdserverpb::AuthRoleAddRequest role;
  check_status(call(role_add, role).first, grpc::StatusCode::INVALID_ARGUMENT, "etcdserver: role name is empty");
  role.set_name("reader");
  REQUIRE(call(role_add, role).first.ok());
  check_status(call(role_add, role).first, grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: role name already exists");
  grant.set_user("alice");
  grant.set_role("writer");
  check_status(call(grant_role, grant).first, grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: role name not found");
  grant.set_role("reader");
  REQUIRE(call(grant_role, grant).first.ok());
  REQUIRE(call(grant_role, grant).first.ok());  // again: no change, no error
  etcdserverpb::AuthUserGetRequest get;
  get.set_name("alice");
  auto got = call(user_get, get).second;
  CHECK(std::vector<std::string>(got.roles().begin(), got.roles().end()) == std::vector<std::string>{"reader"});

  // Permissions: kept in key order; the same key and range end again updates the type.
  etcdserverpb::AuthRoleGrantPermissionRequest perm;
  perm.set_name("reader");
  perm.mutable_perm()->set_key("b");
  REQUIRE(call(grant_perm, perm).first.ok());
  perm.mutable_perm()->set_key("a");
  perm.mutable_perm()->set_range_end("c");
  REQUIRE(call(grant_perm, perm).first.ok());
  perm.mutable_perm()->set_permtype(authpb::Permission::READWRITE);
  REQUIRE(call(grant_perm, perm).first.ok());
  etcdserverpb::AuthRoleGetRequest role_get_req;
  role_get_req.set_role("reader");
  auto perms = call(role_get, role_get_req).second;
  REQUIRE(perms.perm_size() == 2);
  CHECK(perms.perm(0).key() == "a");
  CHECK(perms.perm(0).range_end() == "c");
  CHECK(perms.perm(0).permtype() == authpb::Permission::READWRITE);
  CHECK(perms.perm(1).key() == "b");
  CHECK(perms.perm(1).permtype() == authpb::Permission::READ);
  etcdserverpb::AuthRoleRevokePermissionRequest revoke;
  revoke.set_role("reader");
  revoke.set_key("a");
  check_status(call(revoke_perm, revoke).first, grpc::StatusCode::FAILED_PRECONDITION,
               "etcdserver: permission is not granted to the role");
  revoke.set_range_end("c");
  REQUIRE(call(revoke_perm, revoke).first.ok());
  CHECK(call(role_get, role_get_req).second.perm_size() == 1);

  // Deleting a role revokes it from its users.
  etcdserverpb::AuthRoleDeleteRequest del_role;
  del_role.set_role("reader");
  REQUIRE(call(role_delete, del_role).first.ok());
  check_status(call(role_delete, del_role).first, grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: role name not found");
  CHECK(call(user_get, get).second.roles_size() == 0);
  etcdserverpb::AuthUserRevokeRoleRequest revoke_req;
  revoke_req.set_name("alice");
  revoke_req.set_role("reader");
  check_status(call(revoke_role, revoke_req).first, grpc::StatusCode::FAILED_PRECONDITION,
               "etcdserver: role is not granted to the user");

  etcdserverpb::AuthUserDeleteRequest del_user;
  del_user.set_name("alice");
  REQUIRE(call(user_delete, del_user).first.ok());
  check_status(call(user_delete, del_user).first, grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: user name not found");
  check_status(call(user_get, get).first, grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: user name not found");

  grpc::ClientContext c;
  etcdserverpb::AuthenticateRequest login;
  login.set_name("root");
  login.set_password("secret");
  etcdserverpb::AuthenticateResponse token;
  check_status(f.auth->Authenticate(&c, login, &token), grpc::StatusCode::FAILED_PRECONDITION,
               "etcdserver: authentication is not enabled");
}

TEST_CASE("health: grpc.health.v1 answers SERVING for the server and its services, NotFound for others", "[server]") {
  fixture f;
  auto health = grpc::health::v1::Health::NewStub(f.channel);
  for (const std::string name : {"", "etcdserverpb.KV", "etcdserverpb.Maintenance", "grpc.health.v1.Health"}) {
    grpc::ClientContext c;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(name);
    grpc::health::v1::HealthCheckResponse resp;
    REQUIRE(health->Check(&c, req, &resp).ok());
    CHECK(resp.status() == grpc::health::v1::HealthCheckResponse::SERVING);
  }
  {
    grpc::ClientContext c;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service("no.such.Service");
    grpc::health::v1::HealthCheckResponse resp;
    check_status(health->Check(&c, req, &resp), grpc::StatusCode::NOT_FOUND, "unknown service");
  }
  for (const auto& [name, expected] :
       {std::pair{std::string(), grpc::health::v1::HealthCheckResponse::SERVING},
        std::pair{std::string("no.such.Service"), grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN}}) {
    grpc::ClientContext c;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(name);
    auto reader = health->Watch(&c, req);
    grpc::health::v1::HealthCheckResponse resp;
    REQUIRE(reader->Read(&resp));
    CHECK(resp.status() == expected);
    c.TryCancel();
    while (reader->Read(&resp)) {
    }
    CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  }
}
