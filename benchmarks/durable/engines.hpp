// The engines benchmarks/durable runs, each through its public API and counting its own file I/O.
//
// Thread safety: an engine's put() and counters() may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace durable_bench {

// What an engine has done to its files since it was opened.
struct io_counters {
  std::uint64_t log_syncs = 0;  // fdatasync / fsync calls on write-ahead log files
  std::uint64_t bytes = 0;      // bytes appended to any file
};

class engine {
 public:
  virtual ~engine() = default;
  // A durable put: returns once the record is on disk. Aborts the benchmark on an error.
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual io_counters counters() const = 0;
};

// `name`: group_commit or per_write (leasekv's sync policies), rocksdb (WAL on, sync = true), or raw (a
// file: append the record, fdatasync; one thread only). Null for an unknown name. `path` does not exist.
std::unique_ptr<engine> make_engine(const std::string& name, const std::string& path);

}  // namespace durable_bench
