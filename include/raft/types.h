// The library's basic vocabulary, shared by every public header.
#pragma once

#include <cstdint>
#include <string>

namespace raft {

using NodeId = std::uint64_t;  ///< non-zero; 0 means "none"
using Index = std::uint64_t;   ///< log position, from 1
using Term = std::uint64_t;

/// A member of the cluster as the application names it.
struct Peer {
  NodeId id = 0;               ///< the library's id (non-zero)
  std::string name;            ///< human name, e.g. "n1" (defaults to "n<id>")
  std::string peer_address;    ///< host:port for Raft traffic
  std::string client_address;  ///< host:port for client traffic (opaque to the library)
};

}  // namespace raft
