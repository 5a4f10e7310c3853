// Real processes on the real file system: a child writing in a loop is killed with SIGKILL many times and
// every write it acknowledged must be there after reopening; a second writer process is refused with
// the holder's pid; a reader opens beside a writer. These wait for child processes, never for leases.
#include <catch2/catch.hpp>
#include <leasekv/leasekv.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace leasekv;

namespace {

std::string temp_dir(const char* name) {
  auto p = std::filesystem::temp_directory_path() / (std::string("leasekv-") + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  return p.string();
}

std::string key_of(long i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "k%08ld", i);
  return buf;
}

// In the child: puts keys from `first` on, telling the parent through `fd` after each acknowledged put.
[[noreturn]] void write_forever(const std::string& dir, long first, int fd) {
  auto s = store::open({.data_dir = dir}).value();
  for (long i = first;; ++i) {
    if (!s->put(key_of(i), std::to_string(i))) std::_Exit(3);
    if (::write(fd, &i, sizeof i) != sizeof i) std::_Exit(4);
  }
}

}  // namespace

TEST_CASE("process: writes acknowledged before a SIGKILL are all there after reopening", "[process][storage]") {
  const std::string dir = temp_dir("sigkill");
  long next = 0;
  for (int kill_round = 0; kill_round < 25; ++kill_round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      write_forever(dir, next, fds[1]);
    }
    ::close(fds[1]);
    // Let it acknowledge a random number of writes, then kill it mid-stride.
    const long target = next + 20 + (kill_round * 37) % 200;
    long acked = next - 1;
    while (acked < target) {
      long v = 0;
      if (::read(fds[0], &v, sizeof v) != sizeof v) break;
      acked = v;
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    // Acknowledgements still in the pipe count too: they were sent after the put returned.
    long v = 0;
    while (::read(fds[0], &v, sizeof v) == sizeof v) acked = v;
    ::close(fds[0]);
    REQUIRE(acked >= next);

    auto s = store::open({.data_dir = dir}).value();
    for (long i = 0; i <= acked; ++i) {
      auto got = s->get(key_of(i)).value();
      INFO("round " << kill_round << " key " << i << " acknowledged up to " << acked);
      REQUIRE(got.kvs.size() == 1);
      REQUIRE(got.kvs[0].value == std::to_string(i));
    }
    // At most the one write in flight made it beyond the acknowledged ones.
    CHECK(s->get(key_of(acked + 2)).value().kvs.empty());
    next = acked + 1 + static_cast<long>(s->get(key_of(acked + 1)).value().kvs.size());
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("process: a second writer is refused with the holder's pid, and a reader opens beside it", "[process][storage]") {
  const std::string dir = temp_dir("lock");
  int ready[2];
  int done[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(done) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto s = store::open({.data_dir = dir}).value();
    s->put("held", "by the child").value();
    char c = 1;
    if (::write(ready[1], &c, 1) != 1) std::_Exit(2);
    if (::read(done[0], &c, 1) != 1) std::_Exit(3);  // hold the store until the parent is done
    std::_Exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);

  auto second = store::open({.data_dir = dir, .lock_timeout = std::chrono::milliseconds(50)});
  CHECK(second.error() == errc::locked);
  CHECK(second.error().detail() == "held by process " + std::to_string(child));

  auto reader = store::open({.data_dir = dir, .read_only = true}).value();
  CHECK(reader->get("held").value().kvs.at(0).value == "by the child");

  c = 1;
  REQUIRE(::write(done[1], &c, 1) == 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The lock went with the process.
  CHECK(store::open({.data_dir = dir}).has_value());
  std::filesystem::remove_all(dir);
}
