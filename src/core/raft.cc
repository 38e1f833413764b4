#include "src/core/raft.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <stdexcept>

#include "src/core/confchange.h"
#include "src/core/raft_log.h"
#include "src/core/tracker.h"

namespace raft::core {

const char* to_string(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kCandidate: return "candidate";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kLeader: return "leader";
  }
  return "?";
}

const char* to_string(PlantedBug bug) {
  switch (bug) {
    case PlantedBug::kNone: return "none";
    case PlantedBug::kVoteWithoutLogCheck: return "vote-without-log-check";
    case PlantedBug::kCommitOldTermByCounting: return "commit-old-term-by-counting";
    case PlantedBug::kVoteBeforePersist: return "vote-before-persist";
    case PlantedBug::kAppendWithoutPrevCheck: return "append-without-prev-check";
    case PlantedBug::kLeaderIgnoresHigherTerm: return "leader-ignores-higher-term";
    case PlantedBug::kReadIndexWithoutHeartbeat: return "read-index-without-heartbeat";
    case PlantedBug::kLeaseWithoutCheckQuorum: return "lease-without-check-quorum";
    case PlantedBug::kConfChangeWhileInFlight: return "conf-change-while-in-flight";
    case PlantedBug::kSnapshotMatchIgnoresTerm: return "snapshot-match-ignores-term";
    case PlantedBug::kCommitStoredBeforeInstall: return "commit-stored-before-install";
    case PlantedBug::kLeaseDuringTransfer: return "lease-during-transfer";
  }
  return "?";
}

const char* to_string(TransferError error) {
  switch (error) {
    case TransferError::kNotLeader: return "not leader";
    case TransferError::kUnknownTarget: return "unknown transfer target";
    case TransferError::kTargetIsLearner: return "transfer target is a learner";
  }
  return "?";
}

const char* to_string(ProposeError error) {
  switch (error) {
    case ProposeError::kNotLeader: return "not leader";
    case ProposeError::kTransferring: return "leadership transfer in progress";
    case ProposeError::kTooManyUncommitted: return "too many uncommitted bytes";
    case ProposeError::kEmptyBatch: return "empty batch";
    case ProposeError::kConfChangeInProgress: return "a configuration change is in progress";
    case ProposeError::kInvalidConfChange: return "invalid configuration change";
  }
  return "?";
}

namespace {

void validate(const Options& o) {
  if (o.id == kNoNode) throw std::invalid_argument("raft: options.id must be non-zero");
  if (o.heartbeat_interval_ticks <= 0) {
    throw std::invalid_argument("raft: heartbeat_interval_ticks must be positive");
  }
  if (o.election_timeout_ticks <= o.heartbeat_interval_ticks) {
    throw std::invalid_argument("raft: election_timeout_ticks must exceed heartbeat_interval_ticks");
  }
  if (o.max_inflight_appends == 0) {
    throw std::invalid_argument("raft: max_inflight_appends must be positive");
  }
}

}  // namespace

Raft::Raft(const Options& options, const LogStorage& storage)
    : options_(options), rng_(options.random_seed) {
  validate(options_);
  log_ = std::make_unique<RaftLog>(storage);
  tracker_ = std::make_unique<ProgressTracker>(options_.max_inflight_appends);

  const pb::HardState hard_state = storage.hard_state();
  term_ = hard_state.term();
  vote_ = hard_state.vote();
  last_handed_out_hard_state_ = hard_state;
  last_handed_out_hard_state_.set_commit(hard_state_commit());
  persisted_ = PersistMark{.snapshot_index = 0,
                           .last_index = log_->last_index(),
                           .last_term = log_->last_term(),
                           .term = term_,
                           .vote = vote_};

  restore_configurations(storage);

  become_follower(term_, kNoNode);
  restarted_ = term_ > 0;
  last_soft_state_ = soft_state();
}

Raft::~Raft() = default;

Index Raft::commit_index() const { return log_->committed(); }
Index Raft::last_index() const { return log_->last_index(); }

// ---------------------------------------------------------------------------
// Role transitions

void Raft::reset(Term term) {
  fail_pending_reads();
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  tracker_->reset_votes();
  tracker_->reset_progress(log_->last_index() + 1, options_.id, log_->persisted_index());
  uncommitted_bytes_ = 0;
  uncommitted_batches_.clear();
  self_vote_persisted_ = false;
  transfer_target_ = kNoNode;
  timeout_now_sent_ = false;
  term_start_index_ = 0;
  pending_conf_index_ = 0;
  acked_round_.clear();
  acked_tick_.clear();
  quick_voters_.clear();
  answered_broadcast_.clear();
  read_round_wide_ = true;
}

void Raft::become_follower(Term term, NodeId leader) {
  reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void Raft::become_pre_candidate() {
  // A pre-candidate changes neither its term nor its vote (dissertation §9.6): if the
  // probe fails, nobody was disturbed.
  assert(role_ != Role::kLeader);
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  tracker_->reset_votes();
}

void Raft::become_candidate() {
  assert(role_ != Role::kLeader);
  reset(term_ + 1);
  vote_ = options_.id;
  role_ = Role::kCandidate;
}

void Raft::become_leader() {
  assert(role_ == Role::kCandidate);
  reset(term_);
  role_ = Role::kLeader;
  leader_ = options_.id;
  // Entries of earlier terms may hold a configuration change; treat them as pending so
  // no new change is proposed before they commit.
  pending_conf_index_ = log_->last_index();
  term_start_index_ = log_->last_index() + 1;
  // §5.4.2 / §8: a leader cannot count replicas of earlier terms' entries to commit
  // them, so it appends an entry of its own term at once; committing it commits
  // everything before it.
  pb::Entry noop;
  noop.set_term(term_);
  noop.set_index(log_->last_index() + 1);
  noop.set_type(pb::ENTRY_NOOP);
  std::vector<pb::Entry> entries;
  entries.push_back(std::move(noop));
  log_->append(std::move(entries));
  broadcast_append();
}

// ---------------------------------------------------------------------------
// Time

void Raft::reset_randomized_election_timeout() {
  const auto base = static_cast<std::uint64_t>(options_.election_timeout_ticks);
  randomized_election_timeout_ = static_cast<int>(rng_.between(base, 2 * base - 1));
}

bool Raft::past_election_timeout() const {
  return election_elapsed_ >= randomized_election_timeout_;
}

void Raft::tick() {
  ++ticks_;
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  // Saturates: a learner or removed node cut off for years never resets it.
  if (election_elapsed_ < std::numeric_limits<int>::max()) ++election_elapsed_;
  if (election_elapsed_ >= options_.election_timeout_ticks) restarted_ = false;
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    start_election(options_.pre_vote, /*transfer=*/false);
  } else if (is_learner() && past_election_timeout()) {
    // Its own count, not election_elapsed_: that one also says how long ago a leader
    // was heard from (in_lease), and a learner that asks has heard from none.
    if (member_check_elapsed_ == 0) ask_if_still_member();
    member_check_elapsed_ = (member_check_elapsed_ + 1) % options_.election_timeout_ticks;
  } else {
    member_check_elapsed_ = 0;
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= options_.election_timeout_ticks) {
    election_elapsed_ = 0;
    // A transfer that has not completed within an election timeout has failed
    // (the target is down or slow): resume normal operation.
    transfer_target_ = kNoNode;
    // CheckQuorum (dissertation §6.2): a leader cut off from a majority steps down,
    // so clients stop waiting on it and lease reads stay safe.
    if (options_.check_quorum && !tracker_->quorum_active(options_.id)) {
      become_follower(term_, kNoNode);
      return;
    }
  }
  if (heartbeat_elapsed_ >= options_.heartbeat_interval_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();  // carries the round in flight to every voter
    read_round_wide_ = true;
  } else if (!read_round_wide_ && !pending_reads_.empty() &&
             ticks_ >= read_round_tick_ + static_cast<std::uint64_t>(options_.read_round_widen_ticks)) {
    // The voters asked did not confirm the round in time (slow, or gone): ask all.
    broadcast_heartbeat();
    read_round_wide_ = true;
  }
}

