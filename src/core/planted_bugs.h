// Known Raft bugs that can be switched on, one at a time, to prove the simulator's
// checkers catch them (a checker that cannot fail is worth nothing).
//
// The switches exist only in the `raft_core_planted` build of the core (compiled with
// RAFT_PLANTED_BUGS); in the production `raft_core` library every check below is the
// constant `false` and the compiler removes it.
#pragma once

namespace raft::core {

enum class PlantedBug {
  kNone,
  // §5.4.1: grant a vote without checking that the candidate's log is up to date.
  kVoteWithoutLogCheck,
  // §5.4.2 / Figure 8: commit any entry stored on a majority, even of an older term.
  kCommitOldTermByCounting,
  // Figure 2: answer a vote request before the vote is durable (it may be forgotten
  // by a crash and given again in the same term).
  kVoteBeforePersist,
  // §5.3: accept AppendEntries without the prev_log_index/prev_log_term check.
  kAppendWithoutPrevCheck,
  // §5.1: a leader that sees a higher term keeps leading.
  kLeaderIgnoresHigherTerm,
  // Dissertation §6.4: serve a ReadIndex read at once, without the heartbeat round
  // that confirms this node is still the leader (a deposed leader reads stale data).
  kReadIndexWithoutHeartbeat,
  // Dissertation §6.4.1: serve lease reads on the belief of leading alone, with or
  // without CheckQuorum and however long ago a quorum last answered (etcd's
  // lease-based reads with CheckQuorum off): a deposed leader, cut off from the
  // cluster, goes on answering from its stale state.
  kLeaseWithoutCheckQuorum,
  // Dissertation §4.1 (and the 2015 single-server-change bug): accept a membership
  // change while an earlier one is uncommitted, or before this leader has committed
  // an entry of its term; two changes in a row may have disjoint majorities.
  kConfChangeWhileInFlight,
  // §7: a follower sent a snapshot whose last index its log already holds keeps its
  // log after it, without checking that the entry there has the snapshot's term (an
  // entry of a deposed leader does not match, and neither does what follows it), and
  // takes its own entries up to that index for committed ones.
  kSnapshotMatchIgnoresTerm,
  // Store the commit index a received snapshot implies before its install is durable
  // (a crash may keep that hard state beside the old log, whose entries past the old
  // commit index may be a deposed leader's). Found in this core by the simulator's
  // first traces with snapshots.
  kCommitStoredBeforeInstall,
  // Dissertation §3.10 with §6.4.1: go on serving lease reads while handing
  // leadership over. The target campaigns at once and voters grant it despite their
  // leader's lease (the leader asked for this election), so a new leader may commit
  // while the old one still reads from its lease.
  kLeaseDuringTransfer,
};

const char* to_string(PlantedBug bug);

#ifdef RAFT_PLANTED_BUGS
#define RAFT_PLANTED(bug) (options_.planted_bug == ::raft::core::PlantedBug::bug)
#else
#define RAFT_PLANTED(bug) false
#endif

}  // namespace raft::core
