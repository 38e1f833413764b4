// The vocabulary of the consensus core: the paper's nouns as C++ types. Every other
// core header includes this one. Protobuf messages from proto/raft.proto are used
// directly as the core's data (one encoding, no translation layer).
#pragma once

#include <cstdint>
#include <limits>

#include "proto/raft.pb.h"

namespace raft::core {

using NodeId = std::uint64_t;  // 0 = none
using Term = std::uint64_t;    // 0 = before any election
using Index = std::uint64_t;   // log position; 1 is the first entry, 0 = none

inline constexpr NodeId kNoNode = 0;
inline constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

enum class Role { kFollower, kCandidate, kPreCandidate, kLeader };

const char* to_string(Role role);

}  // namespace raft::core
