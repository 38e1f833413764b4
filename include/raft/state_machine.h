// The one interface an application implements: what to do with a committed command,
// and how to save and restore its whole state (for snapshots). That is all a user
// must learn for the simple case.
#pragma once

#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace raft {

/// The state machine's state at one applied index, held apart from the live state
/// (a copy, or a view of data that later applies never change), so it can be written
/// out while apply() goes on. Made by StateMachine::capture().
class CapturedState {
 public:
  virtual ~CapturedState() = default;
  /// Writes the captured state in the form restore() reads. Called once, on the
  /// node's snapshot thread, concurrently with apply() and restore() on the live
  /// state: what it reads must survive both. Throwing fails the snapshot.
  virtual void save(std::ostream& out) = 0;
};

/// What the application implements: apply committed commands in log order, and save
/// and restore its whole state as a snapshot. Called only from the node's apply thread
/// (apply() also from its event loop with NodeOptions::apply_on_loop), one call at a
/// time.
class StateMachine {
 public:
  virtual ~StateMachine() = default;

  /// Applies a committed command and returns the answer for whoever proposed it.
  /// Called on the node's apply thread (or its event loop, see
  /// NodeOptions::apply_on_loop), once per committed command, in log order, never
  /// concurrently with itself or with save/restore. Must be deterministic: every
  /// replica applies the same commands and must reach the same state.
  virtual std::string apply(Index index, std::string_view command) = 0;

  /// Writes the whole state to `out` (a snapshot at the last applied index). Called on
  /// the apply thread between two apply() calls. Throwing fails the snapshot.
  virtual void save(std::ostream& out) = 0;

  /// Optional: the state at the last applied index, captured for a snapshot so that
  /// writing it out (CapturedState::save, on the snapshot thread) does not hold up
  /// apply(). Called instead of save(), where save() would be, so it should cost far
  /// less than save(): a copy in memory, or a reference to immutable data. The
  /// default returns nullptr, and the node calls save() on the apply thread, where
  /// every command committed meanwhile waits for it. Throwing fails the snapshot.
  virtual std::unique_ptr<CapturedState> capture() { return nullptr; }

  /// Replaces the whole state with a snapshot written by save(). Called on the apply
  /// thread at start-up (from the latest local snapshot) and when the leader sends a
  /// snapshot because this node fell too far behind.
  virtual void restore(std::istream& in) = 0;
};

}  // namespace raft
