// The Raft consensus protocol as a deterministic state machine (the "core").
//
// No I/O, no threads, no clock, no global randomness: time is tick(), the network is
// step() and Ready::messages, the disk is Ready::entries/hard_state plus the
// read-only LogStorage, and election jitter comes from a seeded Rng. The same inputs
// always produce the same outputs, which is what lets the simulator replay any run
// from its seed.
//
// Not thread-safe: one thread (the runtime's event loop) owns a Raft. Section
// numbers refer to the Raft paper (Ongaro & Ousterhout, 2014) and, where noted, to
// Ongaro's dissertation.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/core/log_storage.h"
#include "src/core/options.h"
#include "src/core/ready.h"
#include "src/core/rng.h"
#include "src/core/types.h"

namespace raft::core {

class Progress;
class RaftLog;
class ProgressTracker;

enum class ProposeError {
  kNotLeader,            // see leader() for a hint
  kTransferring,         // a leadership transfer is in progress
  kTooManyUncommitted,   // back-pressure: Options::max_uncommitted_bytes reached
  kEmptyBatch,
  // Membership: an earlier change is not committed yet, or this leader has not yet
  // committed an entry of its own term. Retry shortly.
  kConfChangeInProgress,
  kInvalidConfChange,    // the change makes no sense for the current configuration
};
const char* to_string(ProposeError error);

// Where a proposal landed: entries [first_index, last_index] in `term`. The proposal
// is committed when the entry at last_index with this term is applied; if an entry
// with another term is applied at one of these indexes, the proposal was lost (a new
// leader overwrote it) and the caller should fail it.
struct ProposeResult {
  std::optional<ProposeError> error;
  Index first_index = 0;
  Index last_index = 0;
  Term term = 0;
  bool ok() const { return !error.has_value(); }
};

enum class TransferError { kNotLeader, kUnknownTarget, kTargetIsLearner };
const char* to_string(TransferError error);

enum class ReadMode {
  kReadIndex,  // confirm leadership with a quorum round (dissertation §6.4)
  kLease,      // trust the leader lease when valid (§6.4.1), else fall back to ReadIndex
  // The lease is measured in this node's ticks, so it is only as safe as the tick
  // source: ticks must follow real time within lease_drift_margin_ticks. A runtime
  // whose loop stalls (a process pause, a blocking call) must deliver the ticks that
  // elapsed meanwhile before any other input, or a leader deposed during the stall
  // still trusts its lease when it resumes (the simulator's Read Sees Committed
  // caught exactly that; docs/simulator.md).
};

// A read-only snapshot of the core's state for status pages and tests.
struct Status {
  NodeId id = kNoNode;
  Role role = Role::kFollower;
  Term term = 0;
  NodeId vote = kNoNode;
  NodeId leader = kNoNode;
  Index commit_index = 0;
  Index applied_index = 0;
  Index last_index = 0;
  Index first_index = 0;
  Index persisted_index = 0;
  struct Peer {
    NodeId id = kNoNode;
    Index match_index = 0;
    Index next_index = 0;
    const char* state = "";  // "probe", "replicate" or "snapshot"
    bool recently_active = false;
  };
  std::vector<Peer> peers;  // leader only; excludes self
  NodeId transfer_target = kNoNode;
  bool removed = false;  // Raft::removed()
};

class Raft {
 public:
  // Restores from `storage` (hard state, snapshot metadata, configuration, log).
  // `storage` must outlive the Raft. Throws std::invalid_argument for bad options.
  Raft(const Options& options, const LogStorage& storage);
  ~Raft();
  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  // ---- Inputs --------------------------------------------------------------------

  // Advances logical time by one tick: election timeouts for followers and
  // candidates, heartbeats and quorum checks for leaders.
  void tick();

  // Handles a message from a peer. Messages addressed to another node, from node 0
  // or from itself, or without a body are ignored (returning false); stale ones are
  // handled per the protocol (returning true).
  bool step(const pb::Message& message);

  // Appends the commands as consecutive ENTRY_NORMAL entries, in one batch. Only a
  // leader accepts proposals.
  ProposeResult propose(std::span<const std::string> commands);
  ProposeResult propose(const std::string& command) { return propose(std::span(&command, 1)); }

  // Proposes a membership change (see confchange.h for the rules). The new
  // configuration takes effect as soon as the entry is appended, on every node; a
  // joint configuration entered with auto-leave is left automatically once
  // committed. `error` receives a description when the change is invalid.
  ProposeResult propose_conf_change(const pb::ConfChange& change, std::string* error = nullptr);

  // Leadership transfer (dissertation §3.10): stop accepting proposals, bring `to` up
  // to date, then tell it to campaign at once. Aborted after an election timeout.
  std::optional<TransferError> transfer_leadership(NodeId to);

  // Starts a linearizable read. On any node: a follower asks the leader. The answer
  // comes back in Ready::read_states with the same `context`.
  void read_index(std::string context, ReadMode mode = ReadMode::kReadIndex);