// ---------------------------------------------------------------------------
// Elections (§5.2, §5.4.1; PreVote: dissertation §9.6)

bool Raft::promotable() const {
  return tracker_->is_voter(options_.id) && !removed();
}

void Raft::campaign() {
  if (role_ == Role::kLeader || !promotable()) return;
  start_election(/*pre_vote=*/false, /*transfer=*/false);
}

void Raft::start_election(bool pre_vote, bool transfer) {
  if (!promotable()) return;
  Term vote_term;
  if (pre_vote) {
    become_pre_candidate();
    vote_term = term_ + 1;  // the term it would campaign in; not adopted
  } else {
    become_candidate();
    vote_term = term_;
  }
  for (NodeId voter : tracker_->quorum().all_voters()) {
    if (voter == options_.id) continue;
    pb::Message m = new_message(voter);
    m.set_term(vote_term);
    pb::VoteRequest* request = m.mutable_vote_request();
    request->set_last_log_index(log_->last_index());
    request->set_last_log_term(log_->last_term());
    request->set_pre_vote(pre_vote);
    request->set_transfer(transfer);
    send(std::move(m));
  }
  if (pre_vote) {
    // A pre-vote promises nothing durable, so the candidate's own counts at once.
    record_vote(options_.id, true);
  }
  // A real self-vote counts only once the new term and vote are durable
  // (on_persisted): otherwise a crash could let this node vote again in this term.
}

bool Raft::in_lease() const {
  // A follower that heard from a live leader within the minimum election timeout
  // ignores vote requests (dissertation §4.2.3), so a removed or partitioned server
  // cannot depose a healthy leader. A restarted node cannot tell when it last heard
  // from one, so it keeps the promise for an election timeout after restarting.
  return options_.check_quorum && (leader_ != kNoNode || restarted_) &&
         election_elapsed_ < options_.election_timeout_ticks;
}

void Raft::handle_vote_request(const pb::Message& m) {
  const pb::VoteRequest& request = m.vote_request();
  const bool pre_vote = request.pre_vote();
  // One vote per term (§5.2). A pre-vote for a future term promises nothing, so it
  // may be granted whatever our vote in the current term was.
  // A pre-vote is also refused while we hear from a live leader (dissertation §9.6),
  // even without CheckQuorum: the probe exists to stop needless elections.
  const bool heard_from_leader = leader_ != kNoNode && election_elapsed_ < options_.election_timeout_ticks &&
                                 !request.transfer();
  const bool can_vote = vote_ == m.from() || (vote_ == kNoNode && leader_ == kNoNode) ||
                        (pre_vote && m.term() > term_ && !heard_from_leader);
  const bool granted =
      can_vote && (log_->is_up_to_date(request.last_log_term(), request.last_log_index()) ||
                   RAFT_PLANTED(kVoteWithoutLogCheck));

  pb::Message response = new_message(m.from());
  response.mutable_vote_response()->set_pre_vote(pre_vote);
  response.mutable_vote_response()->set_granted(granted);
  if (granted) {
    // A granted pre-vote echoes the request's term (ours is unchanged); a real vote
    // is in our term, which step() already raised to the candidate's.
    response.set_term(m.term());
    if (!pre_vote) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  }
  if (RAFT_PLANTED(kVoteBeforePersist)) {
    send(std::move(response));
    return;
  }
  send_persisted(std::move(response));
}

void Raft::handle_vote_response(const pb::Message& m) {
  const pb::VoteResponse& response = m.vote_response();
  const bool expecting_pre_vote = role_ == Role::kPreCandidate;
  if (response.pre_vote() != expecting_pre_vote) return;  // from an earlier phase
  if (expecting_pre_vote && response.granted() && m.term() != term_ + 1) return;
  record_vote(m.from(), response.granted());
}

void Raft::record_vote(NodeId voter, bool granted) {
  tracker_->record_vote(voter, granted);
  tally_votes();
}

void Raft::tally_votes() {
  switch (tracker_->vote_result()) {
    case VoteOutcome::kWon:
      if (role_ == Role::kPreCandidate) {
        start_election(/*pre_vote=*/false, /*transfer=*/false);
      } else if (role_ == Role::kCandidate) {
        become_leader();
      }
      break;
    case VoteOutcome::kLost:
      become_follower(term_, kNoNode);
      break;
    case VoteOutcome::kPending:
      break;
  }
}

// ---------------------------------------------------------------------------
// Step: settle the term first (§5.1), then dispatch on role.

