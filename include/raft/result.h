// Errors as values: every asynchronous call completes with a Result, so the caller
// can tell "the cluster did not do it" (and why) from the state machine's answer.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "raft/types.h"

namespace raft {

enum class ErrorCode {
  kNotLeader,       ///< this node is not the leader; see Error::leader_hint
  kNoLeader,        ///< no leader is known; nothing was done
  kDropped,         ///< the proposal was overwritten by a new leader; it did not commit
  kTimeout,         ///< no answer in time: the operation may or may not take effect
  kShuttingDown,    ///< the node is stopping; the outcome of an accepted proposal is unknown
  kBusy,            ///< back-pressure (too many uncommitted bytes or queued requests)
  kTooLarge,        ///< a command or request above the configured limit
  kInvalidArgument, ///< a request that makes no sense (unknown member, bad change...)
  kInProgress,      ///< a membership change or transfer is already under way; retry
  kStorage,         ///< the disk failed (EIO, ENOSPC...): the node stopped writing
  kInternal,
};

const char* to_string(ErrorCode code);

/// Why an operation failed.
struct Error {
  ErrorCode code = ErrorCode::kInternal;  ///< what kind of failure
  std::string message;                    ///< for people: what failed and where
  NodeId leader_hint = 0;  ///< with kNotLeader: the leader this node believes in, if any

  /// Whether the operation certainly did not take effect (safe to retry elsewhere).
  /// Not after a timeout or shutdown, nor after a disk failure or an internal error:
  /// the entry may already be on other nodes, which can still commit it.
  bool certainly_not_performed() const {
    return code != ErrorCode::kTimeout && code != ErrorCode::kShuttingDown && code != ErrorCode::kStorage &&
           code != ErrorCode::kInternal;
  }
};

/// A value or an Error (std::expected arrives only in C++23).
template <typename T>
class Result {
 public:
  /// A success carrying `value` (implicit, so functions can `return value;`).
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  /// A failure (implicit, so functions can `return error;`).
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  /// Whether this holds a value.
  bool ok() const { return state_.index() == 0; }
  /// Same as ok().
  explicit operator bool() const { return ok(); }
  /// The value. REQUIRES: ok().
  ///@{
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  ///@}
  /// The error. REQUIRES: !ok().
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

struct Ok {};  ///< the value of a Result that carries nothing
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, std::string message, NodeId leader_hint = 0) {
  return Error{code, std::move(message), leader_hint};
}

}  // namespace raft