  // The runtime's report on a snapshot it streamed to `to` for this leader:
  // delivered (`ok`) or failed (retry later).
  void report_snapshot(NodeId to, bool ok);

  // Starts an election now (skipping PreVote), as if the election timeout had
  // elapsed. For tests and tools; a voter-less or non-voting node ignores it.
  void campaign();

  // ---- Output --------------------------------------------------------------------

  bool has_ready() const;
  // Takes everything pending. See ready.h for the contract.
  Ready ready();
  // The caller persisted the Ready that carried `mark` (and every earlier one).
  void on_persisted(const PersistMark& mark);
  // The state machine applied every committed entry up to `index`.
  void on_applied(Index index);

  // ---- Introspection -------------------------------------------------------------

  NodeId id() const { return options_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader() const { return leader_; }
  Index commit_index() const;
  Index last_index() const;
  Status status() const;
  const pb::Configuration& configuration() const { return configuration_; }
  // This node knows it is no longer a member: the newest configuration it holds does
  // not name it (and it is not a leader still managing its own removal), or a member
  // told it (pb::NotMember) that a committed configuration newer than that one does
  // not. A removed node never campaigns. It is a member again once it holds a newer
  // configuration naming it (or its own removal is truncated from its log).
  bool removed() const;
  // Changes whenever configuration() is set (possibly to an equal value), so a
  // runtime can skip its per-configuration work while it stays the same.
  std::uint64_t configuration_version() const { return configuration_version_; }
  // The configuration in force at `index` (for snapshot metadata). REQUIRES: index at
  // or after the log's snapshot index.
  pb::Configuration configuration_at(Index index) const;
  // Whether this leader's lease is valid now (lease reads need it).
  bool lease_valid() const;

 private:
  // Role transitions. Each resets the timers and the per-role state.
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);

  // Elections.
  void start_election(bool pre_vote, bool transfer);
  void handle_vote_request(const pb::Message& m);
  void handle_vote_response(const pb::Message& m);
  void record_vote(NodeId voter, bool granted);
  void tally_votes();
  bool log_is_up_to_date(Term last_term, Index last_index) const;
  bool in_lease() const;

  // Removal (see removed()).
  void tell_if_not_member(const pb::Message& m);
  void tell_removed_members();  // leader, once a configuration commits
  void handle_not_member(const pb::Message& m);
  bool is_learner() const;     // a learner in its newest configuration, not removed
  void ask_if_still_member();  // a learner that has heard from no leader
  SoftState soft_state() const;

  // Replication (leader side).
  void handle_append_response(const pb::Message& m);
  void respond_to_stale_leader(const pb::Message& m);
  void handle_heartbeat_response(const pb::Message& m);
  void broadcast_append();
  // Every heartbeat broadcast also measures which followers answer first
  // (quick_voters_, for narrow read rounds).
  void broadcast_heartbeat();
  // Sends entries (or a probe) to `to` if its flow control allows; returns whether a
  // message was sent. `send_if_empty` forces a probe even with nothing new.
  bool send_append(NodeId to, bool send_if_empty);
  // Options::coalesce_appends: whether a partial append to `to` waits for the answer
  // to the one in flight.
  bool holds_back_partial_append(NodeId to, const Progress& progress) const;
  void send_heartbeat(NodeId to);
  bool maybe_commit();
  void release_uncommitted(Index committed);
  Index append_conf_change(const pb::ConfChange& change);

  // Replication (follower side).
  void handle_append_request(const pb::Message& m);
  void handle_heartbeat_request(const pb::Message& m);

  // Per-role tick and step.
  void tick_election();
  void tick_heartbeat();
  void step_leader(const pb::Message& m);
  void step_candidate(const pb::Message& m);
  void step_follower(const pb::Message& m);

  // Messages.
  pb::Message new_message(NodeId to) const;
  void send(pb::Message&& m);            // needs nothing persisted
  void send_persisted(pb::Message&& m);  // only after the current state is durable
  // The commit index to store in the hard state: never beyond the durable entries.
  Index hard_state_commit() const;

  // Configuration. History of configurations set by entries in the log after the
  // snapshot, so a truncated conf-change entry can be undone.
  struct ConfigRecord {
    Index index;
    Term term;
    pb::Configuration configuration;
  };
  void restore_configurations(const LogStorage& storage);
  void track_configuration(const pb::Entry& entry);
  void drop_truncated_configurations();
  void apply_configuration(const pb::Configuration& configuration);
  const pb::Configuration& current_configuration() const;
  Index current_configuration_index() const;
  void after_commit();
  bool promotable() const;

  // Snapshots.
  void handle_snapshot_request(const pb::Message& m);
  bool send_snapshot(NodeId to, Progress& progress);

  // Leadership transfer.
  void handle_timeout_now();
  void send_timeout_now(NodeId to);

