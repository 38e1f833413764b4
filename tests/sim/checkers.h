// Safety checkers: the properties every run must keep, checked from outside the
// simulated system after every event.
//
// A checker sees the cluster the way an omniscient observer would: each node's core
// status (role, term, commit index), its disk (what is written and what is durable),
// the entries it applies, the messages it sends, and what clients were told. It never
// reaches into the core's internals and never shares state with the system under
// test, so a bug in the system cannot hide itself from the check. Each checker keeps
// its own incremental state and names the property it checks; the first violation
// stops the run and is reported with the node, term and index involved.
//
// Properties (Raft paper, Figure 3, then the extras the simulator adds):
//   Election Safety        at most one leader per term, ever: across crashes, over
//                          every node (voters, learners, removed nodes, spares) and
//                          whatever configuration each believes in.
//   Only Voters Lead       a node becomes leader only as a voter of its configuration.
//   Leader Append-Only     a leader never overwrites or deletes entries of its log.
//   Log Matching           two entries with the same index and term have the same
//                          content and the same predecessor term, in every log, at
//                          any time (which by induction makes the prefixes identical).
//   Leader Completeness    an entry committed in term T is in the log of every leader
//                          of a term > T (checked when a leader emerges and when a
//                          commit is first observed).
//   State Machine Safety   no two nodes commit or apply different entries at one index,
//                          and no two state machines differ after the same index
//                          (whether they applied their way there or restored a
//                          snapshot taken there).
//   One Vote Per Term      a node grants its vote to at most one candidate per term
//                          (seen on the wire and in its durable hard state).
//   Durable Before Promise a vote or an append acknowledgement is sent only once the
//                          state it promises is durable (Figure 2: "updated on stable
//                          storage before responding to RPCs").
//   Term Monotonic         a node's term never decreases while it runs; its durable
//                          term never decreases, across crashes.
//   Commit Monotonic       a node's commit index never decreases while it runs (after a
//                          crash it may be re-learned).
//   Committed Is Durable   when an entry is first committed, a majority of (each voter
//                          set of) the committer's configuration holds it durably.
//   Committed Is Safe      when an entry is first committed, no node lacking it could
//                          ever be elected: its log (as written, or as it would be after
//                          a crash) is less up to date (§5.4.1) than the logs of a
//                          majority of (each voter set of) that configuration. This is the
//                          invariant behind Leader Completeness; checking it at commit time catches
//                          an unsafe commit (Figure 8) before some later election happens to
//                          exploit it.
//   Same Apply Sequence    every node applies indexes 1, 2, 3, ... in order, without gaps
//                          or repeats, and every member of the final configuration ends
//                          with the same key-value state.
//   Acknowledged Not Lost  every write (or get through the log) acknowledged to a client
//                          is, at the end, at its (index, term) in the applied sequence
//                          of every member of the final configuration.
//   One Change At A Time   a leader appends a configuration change only once every
//                          earlier one in its log is committed and it has committed an
//                          entry of its own term (dissertation §4.1).
//   Read Sees Committed    a get served by ReadIndex or lease is answered from a store
//                          that has applied every index committed anywhere before the
//                          request reached the node.
// Linearizability (of every client operation, reads served by ReadIndex or lease
// included) and Liveness are checked by the Cluster at the end of a run.
//
// To add a checker: derive from Checker, override the hooks you need, call fail() with
// the property name, and add it to make_checkers() in checkers.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "src/core/ready.h"
#include "tests/sim/config.h"
#include "tests/sim/linearizability.h"
#include "tests/sim/node.h"
#include "tests/sim/requests.h"

