// The core's output: a batch of work for the caller, produced by Raft::ready().
//
// Handling a Ready (the numbered contract; steps may overlap as noted):
//   1. Send `messages` at once: they need nothing persisted (a leader sends entries
//      before its own copy is durable, dissertation §10.2.1).
//   2. Persist, in Ready order: if `snapshot` is set, install it (restore the state
//      machine from the received data, replace the log); if `entries` is not empty, drop every stored entry at
//      or after entries.front().index() and append `entries`; then store
//      `hard_state` if set. Make the result visible through the LogStorage.
//   3. Once step 2 is durable for this Ready AND every earlier Ready, call
//      Raft::on_persisted(ready.persist_mark) and then send `persisted_messages`
//      (votes and acknowledgements: they promise durable state).
//   4. Apply `committed_entries` in order (they are already durable locally) and
//      report progress with Raft::on_applied(). This may happen on another thread,
//      concurrently with later Readies; committed entries are never handed out twice.
// Readies may be taken before earlier ones are persisted (pipelining); step 3's
// ordering is what keeps that safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/core/types.h"

namespace raft::core {

// Leader, role and term as of this Ready, for callbacks and metrics. Not persisted.
struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::kFollower;
  Term term = 0;
  bool removed = false;  // Raft::removed()
  bool operator==(const SoftState&) const = default;
};

// What on_persisted() needs to know about a Ready: the last entry and the hard
// state it asked to persist.
struct PersistMark {
  Index snapshot_index = 0;  // index of `snapshot`; 0 when there was none
  Index last_index = 0;      // last entry of `entries`; 0 when there were none
  Term last_term = 0;
  Term term = 0;         // hard state term and vote as of this Ready
  NodeId vote = kNoNode;
};

// The answer to Raft::read_index(): once the state machine has applied `index`, a
// read issued before the request reflects every write committed before it
// (linearizable). `ok` false: the read could not be confirmed (no leader, leadership
// lost); retry or fail the read.
struct ReadState {
  std::string context;
  Index index = 0;
  bool ok = false;
};

struct Ready {
  std::optional<SoftState> soft_state;         // set when leader or role changed
  std::optional<pb::HardState> hard_state;     // set when it must be persisted
  // A snapshot received from the leader, to install before `entries`: restore the
  // state machine from it and replace the whole log with it.
  std::optional<pb::SnapshotMetadata> snapshot;
  std::vector<pb::Entry> entries;              // to append (after truncation)
  std::vector<pb::Message> messages;           // send now
  std::vector<pb::Message> persisted_messages; // send after persisting
  std::vector<pb::Entry> committed_entries;    // apply in order
  std::vector<ReadState> read_states;          // completed read_index() calls
  PersistMark persist_mark;
  // True when step 2 must end with an fsync: there is a snapshot or entries, or the
  // term or vote changed. A hard state whose only change is the commit index may be written
  // lazily (commit is re-learned from the leader after a crash).
  bool must_sync = false;
  bool empty() const {
    return !soft_state && !hard_state && !snapshot && entries.empty() && messages.empty() &&
           persisted_messages.empty() && committed_entries.empty() && read_states.empty();
  }
};

}  // namespace raft::core
