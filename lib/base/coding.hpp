// Fixed-width little-endian integers and length-prefixed strings, for the on-disk formats.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace leasekv::base {

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

inline void put_u32(std::string& out, std::uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}

inline void put_u64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}

inline void put_i64(std::string& out, std::int64_t v) { put_u64(out, static_cast<std::uint64_t>(v)); }

inline void put_bytes(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

inline std::uint32_t load_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

inline std::uint64_t load_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// Reads from a buffer; every get fails (returns false) instead of reading past the end.
class reader {
 public:
  explicit reader(std::string_view data) : data_(data) {}
  bool get_u8(std::uint8_t& v) {
    if (data_.size() < 1) return false;
    v = static_cast<std::uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool get_u32(std::uint32_t& v) {
    if (data_.size() < 4) return false;
    v = load_u32(data_.data());
    data_.remove_prefix(4);
    return true;
  }
  bool get_u64(std::uint64_t& v) {
    if (data_.size() < 8) return false;
    v = load_u64(data_.data());
    data_.remove_prefix(8);
    return true;
  }
  bool get_i64(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!get_u64(u)) return false;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  bool get_bytes(std::string_view& s) {
    std::uint32_t n = 0;
    if (!get_u32(n) || data_.size() < n) return false;
    s = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

}  // namespace leasekv::base
