// CRC-32C (Castagnoli), as used by the write-ahead log and snapshots.
#pragma once

#include <cstdint>
#include <string_view>

namespace leasekv::base {

// The CRC-32C of `data`, continuing from `crc` (0 to start).
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0) noexcept;

}  // namespace leasekv::base
