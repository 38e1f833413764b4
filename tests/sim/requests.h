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

// How a read is served. Only through the log for now; ReadIndex and lease reads are
// added with the core's read_index() (they answer from the local store once the
// node has applied the read index).
enum class ReadPath { kLog };

struct ClientRequest {
  int client = 0;
  std::uint64_t attempt = 0;  // unique per client
  Command command;
  ReadPath read_path = ReadPath::kLog;
};

enum class ReplyStatus {
  kOk,         // committed and applied; `result`, `index` and `term` are set
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
  core::Index index = 0;
  core::Term term = 0;
};

}  // namespace raft::sim