bool Raft::step(const pb::Message& m) {
  if (m.to() != options_.id || m.from() == kNoNode || m.from() == options_.id ||
      m.body_case() == pb::Message::BODY_NOT_SET) {
    return false;
  }

  if (m.has_not_member()) {
    handle_not_member(m);  // whatever its term: it is about membership, not leadership
    return true;
  }
  tell_if_not_member(m);
  if (m.has_member_check()) return true;  // answered above if it is not a member

  const bool is_vote_request = m.has_vote_request();
  const bool is_pre_vote_request = is_vote_request && m.vote_request().pre_vote();

  if (m.term() > term_ && role_ == Role::kLeader && RAFT_PLANTED(kLeaderIgnoresHigherTerm)) {
    term_ = m.term();  // adopts the term but keeps leading
    vote_ = kNoNode;
  } else if (m.term() > term_) {
    if (is_vote_request && !m.vote_request().transfer() && in_lease()) {
      return true;  // a live leader exists: ignore, and do not adopt the term
    }
    const bool granted_pre_vote =
        m.has_vote_response() && m.vote_response().pre_vote() && m.vote_response().granted();
    if (!is_pre_vote_request && !granted_pre_vote) {
      const bool from_leader =
          m.has_append_request() || m.has_heartbeat_request() || m.has_snapshot_request();
      become_follower(m.term(), from_leader ? m.from() : kNoNode);
    }
  } else if (m.term() < term_) {
    if (m.has_append_request() || m.has_heartbeat_request()) {
      respond_to_stale_leader(m);
    } else if (is_vote_request) {
      // Refused with our term (§5.1), so the candidate catches up. A candidate with the
      // longest log but a lower term may hear of the higher term from nobody else:
      // voters in a higher term whose logs are behind cannot win, and in a joint
      // configuration they may be the votes it needs (simulator seed 30805, 7 nodes).
      pb::Message response = new_message(m.from());
      response.mutable_vote_response()->set_pre_vote(is_pre_vote_request);
      response.mutable_vote_response()->set_granted(false);
      send_persisted(std::move(response));
    }
    return true;
  }

  if (is_vote_request) {
    handle_vote_request(m);
    return true;
  }
  switch (role_) {
    case Role::kLeader: step_leader(m); break;
    case Role::kCandidate:
    case Role::kPreCandidate: step_candidate(m); break;
    case Role::kFollower: step_follower(m); break;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Removal (dissertation §4.2.3: a removed server never hears of its removal)

bool Raft::removed() const {
  if (removed_at_ > current_configuration_index()) return true;
  // A leader that removed itself manages the cluster until the change commits.
  return !named_in_configuration_ && configuration_.voters_size() > 0 && role_ != Role::kLeader;
}

void Raft::tell_if_not_member(const pb::Message& m) {
  // Only what a member sends of its own accord or to a leader. A leader's requests
  // are followed whoever sends them (a configuration newer than ours may name it).
  const bool from_a_member = m.has_vote_request() || m.has_append_response() ||
                             m.has_heartbeat_response() || m.has_read_index_request() ||
                             m.has_member_check();
  // An uncommitted configuration may yet be truncated and replaced by one naming the
  // sender; a committed one is a fact, whoever holds it.
  const Index index = current_configuration_index();
  if (!from_a_member || configuration_.voters_size() == 0 || index > log_->committed() ||
      is_member(configuration_, m.from())) {
    return;
  }
  pb::Message notice = new_message(m.from());
  notice.mutable_not_member()->set_configuration_index(index);
  send(std::move(notice));
}

void Raft::tell_removed_members() {
  // The leader stopped replicating to a removed member once the change was appended,
  // so the member may never see it: it is told once the change commits. (One that
  // misses this hears it at its next vote request; a learner never asks.)
  const Index index = current_configuration_index();
  if (index <= removals_told_index_) return;
  removals_told_index_ = index;
  for (NodeId id : member_ids(configuration_at(index - 1))) {
    if (id == options_.id || is_member(configuration_, id)) continue;
    pb::Message notice = new_message(id);
    notice.mutable_not_member()->set_configuration_index(index);
    send(std::move(notice));
  }
}

bool Raft::is_learner() const {
  return named_in_configuration_ && !tracker_->is_voter(options_.id) && !removed();
}

void Raft::ask_if_still_member() {
  // A learner asks nothing of its own accord otherwise: had it missed the leader's
  // notice of its removal, nothing would ever tell it.
  for (NodeId voter : tracker_->quorum().all_voters()) {
    pb::Message check = new_message(voter);
    check.mutable_member_check();
    send(std::move(check));
  }
}

void Raft::handle_not_member(const pb::Message& m) {
  // removed() compares it with the newest configuration we hold, which decides when
  // it is at that index or later (the sender's is then older).
  removed_at_ = std::max(removed_at_, m.not_member().configuration_index());
  if (removed()) become_follower(term_, kNoNode);  // no leader will talk to us again
}

SoftState Raft::soft_state() const {
  return SoftState{leader_, role_, term_, removed()};
}

void Raft::respond_to_stale_leader(const pb::Message& m) {
  // A leader of an older term is talking to us. We may have a higher term it never
  // learns of otherwise: we never win the elections that raised it, and it never
  // hears our votes (PreVote and CheckQuorum keep them from it, and so does a
  // configuration of ours that does not name it). Answering with our term makes it
  // step down instead of the cluster being stuck.
  pb::Message response = new_message(m.from());
  response.mutable_append_response()->set_success(false);
  response.mutable_append_response()->set_last_index(log_->last_index());
  send_persisted(std::move(response));
}

void Raft::step_leader(const pb::Message& m) {
  switch (m.body_case()) {
    case pb::Message::kAppendResponse: handle_append_response(m); break;
    case pb::Message::kHeartbeatResponse: handle_heartbeat_response(m); break;
    case pb::Message::kReadIndexRequest: handle_read_index_request(m); break;
    default: break;  // votes of a finished election, or not for a leader
  }
}

void Raft::step_candidate(const pb::Message& m) {
  switch (m.body_case()) {
    case pb::Message::kAppendRequest:
    case pb::Message::kHeartbeatRequest:
    case pb::Message::kSnapshotRequest:
      // A leader exists in our term (§5.2: "if AppendEntries RPC received from new
      // leader: convert to follower").
      become_follower(m.term(), m.from());
      step_follower(m);
      break;
    case pb::Message::kVoteResponse: handle_vote_response(m); break;
    case pb::Message::kReadIndexRequest: handle_read_index_request(m); break;
    case pb::Message::kReadIndexResponse: handle_read_index_response(m); break;
    default: break;
  }
}

void Raft::step_follower(const pb::Message& m) {
  switch (m.body_case()) {
    case pb::Message::kAppendRequest:
      leader_ = m.from();
      election_elapsed_ = 0;
      handle_append_request(m);
      break;
    case pb::Message::kHeartbeatRequest:
      leader_ = m.from();
      election_elapsed_ = 0;
      handle_heartbeat_request(m);
      break;
    case pb::Message::kSnapshotRequest:
      leader_ = m.from();
      election_elapsed_ = 0;
      handle_snapshot_request(m);
      break;
    case pb::Message::kTimeoutNow: handle_timeout_now(); break;
    case pb::Message::kReadIndexRequest: handle_read_index_request(m); break;
    case pb::Message::kReadIndexResponse: handle_read_index_response(m); break;
    default: break;
  }
}

// ---------------------------------------------------------------------------
// Replication, follower side (§5.3)

void Raft::handle_append_request(const pb::Message& m) {
  const pb::AppendRequest& request = m.append_request();
  pb::Message response = new_message(m.from());
  pb::AppendResponse* out = response.mutable_append_response();

  if (request.prev_log_index() < log_->committed()) {
    // Everything up to our commit index matches the leader's log already (Leader
    // Completeness); the request is a duplicate or reordered one.
    out->set_success(true);
    out->set_index(log_->committed());
  } else if (const std::optional<Index> last_new = log_->maybe_append(
                 request.prev_log_index(),
                 RAFT_PLANTED(kAppendWithoutPrevCheck)
                     ? log_->term(request.prev_log_index()).value_or(request.prev_log_term())
                     : request.prev_log_term(),
                 request.entries())) {
    // A configuration takes effect when appended, and is undone if truncated.
    drop_truncated_configurations();
    for (const pb::Entry& entry : request.entries()) {
      if (entry.type() == pb::ENTRY_CONF_CHANGE) track_configuration(entry);
    }
    // "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of
    // last new entry)" (Figure 2).
    log_->commit_to(std::min(request.commit(), *last_new));
    out->set_success(true);
    out->set_index(*last_new);
  } else {
    out->set_success(false);
    out->set_index(request.prev_log_index());
    const Index hint = log_->find_conflict_by_term(request.prev_log_index(), request.prev_log_term());
    out->set_conflict_index(hint);
    out->set_conflict_term(log_->term(hint).value_or(0));
  }
  out->set_last_index(log_->last_index());
  send_persisted(std::move(response));
}

void Raft::handle_heartbeat_request(const pb::Message& m) {
  const pb::HeartbeatRequest& request = m.heartbeat_request();
  // The leader caps the commit index at what we are known to hold, so this never
  // commits an entry that might differ from the leader's.
  log_->commit_to(std::min(request.commit(), log_->last_index()));
  pb::Message response = new_message(m.from());
  response.mutable_heartbeat_response()->set_read_round(request.read_round());
  response.mutable_heartbeat_response()->set_leader_tick(request.leader_tick());
  send_persisted(std::move(response));
}

// ---------------------------------------------------------------------------
// Replication, leader side

ProposeResult Raft::propose(std::span<const std::string> commands) {
  ProposeResult result;
  if (role_ != Role::kLeader) {
    result.error = ProposeError::kNotLeader;
    return result;
  }
  if (transfer_target_ != kNoNode) {
    result.error = ProposeError::kTransferring;
    return result;
  }
  if (commands.empty()) {
    result.error = ProposeError::kEmptyBatch;
    return result;
  }
  std::uint64_t bytes = 0;
  for (const std::string& command : commands) bytes += command.size();
  // Always admit a batch when nothing is outstanding, so one oversized batch cannot
  // be refused forever.
  if (uncommitted_bytes_ > 0 && options_.max_uncommitted_bytes != kNoLimit &&
      uncommitted_bytes_ + bytes > options_.max_uncommitted_bytes) {
    result.error = ProposeError::kTooManyUncommitted;
    return result;
  }

  std::vector<pb::Entry> entries;
  entries.reserve(commands.size());
  Index index = log_->last_index();
  for (const std::string& command : commands) {
    pb::Entry& entry = entries.emplace_back();
    entry.set_term(term_);
    entry.set_index(++index);
    entry.set_type(pb::ENTRY_NORMAL);
    entry.set_data(command);
  }
  result.first_index = log_->last_index() + 1;
  result.last_index = log_->append(std::move(entries));
  result.term = term_;
  uncommitted_bytes_ += bytes;
  uncommitted_batches_.emplace_back(result.last_index, bytes);
  broadcast_append();
  return result;
}

void Raft::release_uncommitted(Index committed) {
  while (!uncommitted_batches_.empty() && uncommitted_batches_.front().first <= committed) {
    uncommitted_bytes_ -= uncommitted_batches_.front().second;
    uncommitted_batches_.pop_front();
  }
}

bool Raft::maybe_commit() {
  const Index index = tracker_->committed_index();
  // §5.4.2 (Figure 8): only an entry of the current term is committed by counting
  // replicas; earlier entries are committed indirectly, by the Log Matching Property.
  if (index <= log_->committed() || index == kNoLimit) return false;
  if (!log_->match_term(index, term_) && !RAFT_PLANTED(kCommitOldTermByCounting)) return false;
  log_->commit_to(index);
  release_uncommitted(index);
  after_commit();
  return true;
}

void Raft::after_commit() {
  const Index committed = log_->committed();
  if (committed >= term_start_index_ && !reads_awaiting_commit_.empty()) {
    // The no-op of this term is committed: the commit index is now at least as new as
    // any previous leader's, so it can serve as a read index.
    auto waiting = std::move(reads_awaiting_commit_);
    reads_awaiting_commit_.clear();
    for (auto& [context, from] : waiting) start_read(std::move(context), from, /*lease=*/false);
  }
  const pb::Configuration& configuration = current_configuration();
  if (current_configuration_index() > committed) return;
  tell_removed_members();
  // A leader that removed itself manages the cluster until the change commits, then
  // steps down (dissertation §4.2.2).
  if (!tracker_->is_voter(options_.id)) {
    become_follower(term_, kNoNode);
    return;
  }
  if (is_joint(configuration) && configuration.auto_leave() && pending_conf_index_ <= committed) {
    pb::ConfChange leave;  // no changes: leave the joint configuration
    ConfChangeResult next = apply_conf_change(configuration, leave);
    assert(next.configuration);
    *leave.mutable_configuration() = std::move(*next.configuration);
    append_conf_change(leave);
  }
}

ProposeResult Raft::propose_conf_change(const pb::ConfChange& change, std::string* error) {
  ProposeResult result;
  if (role_ != Role::kLeader) {
    result.error = ProposeError::kNotLeader;
    return result;
  }
  if (transfer_target_ != kNoNode) {
    result.error = ProposeError::kTransferring;
    return result;
  }
  // One change at a time, and only once this leader has committed an entry of its
  // own term (otherwise an uncommitted change of a previous leader could still be
  // pending, and two overlapping changes could produce disjoint majorities).
  if ((pending_conf_index_ > log_->committed() || log_->committed() < term_start_index_) &&
      !RAFT_PLANTED(kConfChangeWhileInFlight)) {
    result.error = ProposeError::kConfChangeInProgress;
    return result;
  }
  const ConfChangeResult next = apply_conf_change(current_configuration(), change);
  if (!next.configuration) {
    result.error = ProposeError::kInvalidConfChange;
    if (error != nullptr) *error = next.error;
    return result;
  }
  pb::ConfChange with_result = change;
  *with_result.mutable_configuration() = *next.configuration;
  result.first_index = result.last_index = append_conf_change(with_result);
  result.term = term_;
  return result;
}

Index Raft::append_conf_change(const pb::ConfChange& change) {
  assert(change.has_configuration() && "the leader records the resulting configuration");
  std::vector<pb::Entry> entries(1);
  pb::Entry& entry = entries.front();
  entry.set_term(term_);
  entry.set_index(log_->last_index() + 1);
  entry.set_type(pb::ENTRY_CONF_CHANGE);
  entry.set_data(change.SerializeAsString());
  const pb::Entry copy = entry;
  const Index index = log_->append(std::move(entries));
  pending_conf_index_ = index;
  track_configuration(copy);
  broadcast_append();
  return index;
}

bool Raft::send_append(NodeId to, bool send_if_empty) {
  Progress* progress = tracker_->progress(to);
  if (progress == nullptr || progress->paused()) return false;
  // Under load most appends are held back: decide before slicing (copying) the
  // entries whenever the log can tell from memory that the append would be partial.
  const bool holds_back = holds_back_partial_append(to, *progress);
  if (holds_back && log_->unstable_tail_fits(progress->next_index(), options_.max_append_bytes)) return false;

  const Index prev_index = progress->next_index() - 1;
  const std::optional<Term> prev_term = log_->term(prev_index);
  std::optional<std::vector<pb::Entry>> entries;
  if (prev_term) {
    entries = log_->slice(progress->next_index(), log_->last_index() + 1, options_.max_append_bytes);
  }
  if (!prev_term || !entries) {
    // The entries this follower needs were compacted into a snapshot (§7).
    return send_snapshot(to, *progress);
  }
  if (entries->empty() && !send_if_empty) return false;
  const bool partial = entries->empty() || entries->back().index() == log_->last_index();
  if (holds_back && partial) return false;

  pb::Message m = new_message(to);
  pb::AppendRequest* request = m.mutable_append_request();
  request->set_prev_log_index(prev_index);
  request->set_prev_log_term(*prev_term);
  request->set_commit(log_->committed());
  const bool has_entries = !entries->empty();
  const Index last = has_entries ? entries->back().index() : prev_index;
  request->mutable_entries()->Reserve(static_cast<int>(entries->size()));
  for (pb::Entry& entry : *entries) *request->add_entries() = std::move(entry);
  progress->on_append_sent(last, has_entries);
  progress->set_commit_sent(log_->committed());
  send(std::move(m));
  return true;
}

bool Raft::holds_back_partial_append(NodeId to, const Progress& progress) const {
  // An empty append held back only carried the commit index: the answer to the one
  // in flight sends it (handle_append_response). A transfer target is not held back:
  // the transfer waits for it to catch up.
  return options_.coalesce_appends && progress.state() == ProgressState::kReplicate &&
         progress.inflights().count() > 0 && to != transfer_target_;
}

void Raft::broadcast_append() {
  for (const auto& [id, progress] : tracker_->all()) {
    if (id == options_.id) continue;
    // The first message may be empty (it carries the commit index); the rest stream
    // whatever else the pipelining window allows.
    if (send_append(id, /*send_if_empty=*/true)) {
      while (send_append(id, /*send_if_empty=*/false)) {
      }
    }
  }
}

bool Raft::send_snapshot(NodeId to, Progress& progress) {
  const pb::SnapshotMetadata metadata = log_->snapshot_metadata();
  if (metadata.index() == 0) return false;
  progress.become_snapshot(metadata.index());
  // Only the metadata: the runtime streams the data from its snapshot store and
  // reports the outcome with report_snapshot().
  pb::Message m = new_message(to);
  *m.mutable_snapshot_request()->mutable_metadata() = metadata;
  m.mutable_snapshot_request()->set_done(true);
  send(std::move(m));
  return true;
}

void Raft::report_snapshot(NodeId to, bool ok) {
  Progress* progress = tracker_->progress(to);
  if (role_ != Role::kLeader || progress == nullptr ||
      progress->state() != ProgressState::kSnapshot) {
    return;
  }
  if (ok) {
    progress->become_probe();  // resumes after the snapshot; the next ack confirms it
  } else {
    progress->on_snapshot_failed();
  }
}

void Raft::handle_snapshot_request(const pb::Message& m) {
  const pb::SnapshotMetadata& metadata = m.snapshot_request().metadata();
  pb::Message response = new_message(m.from());
  pb::AppendResponse* out = response.mutable_append_response();
  out->set_success(true);
  if (metadata.index() <= log_->committed()) {
    out->set_index(log_->committed());  // stale: we already have all of it
  } else if (log_->match_term(metadata.index(), metadata.term()) ||
             (RAFT_PLANTED(kSnapshotMatchIgnoresTerm) && log_->term(metadata.index()))) {
    // Our log already contains the snapshot's last entry: by Log Matching everything
    // up to it matches, so just commit it and keep the rest of the log.
    log_->commit_to(metadata.index());
    out->set_index(metadata.index());
  } else {
    log_->restore(metadata);
    base_configuration_ = metadata.configuration();
    base_configuration_index_ = metadata.index();
    configurations_.clear();
    apply_configuration(base_configuration_);
    out->set_index(metadata.index());
  }
  out->set_last_index(log_->last_index());
  send_persisted(std::move(response));
}

void Raft::send_heartbeat(NodeId to) {
  const Progress* progress = tracker_->progress(to);
  pb::Message m = new_message(to);
  pb::HeartbeatRequest* request = m.mutable_heartbeat_request();
  request->set_commit(std::min(progress->match_index(), log_->committed()));
  request->set_read_round(read_round_);
  request->set_leader_tick(ticks_);
  send(std::move(m));
}

void Raft::broadcast_heartbeat() {
  if (!answered_broadcast_.empty()) quick_voters_ = std::move(answered_broadcast_);
  answered_broadcast_.clear();
  broadcast_tick_ = ticks_;
  broadcast_round_ = read_round_;
  for (const auto& [id, progress] : tracker_->all()) {
    if (id != options_.id) send_heartbeat(id);
  }
}

void Raft::handle_append_response(const pb::Message& m) {
  Progress* progress = tracker_->progress(m.from());
  if (progress == nullptr) return;
  progress->set_recently_active(true);
  const pb::AppendResponse& response = m.append_response();

  if (!response.success()) {
    // Skip every index where our term is greater than the follower's term at its
    // hint: those entries cannot match.
    const Index probe = log_->find_conflict_by_term(response.conflict_index(), response.conflict_term());
    if (progress->on_reject(response.index(), probe + 1)) {
      send_append(m.from(), /*send_if_empty=*/true);
    }
    return;
  }

  const bool was_paused = progress->paused();
  if (!progress->on_ack(response.index())) {
    // Nothing new matched, but the window may have opened.
    if (was_paused && !progress->paused()) {
      while (send_append(m.from(), /*send_if_empty=*/false)) {
      }
    }
    return;
  }
  if (progress->state() == ProgressState::kProbe ||
      (progress->state() == ProgressState::kSnapshot &&
       progress->match_index() >= progress->pending_snapshot())) {
    progress->become_replicate();
  }
  if (maybe_commit()) {
    if (role_ != Role::kLeader) return;  // removed by the change that just committed
    commit_broadcast_pending_ = true;    // tell everyone the new commit index (ready())
    // The commit may have changed the configuration (leaving a joint one), which
    // rebuilds every follower's Progress: `progress` points at freed memory now.
    progress = tracker_->progress(m.from());
    if (progress == nullptr) return;
  } else {
    while (send_append(m.from(), /*send_if_empty=*/false)) {
    }
    // Coalescing held back the append that would have told this follower the commit
    // index; with the window now empty, tell it (a follower applies only what it knows
    // to be committed).
    if (options_.coalesce_appends && progress->inflights().count() == 0 &&
        progress->commit_sent() < log_->committed()) {
      send_append(m.from(), /*send_if_empty=*/true);
    }
  }
  if (m.from() == transfer_target_ && progress->match_index() == log_->last_index()) {
    send_timeout_now(m.from());
  }
}

void Raft::handle_heartbeat_response(const pb::Message& m) {
  Progress* progress = tracker_->progress(m.from());
  if (progress == nullptr) return;
  progress->set_recently_active(true);
  progress->on_heartbeat_response(options_.coalesce_appends);
  const pb::HeartbeatResponse& response = m.heartbeat_response();
  std::uint64_t& round = acked_round_[m.from()];
  round = std::max(round, response.read_round());
  std::uint64_t& tick = acked_tick_[m.from()];
  tick = std::max(tick, response.leader_tick() + 1);  // +1: 0 means "never"
  // An answer to the latest broadcast (a narrow round sent in the same tick with the
  // same round number cannot be told apart; it only counts its target as quick).
  if (response.leader_tick() == broadcast_tick_ && response.read_round() == broadcast_round_ &&
      std::find(answered_broadcast_.begin(), answered_broadcast_.end(), m.from()) == answered_broadcast_.end()) {
    answered_broadcast_.push_back(m.from());
  }
  release_confirmed_reads();
  if (progress->match_index() < log_->last_index()) {
    send_append(m.from(), /*send_if_empty=*/true);
  }
}

// ---------------------------------------------------------------------------
// Leadership transfer (dissertation §3.10)

std::optional<TransferError> Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return TransferError::kNotLeader;
  if (to == options_.id) return std::nullopt;  // already leading
  Progress* progress = tracker_->progress(to);
  if (progress == nullptr) return TransferError::kUnknownTarget;
  if (!tracker_->is_voter(to)) return TransferError::kTargetIsLearner;
  if (transfer_target_ == to) return std::nullopt;  // already under way
  transfer_target_ = to;
  election_elapsed_ = 0;  // the transfer is aborted after one election timeout
  if (progress->match_index() == log_->last_index()) {
    send_timeout_now(to);
  } else {
    send_append(to, /*send_if_empty=*/true);
  }
  return std::nullopt;
}

void Raft::send_timeout_now(NodeId to) {
  timeout_now_sent_ = true;
  pb::Message m = new_message(to);
  m.mutable_timeout_now();
  send(std::move(m));
}

void Raft::handle_timeout_now() {
  // Campaign at once, skipping PreVote, and tell voters to disregard their leader
  // lease: the leader itself asked for this election.
  if (promotable()) start_election(/*pre_vote=*/false, /*transfer=*/true);
}

// ---------------------------------------------------------------------------
// Linearizable reads (dissertation §6.4, §6.4.1)

void Raft::read_index(std::string context, ReadMode mode) {
  const bool lease = mode == ReadMode::kLease;
  if (role_ == Role::kLeader) {
    start_read(std::move(context), options_.id, lease);
  } else if (role_ == Role::kFollower && leader_ != kNoNode && !removed()) {
    // (A removed node's leader no longer replicates to it: it could never apply up
    // to the read index.)
    pb::Message m = new_message(leader_);
    m.mutable_read_index_request()->set_context(std::move(context));
    m.mutable_read_index_request()->set_lease(lease);
    send(std::move(m));
  } else {
    read_states_.push_back(ReadState{std::move(context), 0, false});
  }
}

void Raft::handle_read_index_request(const pb::Message& m) {
  if (role_ != Role::kLeader) {
    pb::Message response = new_message(m.from());
    response.mutable_read_index_response()->set_context(m.read_index_request().context());
    response.mutable_read_index_response()->set_rejected(true);
    send(std::move(response));
    return;
  }
  start_read(m.read_index_request().context(), m.from(), m.read_index_request().lease());
}

void Raft::handle_read_index_response(const pb::Message& m) {
  const pb::ReadIndexResponse& response = m.read_index_response();
  read_states_.push_back(ReadState{response.context(), response.index(), !response.rejected()});
}

bool Raft::lease_valid() const {
  if (RAFT_PLANTED(kLeaseWithoutCheckQuorum)) {
    return role_ == Role::kLeader && log_->committed() >= term_start_index_;
  }
  const bool transferring =
      (transfer_target_ != kNoNode || timeout_now_sent_) && !RAFT_PLANTED(kLeaseDuringTransfer);
  if (!options_.check_quorum || role_ != Role::kLeader || transferring ||
      log_->committed() < term_start_index_) {
    return false;
  }
  // The latest tick such that a quorum acknowledged a heartbeat sent at or after it.
  // Those followers will not vote for anyone else for an election timeout after
  // receiving it, so no other leader can exist before that tick + timeout.
  const Index quorum_tick = tracker_->quorum().committed_index([this](NodeId id) -> std::optional<Index> {
    if (id == options_.id) return ticks_ + 1;
    auto it = acked_tick_.find(id);
    if (it == acked_tick_.end()) return std::nullopt;
    return it->second;
  });
  if (quorum_tick == 0) return false;
  const std::uint64_t sent_tick = quorum_tick - 1;
  const auto horizon = static_cast<std::uint64_t>(
      std::max(0, options_.election_timeout_ticks - options_.lease_drift_margin_ticks));
  return sent_tick + horizon > ticks_;
}

void Raft::start_read(std::string context, NodeId from, bool lease) {
  if (log_->committed() < term_start_index_) {
    // Until its no-op commits, a new leader's commit index may lag the previous
    // leader's: it cannot serve as a read index yet.
    reads_awaiting_commit_.emplace_back(std::move(context), from);
    return;
  }
  const bool alone = tracker_->quorum().vote_result([this](NodeId id) -> std::optional<bool> {
                       return id == options_.id;
                     }) == VoteOutcome::kWon;
  if (alone || (lease && lease_valid()) || RAFT_PLANTED(kReadIndexWithoutHeartbeat)) {
    complete_read(PendingRead{std::move(context), log_->committed(), from}, true);
    return;
  }
  reads_awaiting_round_.emplace_back(std::move(context), from);
  if (pending_reads_.empty()) start_read_round();
}

// One heartbeat round in flight at a time: the reads that arrive meanwhile share the
// next one, so a stream of reads costs a round per round trip rather than one per
// batch. The read index is taken when the round starts, after every read in it
// arrived, and the round confirms leadership after that: both orders ReadIndex needs.
// A round whose answers are lost is confirmed by the next periodic heartbeat, which
// carries the latest round.
void Raft::start_read_round() {
  if (reads_awaiting_round_.empty()) return;
  ++read_round_;
  for (auto& [context, from] : reads_awaiting_round_) {
    pending_reads_.push_back(PendingRead{std::move(context), log_->committed(), from});
  }
  reads_awaiting_round_.clear();
  if (options_.narrow_read_rounds && !quick_voters_.empty()) {
    send_narrow_read_round();
  } else {
    broadcast_heartbeat();  // narrowing off, or nothing measured yet: ask everyone
    read_round_wide_ = true;
  }
  release_confirmed_reads();  // a leader that is a quorum on its own confirms it at once
}

void Raft::send_narrow_read_round() {
  read_round_tick_ = ticks_;
  read_round_wide_ = false;
  std::vector<NodeId> asked;
  auto asked_make_quorum = [&] {
    return tracker_->quorum().vote_result([&](NodeId id) -> std::optional<bool> {
             return id == options_.id || std::find(asked.begin(), asked.end(), id) != asked.end();
           }) == VoteOutcome::kWon;
  };
  auto ask = [&](NodeId id) {
    if (id == options_.id || !tracker_->is_voter(id) || asked_make_quorum() ||
        std::find(asked.begin(), asked.end(), id) != asked.end()) {
      return;
    }
    asked.push_back(id);
    send_heartbeat(id);
  };
  for (NodeId id : quick_voters_) ask(id);  // may name removed members: is_voter skips them
  for (const auto& [id, progress] : tracker_->all()) ask(id);
}

// The pending reads all belong to the latest round, read_round_ (start_read_round
// starts one only when none is pending): one quorum check confirms them together.
void Raft::release_confirmed_reads() {
  if (pending_reads_.empty()) return;
  const VoteOutcome outcome = tracker_->quorum().vote_result([&](NodeId id) -> std::optional<bool> {
    if (id == options_.id) return true;
    auto it = acked_round_.find(id);
    return it != acked_round_.end() && it->second >= read_round_;
  });
  if (outcome != VoteOutcome::kWon) return;
  for (const PendingRead& read : pending_reads_) complete_read(read, true);
  pending_reads_.clear();
  start_read_round();
}

void Raft::complete_read(const PendingRead& read, bool ok) {
  if (read.from == options_.id) {
    read_states_.push_back(ReadState{read.context, ok ? read.index : 0, ok});
    return;
  }
  pb::Message response = new_message(read.from);
  pb::ReadIndexResponse* out = response.mutable_read_index_response();
  out->set_context(read.context);
  out->set_index(ok ? read.index : 0);
  out->set_rejected(!ok);
  send(std::move(response));
}

void Raft::fail_pending_reads() {
  for (const PendingRead& read : pending_reads_) complete_read(read, false);
  pending_reads_.clear();
  for (auto* waiting : {&reads_awaiting_round_, &reads_awaiting_commit_}) {
    for (auto& [context, from] : *waiting) complete_read(PendingRead{context, 0, from}, false);
    waiting->clear();
  }
}

// ---------------------------------------------------------------------------
// Configuration

void Raft::restore_configurations(const LogStorage& storage) {
  const pb::SnapshotMetadata snapshot = storage.snapshot_metadata();
  base_configuration_ = snapshot.configuration();
  base_configuration_index_ = snapshot.index();
  configurations_.clear();
  // Configurations take effect when appended, so every change in the log counts,
  // committed or not.
  for_each_configuration_entry(storage,
                               [this](const pb::Entry& entry) { track_configuration(entry); });
  apply_configuration(current_configuration());
}

void Raft::track_configuration(const pb::Entry& entry) {
  if (entry.index() <= base_configuration_index_) return;
  // Already tracked (a duplicate append): after drop_truncated_configurations() any
  // record at or beyond this index is this very entry.
  if (!configurations_.empty() && configurations_.back().index >= entry.index()) return;
  pb::ConfChange change;
  // Undecodable or without a configuration: only possible from a buggy or foreign
  // leader; a no-op on every node alike, since all see the same log.
  if (!change.ParseFromString(entry.data()) || !change.has_configuration()) return;
  configurations_.push_back(ConfigRecord{entry.index(), entry.term(), change.configuration()});
  apply_configuration(configurations_.back().configuration);
}

void Raft::drop_truncated_configurations() {
  bool dropped = false;
  // A committed entry is never truncated, but it may be compacted away (the runtime
  // compacts storage behind the core's back), and then its term is unknown: only
  // records after the commit index can have been truncated.
  while (!configurations_.empty() && configurations_.back().index > log_->committed() &&
         !log_->match_term(configurations_.back().index, configurations_.back().term)) {
    configurations_.pop_back();
    dropped = true;
  }
  if (dropped) apply_configuration(current_configuration());
}

const pb::Configuration& Raft::current_configuration() const {
  return configurations_.empty() ? base_configuration_ : configurations_.back().configuration;
}

Index Raft::current_configuration_index() const {
  return configurations_.empty() ? base_configuration_index_ : configurations_.back().index;
}

pb::Configuration Raft::configuration_at(Index index) const {
  for (auto it = configurations_.rbegin(); it != configurations_.rend(); ++it) {
    if (it->index <= index) return it->configuration;
  }
  return base_configuration_;
}

void Raft::apply_configuration(const pb::Configuration& configuration) {
  configuration_ = configuration;
  ++configuration_version_;
  named_in_configuration_ = is_member(configuration_, options_.id);
  tracker_->set_configuration(configuration_, log_->last_index() + 1);
  // The round in flight is counted against the new quorum: a shrink may confirm it
  // now, with no ack left to come.
  if (role_ == Role::kLeader) release_confirmed_reads();
}

// ---------------------------------------------------------------------------
// Messages and Ready

pb::Message Raft::new_message(NodeId to) const {
  pb::Message m;
  m.set_from(options_.id);
  m.set_to(to);
  m.set_term(term_);
  return m;
}

Index Raft::hard_state_commit() const {
  // The stored commit index is restored (clamped to the last stored index) after a
  // restart, and it may be written lazily, without a sync: if it covered entries not
  // yet durable, a crash could keep it while losing those entries, and the restarted
  // node would take the stale entries still stored at those indexes for committed
  // ones. Entries up to the persisted index are durable and, being at or below the
  // commit index, never overwritten, so storing at most that is always safe.
  // A received snapshot is different: until its install is durable, storage may come
  // back from a crash as the old log, whose entries past the old commit index may be a
  // deposed leader's, beside whatever hard state survived. So the stored commit index
  // stays what it was until then (a restart from the installed snapshot takes the
  // snapshot's index as committed anyway).
  if (log_->snapshot_pending() && !RAFT_PLANTED(kCommitStoredBeforeInstall)) {
    return last_handed_out_hard_state_.commit();
  }
  return std::min(log_->committed(), log_->persisted_index());
}

void Raft::send(pb::Message&& m) { messages_.push_back(std::move(m)); }
void Raft::send_persisted(pb::Message&& m) { persisted_messages_.push_back(std::move(m)); }

bool Raft::has_ready() const {
  if (!messages_.empty() || !persisted_messages_.empty() || !read_states_.empty()) return true;
  if (commit_broadcast_pending_) return true;
  if (soft_state() != last_soft_state_) return true;
  if (term_ != last_handed_out_hard_state_.term() || vote_ != last_handed_out_hard_state_.vote() ||
      hard_state_commit() != last_handed_out_hard_state_.commit()) {
    return true;
  }
  return log_->has_unpersisted() || log_->has_committed_to_apply();
}

Ready Raft::ready() {
  if (commit_broadcast_pending_) {
    commit_broadcast_pending_ = false;
    if (role_ == Role::kLeader) broadcast_append();
  }
  Ready ready;
  const SoftState soft = soft_state();
  if (soft != last_soft_state_) {
    ready.soft_state = soft;
    last_soft_state_ = soft;
  }
  const bool term_or_vote_changed =
      term_ != last_handed_out_hard_state_.term() || vote_ != last_handed_out_hard_state_.vote();
  if (term_or_vote_changed || hard_state_commit() != last_handed_out_hard_state_.commit()) {
    pb::HardState state;
    state.set_term(term_);
    state.set_vote(vote_);
    state.set_commit(hard_state_commit());
    last_handed_out_hard_state_ = state;
    ready.hard_state = std::move(state);
  }
  ready.snapshot = log_->take_snapshot();
  ready.entries = log_->take_unpersisted();
  ready.messages = std::move(messages_);
  messages_.clear();
  ready.persisted_messages = std::move(persisted_messages_);
  persisted_messages_.clear();
  ready.committed_entries = log_->take_committed(options_.max_committed_bytes_per_ready);
  ready.read_states = std::move(read_states_);
  read_states_.clear();
  ready.must_sync = term_or_vote_changed || ready.snapshot.has_value() || !ready.entries.empty();
  if (ready.snapshot) ready.persist_mark.snapshot_index = ready.snapshot->index();
  if (!ready.entries.empty()) {
    ready.persist_mark.last_index = ready.entries.back().index();
    ready.persist_mark.last_term = ready.entries.back().term();
  }
  ready.persist_mark.term = term_;
  ready.persist_mark.vote = vote_;
  return ready;
}

void Raft::on_persisted(const PersistMark& mark) {
  if (mark.term >= persisted_.term) {
    persisted_.term = mark.term;
    persisted_.vote = mark.vote;
  }
  if (mark.snapshot_index != 0) log_->stable_snapshot(mark.snapshot_index);
  if (mark.last_index != 0) {
    log_->stable_to(mark.last_index, mark.last_term);
    persisted_.last_index = mark.last_index;
    persisted_.last_term = mark.last_term;
  }

  if (role_ == Role::kCandidate && !self_vote_persisted_ && persisted_.term == term_ &&
      persisted_.vote == options_.id) {
    self_vote_persisted_ = true;
    record_vote(options_.id, true);
  }
  if (role_ == Role::kLeader) {
    // The leader's own copy counts toward the commit quorum only once durable.
    Progress* self = tracker_->progress(options_.id);
    if (self != nullptr && self->on_ack(log_->persisted_index()) && maybe_commit() &&
        role_ == Role::kLeader) {
      commit_broadcast_pending_ = true;
    }
  }
}

void Raft::on_applied(Index index) { log_->applied_to(index); }

Status Raft::status() const {
  Status s;
  s.id = options_.id;
  s.role = role_;
  s.term = term_;
  s.vote = vote_;
  s.leader = leader_;
  s.commit_index = log_->committed();
  s.applied_index = log_->applied();
  s.last_index = log_->last_index();
  s.first_index = log_->first_index();
  s.persisted_index = log_->persisted_index();
  if (role_ == Role::kLeader) {
    for (const auto& [id, progress] : tracker_->all()) {
      if (id == options_.id) continue;
      s.peers.push_back(Status::Peer{id, progress.match_index(), progress.next_index(),
                                     to_string(progress.state()), progress.recently_active()});
    }
  }
  s.transfer_target = transfer_target_;
  s.removed = removed();
  return s;
}

}  // namespace raft::core
