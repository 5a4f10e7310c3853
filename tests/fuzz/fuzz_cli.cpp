// Fuzzes leasekvctl's input parsers: txn's stdin grammar, and the lease-id / TTL / revision numbers.
// Every input must give a request or a cli_error: nothing else escapes, nothing crashes.
#include "cli.hpp"

#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    std::istringstream in(input);
    (void)leasekvctl::read_txn_request(in, false);
  } catch (const leasekvctl::cli_error&) {
  }
  const std::string first_line = input.substr(0, input.find('\n'));
  for (int base : {10, 16}) {
    try {
      (void)leasekvctl::parse_int(first_line, base);
    } catch (const std::invalid_argument&) {
    } catch (const std::out_of_range&) {
    }
  }
  try {
    (void)leasekvctl::parse_lease_arg(first_line, "bad lease ID");
  } catch (const leasekvctl::cli_error&) {
  }
  return 0;
}
