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

class RaftLog;
class ProgressTracker;

enum class ProposeError {
  kNotLeader,          // see leader() for a hint
  kTransferring,       // a leadership transfer is in progress
  kTooManyUncommitted, // back-pressure: Options::max_uncommitted_bytes reached
  kEmptyBatch,
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

  // Replication (leader side).
  void handle_append_response(const pb::Message& m);
  void respond_to_stale_leader(const pb::Message& m);
  void handle_heartbeat_response(const pb::Message& m);
  void broadcast_append();
  void broadcast_heartbeat();
  // Sends entries (or a probe) to `to` if its flow control allows; returns whether a
  // message was sent. `send_if_empty` forces a probe even with nothing new.
  bool send_append(NodeId to, bool send_if_empty);
  void send_heartbeat(NodeId to);
  bool maybe_commit();
  void release_uncommitted(Index committed);

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

  // Configuration.
  void apply_configuration(const pb::Configuration& configuration);
  bool is_voter(NodeId id) const;
  bool is_member(NodeId id) const;
  bool promotable() const;

  void reset_randomized_election_timeout();
  bool past_election_timeout() const;

  Options options_;
  Rng rng_;
  std::unique_ptr<RaftLog> log_;
  std::unique_ptr<ProgressTracker> tracker_;
  pb::Configuration configuration_;

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
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;

  // Leader: payload bytes proposed in this term and not yet committed, for
  // back-pressure, with the (last index, bytes) of each batch still uncommitted.
  std::uint64_t uncommitted_bytes_ = 0;
  std::deque<std::pair<Index, std::uint64_t>> uncommitted_batches_;
  // Candidate: whether its own vote for itself is durable yet (a self-vote only
  // counts once persisted; otherwise a crash could let it vote twice in one term).
  bool self_vote_persisted_ = false;

  std::vector<pb::Message> messages_;
  std::vector<pb::Message> persisted_messages_;
};

}  // namespace raft::core
