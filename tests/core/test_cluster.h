// A tiny deterministic in-process cluster for core tests: each node is a Raft over a
// MemoryLogStorage, Readies are handled synchronously (persist, then send), and
// messages wait in one FIFO until the test delivers, drops or filters them. No
// threads, no clock: the test decides every step.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "src/core/memory_storage.h"
#include "src/core/raft.h"

namespace raft::core::testing {

pb::Configuration voters(std::initializer_list<NodeId> ids);

class TestCluster {
 public:
  // Nodes 1..n, all voters. `configure` may adjust each node's options.
  explicit TestCluster(int n, std::uint64_t seed = 1,
                       const std::function<void(Options&)>& configure = {});

  Raft& node(NodeId id) { return *nodes_.at(id).raft; }
  MemoryLogStorage& storage(NodeId id) { return *nodes_.at(id).storage; }
  std::vector<NodeId> ids() const;

  // Handles every pending Ready of every node (persisting and queueing messages),
  // repeatedly until none is left.
  void process_readies();
  // Delivers queued messages (and the messages they cause) until the network is
  // quiet or `max_messages` were delivered. Returns how many were delivered.
  int stabilize(int max_messages = 100000);
  // Delivers only the queued messages that are pending now. Returns how many.
  int deliver_pending();
  void tick_all(int ticks = 1);
  void tick(NodeId id, int ticks = 1);
  // Ticks everyone until a leader exists (delivering messages), returns it or 0.
  NodeId elect(int max_ticks = 1000);
  NodeId leader() const;  // the leader with the highest term, 0 if none

  // Network faults. A cut link drops messages in both directions.
  void isolate(NodeId id);
  void cut(NodeId a, NodeId b);
  void heal();
  void drop_pending() { queue_.clear(); }
  // Drops queued messages for which `filter` returns true.
  void drop_if(const std::function<bool(const pb::Message&)>& filter);
  std::deque<pb::Message>& queue() { return queue_; }

  // Restarts a node from its storage (everything persisted survives).
  void restart(NodeId id);
  // Replaces node `id`'s storage with one holding `log` (consecutive entries from
  // index 1) and `hard_state`, and restarts it: for tests that start from the exact
  // logs of a figure. Messages it had queued are dropped.
  void set_log(NodeId id, const std::vector<pb::Entry>& log, const pb::HardState& hard_state);
  // Every entry node `id` holds durably (after process_readies(), that is its whole log).
  std::vector<pb::Entry> log(NodeId id) const;

  // Called with every message just before it is delivered (after the link check), so
  // a test can count or inspect traffic.
  std::function<void(const pb::Message&)> on_deliver;
  // Messages for which this returns true are dropped instead of delivered (a
  // selective network fault that also applies to messages sent later).
  std::function<bool(const pb::Message&)> drop_when;

  // Application view: committed commands applied per node, in order.
  const std::vector<std::string>& applied(NodeId id) const { return nodes_.at(id).applied; }
  // Proposes through `id` and returns the result.
  ProposeResult propose(NodeId id, const std::string& command);

  // ---- Membership, snapshots and reads -------------------------------------------

  // Adds a node with its own empty storage whose bootstrap configuration is
  // `bootstrap` (empty: it joins knowing no configuration and learns it from the log
  // or a snapshot). `options.id` must be new and non-zero. It is not a member of
  // anyone else's configuration until a change adds it.
  void add_node(const Options& options, const pb::Configuration& bootstrap = {});
  // Proposes a membership change through `id`, handling the Readies it causes.
  ProposeResult propose_conf_change(NodeId id, const pb::ConfChange& change,
                                    std::string* error = nullptr);
  // Compacts node `id`'s storage up to `index` (REQUIRES: applied there), with
  // snapshot metadata naming the configuration in force at `index`, as the runtime
  // does after taking a snapshot. The core is not told (it reads storage directly).
  void compact(NodeId id, Index index);
  // Snapshots node `id` installed from Ready::snapshot, in order.
  const std::vector<pb::SnapshotMetadata>& installed_snapshots(NodeId id) const {
    return nodes_.at(id).installed_snapshots;
  }
  // ReadStates node `id` received in its Readies, in order.
  const std::vector<ReadState>& read_states(NodeId id) const { return nodes_.at(id).read_states; }

 private:
  struct Node {
    std::unique_ptr<MemoryLogStorage> storage;
    std::unique_ptr<Raft> raft;
    Options options;
    std::vector<std::string> applied;
    std::vector<pb::SnapshotMetadata> installed_snapshots;
    std::vector<ReadState> read_states;
  };
  bool linked(NodeId from, NodeId to) const;
  void handle_ready(NodeId id);
  void deliver(const pb::Message& m);

  pb::Configuration configuration_;
  std::map<NodeId, Node> nodes_;
  std::deque<pb::Message> queue_;
  std::set<std::pair<NodeId, NodeId>> cut_links_;
};

}  // namespace raft::core::testing
