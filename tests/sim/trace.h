// The event trace of a run (raft-sim --trace): one line per event, prefixed with the
// simulated time, so a failing seed can be read as a story. Formatting costs nothing
// when tracing is off: callers test on() before building a line.
#pragma once

#include <cstdio>
#include <string>

#include "proto/raft.pb.h"
#include "tests/sim/config.h"

namespace raft::sim {

class Trace {
 public:
  explicit Trace(std::FILE* out = nullptr) : out_(out) {}
  bool on() const { return out_ != nullptr; }
  // "[   12.345s t=123] text"
  void line(Time now, const std::string& text) const;

 private:
  std::FILE* out_;
};

// "n3": how the trace and the simulator's descriptions name a node.
std::string node_tag(core::NodeId id);

// "AppendRequest 1->2 t3 prev=(5,t2) entries=[6..8] commit=4".
std::string describe(const pb::Message& m);

}  // namespace raft::sim
