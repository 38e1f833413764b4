// A linearizability checker for client histories of a key-value store. The Raft
// simulator and the system tests record every client operation with the times it was
// called and returned (or that it timed out), and ask here whether some total order of
// those operations, consistent with real time, explains every observed result. That
// is the end-to-end correctness claim of a replicated state machine, so the checker is
// deliberately independent of the Raft code: it only knows register semantics.
//
// Method: keys are independent registers and linearizability is compositional, so
// each key is checked on its own. Per key, a depth-first search (Wing & Gong, with
// Lowe's just-in-time linearization) repeatedly picks an operation that may take
// effect next: one called before every not-yet-linearized operation returned.
// Expanded search nodes (set of linearized operations, value) are memoized, and a
// node that differs from an expanded one only by having used more timed-out
// operations is pruned. The search also confines itself to a canonical form of
// linearization (reads placed as early as possible, timed-out operations placed only
// where the next step observes them, one of several identical timed-out operations);
// these reductions keep histories with many timeouts tractable and lose no verdicts
// (a brute-force cross-check in the tests guards this). The search has a step
// budget; exceeding it is reported as "gave up", distinct from "not linearizable".
//
// What belongs in a history:
//  - Every operation that returned a result (including "cas compare failed",
//    "delete: not found", "create: already exists": those are observations of the
//    state and are checked).
//  - Every operation whose outcome is unknown (timeout, connection lost, leader
//    changed mid-request): record it with return_time = kNeverReturned. It may have
//    taken effect at any instant after its call, or never; its result is not checked.
//  - NOT operations that definitely failed without effect (e.g. rejected with "no
//    leader" before being proposed): leave them out, they constrain nothing.
// All keys start absent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace raft::sim {

enum class OpKind {
  kPut,     // unconditional write
  kGet,     // read
  kCas,     // compare-and-set: write `value` iff the key holds exactly `expected`
  kDelete,  // remove the key
  kCreate,  // write `value` iff the key is absent
};

// The return time of an operation whose outcome is unknown: it never returned, so it
// is concurrent with everything after its call.
inline constexpr uint64_t kNeverReturned = std::numeric_limits<uint64_t>::max();

// One client operation and what the client observed. The result fields are only
// meaningful for operations that returned (return_time != kNeverReturned).
struct Operation {
  int client = 0;  // for messages only
  OpKind kind = OpKind::kGet;
  std::string key;
  std::string value;     // put, cas, create: the value written
  std::string expected;  // cas: the value the key must hold for the write to happen

  // Observed results.
  std::optional<std::string> read_value;  // get: nullopt means "not found"
  // cas: the compare matched and the write happened; delete: the key existed and was
  // removed; create: the key was absent and was created. Ignored for put and get.
  bool applied = false;

  // Real-time interval, in any monotonic unit. An operation precedes another only if
  // it returned strictly before the other was called; equal times count as
  // concurrent, so coarse clocks never cause false alarms.
  uint64_t call_time = 0;
  uint64_t return_time = kNeverReturned;

  bool has_returned() const { return return_time != kNeverReturned; }
};

struct CheckOptions {
  // Search transitions tried per key before giving up. Valid histories usually need a
  // few per operation; proving a violation can need far more under heavy concurrency
  // or many timeouts. A step costs well under a microsecond, so the default bounds a
  // key at roughly a second.
  uint64_t max_steps_per_key = 5'000'000;
  // Memory for memoized search nodes per key; exceeding it also gives up.
  size_t max_memo_bytes = size_t{512} << 20;
  // How many operations of the longest linearizable prefix a failure explanation
  // lists (the most recent ones).
  size_t max_explained_ops = 12;
};

// Exactly one of three verdicts:
//   linearizable                -> a valid linearization exists for every key;
//   !linearizable && !gave_up   -> a violation was proven on `key`;
//   !linearizable && gave_up    -> no violation found, but the search budget ran out
//                                  on `key` (a proven violation on another key wins).
struct CheckResult {
  bool linearizable = false;
  bool gave_up = false;
  std::string key;          // the offending key, empty if linearizable
  std::string explanation;  // human-readable, names the key, clients and times
  uint64_t steps = 0;       // search transitions tried, summed over the keys checked
};

// Throws std::invalid_argument if an operation that returned has
// return_time < call_time.
CheckResult check_history(const std::vector<Operation>& history, const CheckOptions& options = {});

// Compact constructors for writing histories by hand. Pass kNeverReturned as `ret` for
// an operation whose outcome is unknown; its result argument is then ignored.
Operation make_put(int client, std::string key, std::string value, uint64_t call, uint64_t ret);
Operation make_get(int client, std::string key, std::optional<std::string> observed, uint64_t call,
                   uint64_t ret);
Operation make_cas(int client, std::string key, std::string expected, std::string value,
                   bool applied, uint64_t call, uint64_t ret);
Operation make_delete(int client, std::string key, bool found, uint64_t call, uint64_t ret);
Operation make_create(int client, std::string key, std::string value, bool created, uint64_t call,
                      uint64_t ret);

// E.g. `client 2 cas("x", "a" -> "b") -> applied, t=[10, 25]`, or
// `client 1 put("x", "v") -> unknown, t=[7, inf)`.
std::string to_string(OpKind kind);
std::string to_string(const Operation& op);

}  // namespace raft::sim
