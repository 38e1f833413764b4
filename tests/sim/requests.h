// What simulated clients and node runtimes say to each other (the client protocol of
// the simulation, the stand-in for raftd's HTTP API).
//
// A request is one attempt of a client operation sent to one node. The reply tells
// the client whether the attempt certainly had no effect (not leader, busy, lost) —
// then it may retry safely — or succeeded with a result. No reply by the client's
// timeout means the outcome is unknown.
#pragma once

#include <cstdint>

#include "src/core/types.h"
#include "tests/sim/kv.h"

namespace raft::sim {

// How a get is served. kLog proposes it like a write. kReadIndex and kLease call the
// core's read_index() (on a follower it asks the leader) and answer from the local
// store once the node has applied the read index: nothing is written to the log.
enum class ReadPath { kLog, kReadIndex, kLease };
const char* to_string(ReadPath path);

struct ClientRequest {
  int client = 0;
  std::uint64_t attempt = 0;  // unique per client
  Command command;
  ReadPath read_path = ReadPath::kLog;
};

enum class ReplyStatus {
  kOk,         // committed and applied (`result`, `index` and `term` set), or a read
               // served without the log (`result` and `leader_hint` set)
  kNotLeader,  // not proposed; `leader_hint` may name the leader
  kBusy,       // not proposed (back-pressure or a leadership transfer)
  kLost,       // proposed, but another entry was committed at its index: no effect
};
const char* to_string(ReplyStatus status);

struct ClientReply {
  int client = 0;
  std::uint64_t attempt = 0;
  ReplyStatus status = ReplyStatus::kOk;
  core::NodeId leader_hint = core::kNoNode;
  KvResult result;
  // The (index, term) a command committed at; both 0 for a read served without the
  // log (ReadIndex or lease).
  core::Index index = 0;
  core::Term term = 0;
};

}  // namespace raft::sim
