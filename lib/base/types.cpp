#include "leasekv/types.hpp"

namespace leasekv {

std::string prefix_end(std::string_view key) {
  std::string end(key);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every byte was 0xff (or no byte): no upper bound
}

key_range prefix(std::string_view p) {
  if (p.empty()) return all_keys();
  return {p, prefix_end(p)};
}

key_range from_key(std::string_view k) {
  if (k.empty()) return all_keys();
  return {k, std::string_view("\0", 1)};
}

key_range all_keys() { return {std::string_view("\0", 1), std::string_view("\0", 1)}; }

}  // namespace leasekv
