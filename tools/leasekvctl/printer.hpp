// leasekvctl's output writers: one per -w format, each printing exactly what etcdctl 3.4 prints.
#pragma once

#include "cli.hpp"

#include <leasekv/data_dir_tools.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace leasekvctl {

struct print_options {
  bool hex = false;
  bool keys_only = false;
  bool print_value_only = false;
  bool prev_kv = false;  // watch: print previous key-values
};

// What `endpoint status` reports of a data directory (one of etcdctl's epStatus).
struct endpoint_info {
  std::string endpoint;             // the data directory, as given
  leasekv::response_header header;  // a read's header: the store's identity, revision and raft term
  std::uint64_t db_size = 0;        // bytes in the directory's files
};

// Writes responses to stdout. Each writer prints what etcdctl prints for its format; the table writer
// prints only the statuses (etcdctl's other commands refuse -w table: call refuse_unsupported_format).
class printer {
 public:
  virtual ~printer() = default;
  virtual void put(const leasekv::put_response& r) = 0;
  virtual void get(const leasekv::range_response& r) = 0;
  virtual void del(const leasekv::delete_response& r) = 0;
  virtual void txn(const leasekv::txn_response& r) = 0;
  virtual void grant(const leasekv::lease_grant_response& r) = 0;
  virtual void revoke(leasekv::lease_id id, const leasekv::lease_revoke_response& r) = 0;
  virtual void time_to_live(const leasekv::lease_time_to_live_response& r, bool keys) = 0;
  virtual void leases(const leasekv::lease_leases_response& r) = 0;
  virtual void keep_alive(const leasekv::lease_keep_alive_response& r) = 0;
  virtual void watch(const leasekv::watch_response& r) = 0;
  virtual void endpoint_status(const endpoint_info& e) = 0;
  virtual void snapshot_status(const leasekv::snapshot_status& s) = 0;

 protected:
  // Prints one response of a txn with the printer's own put/get/del/txn.
  void op_response(const leasekv::response_op& op);
};

std::unique_ptr<printer> make_simple_printer(const print_options& o);
std::unique_ptr<printer> make_json_printer();
std::unique_ptr<printer> make_fields_printer();
std::unique_ptr<printer> make_table_printer();
// The writer for c.out; -w protobuf gets the simple one (only the statuses print with it).
std::unique_ptr<printer> make_printer(const context& c, const print_options& o);
// Throws etcdctl's error for -w table and -w protobuf, which only the statuses print (commands call it
// after their operation ran, as etcdctl fails only when it prints).
void refuse_unsupported_format(const context& c);

// Writes one line (or raw bytes) to stdout and flushes, so piped output shows as it happens.
void out_line(std::string_view s);
void out_raw(std::string_view s);

// Text helpers shared by the writers.
std::string base64(std::string_view s);
std::string go_quote(std::string_view s);  // Go's %q
std::string hex_escape(std::string_view s);  // \x66\x6f\x6f
std::string lease_hex(leasekv::lease_id id); // %016x, as Go prints an int64
std::string humanize_bytes(std::uint64_t n);  // go-humanize's Bytes: "29 kB", "2.1 MB"

}  // namespace leasekvctl
