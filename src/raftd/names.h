// raftd names nodes ("n1"); the library numbers them. The number is a stable hash of
// the name, so every node derives the same id from the same name without asking.
#pragma once

#include <cstdint>
#include <string_view>

namespace raftd {

// FNV-1a 64-bit; never 0 (0 means "no node" to the library).
inline std::uint64_t node_id_from_name(std::string_view name) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash == 0 ? 1 : hash;
}

}  // namespace raftd