  // Reads.
  struct PendingRead {
    std::string context;
    Index index;
    NodeId from;  // self, or the follower that asked
  };
  void handle_read_index_request(const pb::Message& m);
  void handle_read_index_response(const pb::Message& m);
  void start_read(std::string context, NodeId from, bool lease);
  void complete_read(const PendingRead& read, bool ok);
  void release_confirmed_reads();
  void start_read_round();
  // Options::narrow_read_rounds: the round's heartbeats to the quickest voters that
  // make a quorum with the leader.
  void send_narrow_read_round();
  void fail_pending_reads();

  void reset_randomized_election_timeout();
  bool past_election_timeout() const;

  Options options_;
  Rng rng_;
  std::unique_ptr<RaftLog> log_;
  std::unique_ptr<ProgressTracker> tracker_;
  pb::Configuration configuration_;
  std::uint64_t configuration_version_ = 0;
  // Whether configuration_ names this node (as voter or learner, in either half).
  bool named_in_configuration_ = false;
  // The highest configuration index a pb::NotMember reported; 0: none.
  Index removed_at_ = 0;
  // Leader: the configuration whose removed members were last told (see
  // tell_removed_members).
  Index removals_told_index_ = 0;
  // The commit index advanced and followers have not been told. Commit-only appends
  // go out once per ready(), not once per acknowledgement: under load several acks
  // (and the leader's own write) advance the commit between two Readies, and the
  // profile showed followers receiving about four messages per disk write.
  bool commit_broadcast_pending_ = false;

  // Persistent state (Figure 2), mirrored in hard_state_ once handed out.
  Term term_ = 0;
  NodeId vote_ = kNoNode;
  pb::HardState last_handed_out_hard_state_;  // what the last Ready asked to persist
  PersistMark persisted_;                     // the latest mark on_persisted() reported

  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;
  SoftState last_soft_state_;

  // Ticks since the last reset; compared with the randomized timeout (followers and
  // candidates) or the heartbeat interval (leaders).
  int election_elapsed_ = 0;
  int member_check_elapsed_ = 0;  // a learner hearing from no leader asks at 0
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;

  // Leader: payload bytes proposed in this term and not yet committed, for
  // back-pressure, with the (last index, bytes) of each batch still uncommitted.
  std::uint64_t uncommitted_bytes_ = 0;
  std::deque<std::pair<Index, std::uint64_t>> uncommitted_batches_;
  // Candidate: whether its own vote for itself is durable yet (a self-vote only
  // counts once persisted; otherwise a crash could let it vote twice in one term).
  bool self_vote_persisted_ = false;
  // Restarted with a term (so it may have acknowledged a leader's heartbeat just
  // before going down) less than an election timeout ago: it keeps the CheckQuorum
  // promise not to vote for another candidate meanwhile (in_lease()), which the
  // leader's lease (§6.4.1) relies on.
  bool restarted_ = false;

  // Configuration history (see ConfigRecord); base_configuration_ is the
  // snapshot's.
  pb::Configuration base_configuration_;
  Index base_configuration_index_ = 0;
  std::vector<ConfigRecord> configurations_;

  // Leader: index of the no-op that opened this term, and of the last appended
  // configuration change (one change in flight at a time).
  Index term_start_index_ = 0;
  Index pending_conf_index_ = 0;

  // Leader: the target of a leadership transfer in progress.
  NodeId transfer_target_ = kNoNode;
  // Leader: a TimeoutNow was sent in this term. Its target's election bypasses the
  // followers' lease and may happen at any later time (the message may be delayed
  // past an aborted transfer), so the lease is not trusted again in this term.
  bool timeout_now_sent_ = false;

  // Logical clock: ticks since start. Heartbeats carry it to measure the lease.
  std::uint64_t ticks_ = 0;

  // ReadIndex. Reads waiting for the leader's first commit in its term, reads
  // waiting for the round in flight to end, reads in the round in flight (round
  // read_round_), and each member's latest echoed round and tick.
  std::vector<std::pair<std::string, NodeId>> reads_awaiting_commit_;
  std::vector<std::pair<std::string, NodeId>> reads_awaiting_round_;
  std::vector<PendingRead> pending_reads_;
  std::uint64_t read_round_ = 0;
  std::map<NodeId, std::uint64_t> acked_round_;
  std::map<NodeId, std::uint64_t> acked_tick_;
  std::vector<ReadState> read_states_;
  // Narrow read rounds. The followers in the order they answered the heartbeat
  // broadcast before the latest (quick_voters_), and the one being measured: the
  // latest broadcast's tick and round, and who answered it so far. The round in
  // flight went only to some voters unless read_round_wide_; it started at
  // read_round_tick_.
  std::vector<NodeId> quick_voters_;
  std::vector<NodeId> answered_broadcast_;
  std::uint64_t broadcast_tick_ = 0;
  std::uint64_t broadcast_round_ = 0;
  std::uint64_t read_round_tick_ = 0;
  bool read_round_wide_ = true;

  std::vector<pb::Message> messages_;
  std::vector<pb::Message> persisted_messages_;
};

}  // namespace raft::core
