#include <catch2/catch.hpp>
#include <leasekv/error.hpp>

#include <boost/system/system_error.hpp>

TEST_CASE("errors: messages are etcd's exact texts", "[base]") {
  using leasekv::errc;
  using leasekv::make_error_code;
  CHECK(make_error_code(errc::key_not_provided).message() == "etcdserver: key is not provided");
  CHECK(make_error_code(errc::compacted).message() == "mvcc: required revision has been compacted");
  CHECK(make_error_code(errc::future_revision).message() == "mvcc: required revision is a future revision");
  CHECK(make_error_code(errc::duplicate_key).message() == "etcdserver: duplicate key given in txn request");
  CHECK(make_error_code(errc::too_many_ops).message() == "etcdserver: too many operations in txn request");
  CHECK(make_error_code(errc::lease_not_found).message() == "etcdserver: requested lease not found");
  CHECK(make_error_code(errc::request_too_large).message() == "etcdserver: request is too large");
  CHECK(std::string(leasekv::error_category().name()) == "leasekv");
}

TEST_CASE("errors: result.value() throws system_error carrying the code", "[base]") {
  leasekv::result<int> r = leasekv::errc::key_not_found;
  REQUIRE_FALSE(r);
  CHECK(r.error() == leasekv::errc::key_not_found);
  CHECK_THROWS_AS(r.value(), boost::system::system_error);
}
