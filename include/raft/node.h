// raft::Node: a replicated state machine in one object. Open it with options and
// your StateMachine; propose commands from any thread; get the state machine's answer
// once the command is committed on a majority and applied here.
//
//   auto node = raft::Node::open(options, std::make_shared<MyStateMachine>());
//   raft::Result<std::string> r = node.value()->propose("set x 1").get();
//   node.value()->read_barrier().get();  // then read the local state: linearizable
//
// Threading: every public method is thread-safe and non-blocking (the future-returning
// overloads return at once; waiting on the future blocks only the caller).
// Completion callbacks and event callbacks run on the node's internal threads (the
// event loop or the apply thread): they must be quick and must not call back into
// the Node synchronously waiting for a result (that would deadlock). The
// StateMachine is called only from the apply thread (apply() also from the event
// loop, with NodeOptions::apply_on_loop), one call at a time.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "raft/latency_histogram.h"
#include "raft/options.h"
#include "raft/result.h"
#include "raft/state_machine.h"
#include "raft/types.h"

namespace raft {

/// A node's part in the cluster as the application sees it.
enum class NodeRole { kFollower, kCandidate, kLeader, kLearner };
/// "follower", "candidate", "leader" or "learner".
const char* to_string(NodeRole role);

/// A member of the current configuration.
struct Member {
  Peer peer;          ///< its id, name and addresses
  bool voter = true;  ///< false for a learner (receives the log, never votes)
};

/// What the leader knows of a follower's replication.
struct ReplicationProgress {
  NodeId id = 0;           ///< the follower
  Index match_index = 0;   ///< highest index known replicated on it
  Index next_index = 0;    ///< next index the leader will send it
  std::string state;  ///< "probe", "replicate" or "snapshot"
  bool recently_active = false;  ///< heard from within the last election timeout
};

/// A node's state at one moment (Node::status()).
struct NodeStatus {
  NodeId id = 0;                        ///< this node
  NodeRole role = NodeRole::kFollower;  ///< its current role
  Term term = 0;                        ///< its current term
  NodeId leader = 0;                    ///< the leader it knows of; 0: none
  Index commit_index = 0;               ///< highest index known committed
  Index applied_index = 0;              ///< highest index applied to the state machine
  Index last_index = 0;                 ///< last index in its log
  Index snapshot_index = 0;             ///< index of its latest snapshot
  std::vector<Member> members;          ///< the configuration it uses
  std::vector<ReplicationProgress> progress;  ///< leader only
  /// Set when the node stopped writing after a disk error: why.
  std::string storage_failure;
  /// The node knows it is no longer a member: the configuration it holds does not
  /// name it, or a member told it that a newer committed one does not (a removed
  /// node never hears of the entry that removed it otherwise). It never campaigns,
  /// and no leader replicates to it; `role` is then kFollower. It is a member again
  /// only if added back.
  bool removed = false;
  std::uint64_t proposals_committed = 0;  ///< commands committed and handed to the state machine
  std::uint64_t snapshots_taken = 0;      ///< snapshots this node wrote
  std::uint64_t snapshots_installed = 0;  ///< snapshots received from a leader
  /// Latency of the log store's fdatasync calls since the node opened (empty for
  /// stores that do not sync).
  LatencySnapshot disk_sync_latency;
};

/// Event callbacks (all optional), called on the event loop thread; on_log also on
/// the thread calling Node::open() ("started") and Node::stop() ("stopped").
struct NodeEvents {
  std::function<void(NodeId leader, Term term)> on_leader_change;  ///< leader 0: none known
  /// A new configuration took effect (when appended, as Raft requires).
  std::function<void(const std::vector<Member>& members)> on_membership_change;
  std::function<void(Index index)> on_snapshot;  ///< a snapshot was taken or installed
  /// One line per notable event (elections, membership, snapshots, errors), for logs.
  std::function<void(const std::string& line)> on_log;
};

class NodeImpl;

/// One replica of a replicated state machine: runs the Raft protocol for the
/// application's StateMachine over a LogStore, a SnapshotStore and a Transport.
/// Every method may be called from any thread.
class Node {
 public:
  /// Opens (or creates) a node: restores the latest snapshot into `state_machine`,
  /// replays the log, starts the transport and the timers. Fails with a clear Error
  /// (bad options, unreadable or corrupt data, port in use).
  static Result<std::unique_ptr<Node>> open(NodeOptions options,
                                            std::shared_ptr<StateMachine> state_machine,
                                            NodeEvents events = {});
  ~Node();  ///< stop()s
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Replicates `command`; completes with the state machine's answer once committed and
  /// applied on this node, or an Error: kNotLeader (with leader_hint), kDropped, kBusy,
  /// kTooLarge, kTimeout, kShuttingDown, kStorage.
  ///@{
  void propose(std::string command, std::function<void(Result<std::string>)> done);
  std::future<Result<std::string>> propose(std::string command);
  ///@}

  /// A linearizable read point: completes with an index once this node's state
  /// machine has applied every write committed before the call; reading local state
  /// then is linearizable. Works on followers too (they ask the leader).
  /// `consistency` picks ReadIndex (the default) or a leader lease read.
  ///@{
  void read_barrier(std::function<void(Result<Index>)> done);
  void read_barrier(ReadConsistency consistency, std::function<void(Result<Index>)> done);
  std::future<Result<Index>> read_barrier();
  ///@}

  /// Membership: add a learner, promote a learner to voter, remove a member. Each
  /// completes once the change is committed (and applied here). The core takes one
  /// change at a time: a call that meets another in flight waits its turn, in call
  /// order, and fails with kInProgress only if still waiting after request_timeout.
  ///@{
  std::future<Status> add_learner(const Peer& peer);
  std::future<Status> promote(NodeId id);
  std::future<Status> remove(NodeId id);
  ///@}
  /// Records new addresses for an existing member (its role is unchanged).
  std::future<Status> update_member(const Peer& peer);
  /// Several changes at once through joint consensus.
  std::future<Status> change_membership(const std::vector<Peer>& add_voters,
                                        const std::vector<NodeId>& remove);

  /// Callback forms of the calls above and below (the callback runs on the node's
  /// loop thread; see the threading note at the top).
  ///@{
  void add_learner(const Peer& peer, std::function<void(Status)> done);
  void promote(NodeId id, std::function<void(Status)> done);
  void remove(NodeId id, std::function<void(Status)> done);
  void update_member(const Peer& peer, std::function<void(Status)> done);
  void transfer_leadership(NodeId to, std::function<void(Result<NodeId>)> done);
  void snapshot(std::function<void(Result<Index>)> done);
  ///@}

  /// Hands leadership to `to` (0: the most up-to-date follower). Completes with the
  /// new leader's id once this node sees it lead, or an Error.
  std::future<Result<NodeId>> transfer_leadership(NodeId to = 0);

  /// Takes a snapshot now and compacts the log; completes with its index.
  std::future<Result<Index>> snapshot();

  /// The node's state now (a copy; cheap enough to poll).
  NodeStatus status() const;
  /// Its transport's counters (messages and bytes sent, dropped, refused...).
  TransportStats transport_stats() const;
  /// This node's id.
  NodeId id() const;

  /// Stops: pending calls fail with kShuttingDown, files are closed, threads joined.
  /// Idempotent.
  void stop();

 private:
  explicit Node(std::unique_ptr<NodeImpl> impl);
  std::unique_ptr<NodeImpl> impl_;
};

}  // namespace raft
