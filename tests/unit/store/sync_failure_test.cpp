// A failed fsync poisons the store: after one, the kernel may have dropped the pages it could not write,
// so nothing later can be promised durable. Every write fails with errc::io_error from then on, even
// once the disk works again; reads still answer; a reopen finds every acknowledged write.
//
// The disk here is the fault env, seen through an env that fails chosen fsyncs once and otherwise lets
// everything through (the fault env's own faults take the whole "machine" down instead).
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include "support/fault_env.hpp"

#include <atomic>
#include <cerrno>
#include <string>

using namespace leasekv;
using namespace std::chrono_literals;
using leasekv::testing::fault_env;

namespace {

// Forwards to `inner`; while fail_syncs > 0, a file sync fails with EIO (and counts down).
class failing_sync_env final : public env {
 public:
  explicit failing_sync_env(std::shared_ptr<fault_env> inner) : inner_(std::move(inner)) {}
  std::atomic<int> fail_syncs{0};
  std::atomic<int> failed{0};

  result<std::string> read_file(const std::string& p) override { return inner_->read_file(p); }
  result<std::unique_ptr<writable_file>> open_append(const std::string& p) override {
    BOOST_OUTCOME_TRY(f, inner_->open_append(p));
    return std::unique_ptr<writable_file>(new file(std::move(f), *this));
  }
  result<void> rename(const std::string& from, const std::string& to) override { return inner_->rename(from, to); }
  result<void> remove(const std::string& p) override { return inner_->remove(p); }
  result<void> create_dir(const std::string& p) override { return inner_->create_dir(p); }
  result<void> sync_dir(const std::string& p) override { return inner_->sync_dir(p); }
  result<std::vector<std::string>> list(const std::string& d) override { return inner_->list(d); }
  bool exists(const std::string& p) override { return inner_->exists(p); }
  result<std::unique_ptr<file_lock>> lock(const std::string& p, std::chrono::milliseconds timeout,
                                          std::string* holder) override {
    return inner_->lock(p, timeout, holder);
  }

 private:
  class file final : public writable_file {
   public:
    file(std::unique_ptr<writable_file> f, failing_sync_env& e) : f_(std::move(f)), env_(e) {}
    result<void> append(std::string_view data) override { return f_->append(data); }
    result<void> sync() override {
      if (env_.fail_syncs.load() > 0 && env_.fail_syncs.fetch_sub(1) > 0) {
        env_.failed++;
        return boost::system::error_code(EIO, boost::system::generic_category());
      }
      return f_->sync();
    }
    result<void> truncate(std::uint64_t size) override { return f_->truncate(size); }
    std::uint64_t size() const override { return f_->size(); }

   private:
    std::unique_ptr<writable_file> f_;
    failing_sync_env& env_;
  };
  std::shared_ptr<fault_env> inner_;
};

}  // namespace

TEST_CASE("sync failure: one failed fsync makes every later write fail, and nothing acknowledged is lost",
          "[store][storage]") {
  const auto policy = GENERATE(sync_policy::per_write, sync_policy::group_commit);
  CAPTURE(static_cast<int>(policy));
  auto disk = std::make_shared<fault_env>();
  auto flaky = std::make_shared<failing_sync_env>(disk);
  auto clk = std::make_shared<manual_clock>();
  options o;
  o.data_dir = "/db";
  o.env = flaky;
  o.clock = clk;
  o.sync = policy;
  auto s = store::open(o).value();
  s->put("a", "1").value();
  const lease_id l = s->grant(60s).value().id;
  s->put("b", "2", {.lease = l}).value();
  const std::int64_t acknowledged = s->revision();

  flaky->fail_syncs = 1;
  auto failed = s->put("c", "3");
  REQUIRE(flaky->failed == 1);  // the put's fsync was the one that failed
  CHECK_FALSE(failed.has_value());

  // The disk works again, but the store cannot know what the failed fsync lost: it takes no more writes.
  REQUIRE(flaky->fail_syncs == 0);
  CHECK(s->put("d", "4").error() == errc::io_error);
  CHECK(s->delete_range(key_range("a")).error() == errc::io_error);
  CHECK(s->txn().then(op::put("e", "5")).commit().error() == errc::io_error);
  CHECK(s->grant(60s).error() == errc::io_error);
  CHECK(s->revoke(l).error() == errc::io_error);
  CHECK(s->compact(2).error() == errc::io_error);
  CHECK(flaky->failed == 1);  // none of them got as far as another fsync
  // Reads still answer.
  CHECK(s->get("a").value().kvs.at(0).value == "1");
  s.reset();

  // Reopened, it has every acknowledged write, and none of the refused ones.
  o.env = disk;
  auto reopened = store::open(o).value();
  CHECK(reopened->get("a").value().kvs.at(0).value == "1");
  CHECK(reopened->get("b").value().kvs.at(0).lease == l);
  CHECK(reopened->time_to_live(l).value().granted_ttl == 60);
  CHECK(reopened->get("d").value().kvs.empty());
  CHECK(reopened->get("e").value().kvs.empty());
  CHECK(reopened->revision() >= acknowledged);  // the failed put may or may not have reached the disk
  CHECK(reopened->revision() <= acknowledged + 1);
  // And it takes writes again.
  CHECK(reopened->put("f", "6").has_value());
}