namespace raft::sim {

namespace property {
inline constexpr const char* kElectionSafety = "Election Safety";
inline constexpr const char* kOnlyVotersLead = "Only Voters Lead";
inline constexpr const char* kLeaderAppendOnly = "Leader Append-Only";
inline constexpr const char* kLogMatching = "Log Matching";
inline constexpr const char* kLeaderCompleteness = "Leader Completeness";
inline constexpr const char* kStateMachineSafety = "State Machine Safety";
inline constexpr const char* kOneVotePerTerm = "One Vote Per Term";
inline constexpr const char* kDurableBeforePromise = "Durable Before Promise";
inline constexpr const char* kTermMonotonic = "Term Monotonic";
inline constexpr const char* kCommitMonotonic = "Commit Monotonic";
inline constexpr const char* kCommittedIsDurable = "Committed Is Durable";
inline constexpr const char* kCommittedIsSafe = "Committed Is Safe";
inline constexpr const char* kSameApplySequence = "Same Apply Sequence";
inline constexpr const char* kAcknowledgedNotLost = "Acknowledged Not Lost";
inline constexpr const char* kOneChangeAtATime = "One Change At A Time";
inline constexpr const char* kReadSeesCommitted = "Read Sees Committed";
inline constexpr const char* kLinearizability = "Linearizability";
inline constexpr const char* kLiveness = "Liveness";
}  // namespace property

struct Violation {
  std::string property;
  core::NodeId node = core::kNoNode;
  core::Term term = 0;
  core::Index index = 0;
  Time time_ms = 0;
  std::string detail;
  // "[Election Safety] node 3, term 7, at 12.3s (tick 123): ..."
  std::string describe() const;
};

// What checkers may look at: the nodes (read-only) and the clock.
class ClusterView {
 public:
  virtual ~ClusterView() = default;
  virtual int node_count() const = 0;
  virtual const SimNode& node(core::NodeId id) const = 0;
  virtual Time now() const = 0;
  // The running leader of the highest term, or null.
  virtual const SimNode* leader() const = 0;
};

class Checker {
 public:
  virtual ~Checker() = default;

  // Hooks, each called right after (or, for before_write, right before) the
  // happening it names. after_event() runs after every event a running node handled.
  virtual void before_write(const SimNode& /*node*/, const core::Ready& /*ready*/) {}
  virtual void after_write(const SimNode& /*node*/, const core::Ready& /*ready*/) {}
  virtual void on_send(const SimNode& /*from*/, const pb::Message& /*message*/) {}
  virtual void on_apply(const SimNode& /*node*/, const pb::Entry& /*entry*/) {}
  // The node's state machine reached its applied_index(): by applying the entry
  // on_apply() announced, or (`restored`) by restoring a snapshot the core installed.
  virtual void on_state(const SimNode& /*node*/, bool /*restored*/) {}
  virtual void on_sync(const SimNode& /*node*/) {}
  virtual void on_start(const SimNode& /*node*/) {}
  virtual void on_crash(const SimNode& /*node*/) {}
  virtual void after_event(const SimNode& /*node*/) {}
  virtual void on_acknowledged(const ClientReply& /*reply*/, const Operation& /*op*/) {}
  // A client request reaches a node (is handed to it), and a get is answered from a
  // node's store without the log (ReadIndex or lease).
  virtual void on_request(const SimNode& /*node*/, const ClientRequest& /*request*/) {}
  virtual void on_read_served(const SimNode& /*node*/, const ClientRequest& /*request*/) {}
  // The run converged (every node up and caught up): whole-cluster end checks.
  virtual void at_end() {}

  // `ignored`: properties whose violations are dropped.
  void bind(const ClusterView* cluster, std::optional<Violation>* sink,
            const std::set<std::string>* ignored) {
    cluster_ = cluster;
    sink_ = sink;
    ignored_ = ignored;
  }

 protected:
  // Records a violation; the first one of a run wins.
  void fail(const char* property, core::NodeId node, core::Term term, core::Index index,
            std::string detail);
  const ClusterView& cluster() const { return *cluster_; }

 private:
  const ClusterView* cluster_ = nullptr;
  std::optional<Violation>* sink_ = nullptr;
  const std::set<std::string>* ignored_ = nullptr;
};

// For the checkers' reports and records.
// "node 3": how a violation's detail names a node.
std::string node_label(core::NodeId id);
// A digest of an entry's payload and type, so that checkers can tell two entries at
// one index apart without keeping their payloads.
std::uint64_t content_hash(const pb::Entry& entry);

// The checkers, by the file that implements them.
std::unique_ptr<Checker> make_election_safety_checker();     // checkers_election.cc
std::unique_ptr<Checker> make_vote_checker();                // checkers_election.cc
std::unique_ptr<Checker> make_monotonic_checker();           // checkers_election.cc
std::unique_ptr<Checker> make_leader_append_only_checker();  // checkers_log.cc
std::unique_ptr<Checker> make_log_matching_checker();        // checkers_log.cc
std::unique_ptr<Checker> make_commit_checker();              // checkers_log.cc
std::unique_ptr<Checker> make_apply_checker();               // checkers_apply.cc
std::unique_ptr<Checker> make_acknowledged_checker();        // checkers_apply.cc
std::unique_ptr<Checker> make_config_change_checker();       // checkers_membership.cc
std::unique_ptr<Checker> make_read_checker();                // checkers_read.cc

// Every checker above, in a fixed order.
std::vector<std::unique_ptr<Checker>> make_checkers();

}  // namespace raft::sim
