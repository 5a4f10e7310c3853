#include <catch2/catch.hpp>
#include <leasekv/error.hpp>

#include <boost/system/system_error.hpp>

#include <string>
#include <thread>

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

TEST_CASE("errors: an error carries its detail with it, across threads and copies, and value() throws it", "[base]") {
  leasekv::error e(leasekv::errc::corrupt, "wal-0000000000000001.log: checksum mismatch at offset 20");
  CHECK(e == leasekv::errc::corrupt);
  CHECK(e.message() == "leasekv: data directory is damaged");
  CHECK(e.what() == "leasekv: data directory is damaged: wal-0000000000000001.log: checksum mismatch at offset 20");
  leasekv::result<int> r = e;
  std::string seen;
  std::thread([&, copy = r] { seen = copy.error().detail(); }).join();
  CHECK(seen == "wal-0000000000000001.log: checksum mismatch at offset 20");
  try {
    (void)r.value();
    FAIL("value() did not throw");
  } catch (const boost::system::system_error& ex) {
    CHECK(ex.code() == leasekv::errc::corrupt);
    CHECK(std::string(ex.what()).find("checksum mismatch at offset 20") != std::string::npos);
  }
  // Without a detail, what() is etcd's text alone; a system error compares with its condition.
  CHECK(leasekv::error(leasekv::errc::compacted).what() == "mvcc: required revision has been compacted");
  leasekv::error full(boost::system::errc::make_error_code(boost::system::errc::no_space_on_device), "/db/wal: write");
  CHECK(full == boost::system::errc::no_space_on_device);
  CHECK_FALSE(full == leasekv::errc::no_space);
}
