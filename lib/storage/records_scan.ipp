// The body of storage::scan (a template, so records.hpp's callers inline it).
#pragma once

#include "base/coding.hpp"
#include "base/crc32c.hpp"

#include <string>

namespace leasekv::storage {

template <class F>
scan_result scan(std::string_view data, std::string_view magic, bool tail_may_tear, std::uint64_t& seq, F&& on_record) {
  scan_result out;
  if (data.size() < file_header_size) {
    // A log created just before a crash may hold part of its header.
    if (tail_may_tear) {
      out.torn = true;
      return out;
    }
    out.error = "truncated file header at offset 0";
    return out;
  }
  if (data.substr(0, 8) != magic) {
    out.error = "bad magic at offset 0";
    return out;
  }
  if (base::load_u32(data.data() + 8) != format_version) {
    out.error = "unsupported format version " + std::to_string(base::load_u32(data.data() + 8)) + " at offset 8";
    return out;
  }
  seq = base::load_u64(data.data() + 12);
  scan_result rest = scan_records(data.substr(file_header_size), file_header_size, tail_may_tear,
                                  std::forward<F>(on_record));
  rest.valid_end += file_header_size;
  return rest;
}

template <class F>
scan_result scan_records(std::string_view data, std::size_t base, bool tail_may_tear, F&& on_record) {
  scan_result out;
  std::size_t off = 0;
  while (off < data.size()) {
    const std::size_t left = data.size() - off;
    if (left < record_header_size) {
      if (tail_may_tear) {
        out.torn = true;
      } else {
        out.error = "truncated record header at offset " + std::to_string(base + off);
      }
      return out;
    }
    const std::uint32_t len = base::load_u32(data.data() + off);
    const std::uint32_t check = base::load_u32(data.data() + off + 4);
    const std::uint32_t crc = base::load_u32(data.data() + off + 8);
    if ((len ^ check) != 0xffffffffu) {
      // Zeros to the end are a file extended but never written (a crash); anything else is damage.
      if (tail_may_tear && data.find_first_not_of('\0', off) == std::string_view::npos) {
        out.torn = true;
      } else {
        out.error = "bad record header at offset " + std::to_string(base + off);
      }
      return out;
    }
    if (len == 0 || len > max_record_size) {
      out.error = "bad record length " + std::to_string(len) + " at offset " + std::to_string(base + off);
      return out;
    }
    if (left - record_header_size < len) {
      if (tail_may_tear) {
        out.torn = true;
      } else {
        out.error = "truncated record at offset " + std::to_string(base + off);
      }
      return out;
    }
    const std::string_view body = data.substr(off + record_header_size, len);
    if (base::crc32c(body) != crc) {
      const bool last = off + record_header_size + len == data.size();
      if (tail_may_tear && last) {
        out.torn = true;
      } else {
        out.error = "checksum mismatch at offset " + std::to_string(base + off);
      }
      return out;
    }
    if (!on_record(body, base + off)) {
      if (out.error.empty()) out.error = "malformed record at offset " + std::to_string(base + off);
      return out;
    }
    off += record_header_size + len;
    out.valid_end = off;
  }
  return out;
}

}  // namespace leasekv::storage
