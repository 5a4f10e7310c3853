#include "store/held_back_puts.hpp"

namespace leasekv::detail {

std::size_t held_back_puts::view(std::array<mvcc::pending_put, capacity>& out) const {
  const std::string_view data = data_;
  std::size_t at = 0;
  for (std::size_t i = 0; i < puts_.size(); ++i) {
    const held_put& p = puts_[i];
    out[i] = {data.substr(at, p.key_size), data.substr(at + p.key_size, p.value_size), p.lease};
    at += p.key_size + p.value_size;
  }
  return puts_.size();
}

void held_back_puts::drop_front(std::size_t n) {
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) bytes += puts_[i].key_size + puts_[i].value_size;
  data_.erase(0, bytes);
  puts_.erase(puts_.begin(), puts_.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace leasekv::detail
