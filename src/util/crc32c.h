// CRC-32C (Castagnoli), the checksum of WAL records, snapshots and snapshot chunks.
// Hardware-accelerated with SSE4.2 where the CPU has it, table-driven otherwise; both
// give the same values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace raft::util {

// Extends `crc` (the CRC-32C of some earlier bytes, 0 for none) with `n` more bytes.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t n);

inline std::uint32_t crc32c(const void* data, std::size_t n) { return crc32c_extend(0, data, n); }
inline std::uint32_t crc32c(std::string_view bytes) { return crc32c(bytes.data(), bytes.size()); }

namespace detail {
// The table-driven implementation, exposed so tests can compare it with the
// hardware path.
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t n);
}  // namespace detail

// A stored CRC is masked so that the CRC of data that itself contains CRCs stays
// well distributed (the LevelDB convention).
inline std::uint32_t mask_crc(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
inline std::uint32_t unmask_crc(std::uint32_t masked) {
  const std::uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace raft::util
