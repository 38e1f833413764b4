#include "tests/core/test_cluster.h"

#include <algorithm>

namespace raft::core::testing {

pb::Configuration voters(std::initializer_list<NodeId> ids) {
  pb::Configuration configuration;
  for (NodeId id : ids) configuration.add_voters(id);
  return configuration;
}

TestCluster::TestCluster(int n, std::uint64_t seed, const std::function<void(Options&)>& configure) {
  for (int i = 1; i <= n; ++i) configuration_.add_voters(static_cast<NodeId>(i));
  for (int i = 1; i <= n; ++i) {
    Node node;
    node.options.id = static_cast<NodeId>(i);
    node.options.random_seed = seed * 1000 + static_cast<std::uint64_t>(i);
    if (configure) configure(node.options);
    node.storage = std::make_unique<MemoryLogStorage>(configuration_);
    node.raft = std::make_unique<Raft>(node.options, *node.storage);
    nodes_.emplace(static_cast<NodeId>(i), std::move(node));
  }
}

std::vector<NodeId> TestCluster::ids() const {
  std::vector<NodeId> out;
  for (const auto& [id, node] : nodes_) out.push_back(id);
  return out;
}

void TestCluster::handle_ready(NodeId id) {
  Node& node = nodes_.at(id);
  while (node.raft->has_ready()) {
    Ready ready = node.raft->ready();
    for (pb::Message& m : ready.messages) queue_.push_back(std::move(m));
    if (ready.snapshot) {
      // Step 2 of the Ready contract: install the snapshot before the entries.
      node.storage->install_snapshot(*ready.snapshot);
      node.installed_snapshots.push_back(*ready.snapshot);
    }
    for (ReadState& state : ready.read_states) node.read_states.push_back(std::move(state));
    node.storage->append(ready.entries);
    if (ready.hard_state) node.storage->set_hard_state(*ready.hard_state);
    node.raft->on_persisted(ready.persist_mark);
    for (pb::Message& m : ready.persisted_messages) queue_.push_back(std::move(m));
    for (const pb::Entry& entry : ready.committed_entries) {
      if (entry.type() == pb::ENTRY_NORMAL) node.applied.push_back(entry.data());
    }
    if (!ready.committed_entries.empty()) {
      node.raft->on_applied(ready.committed_entries.back().index());
    }
  }
}

void TestCluster::process_readies() {
  bool any = true;
  while (any) {
    any = false;
    for (auto& [id, node] : nodes_) {
      if (node.raft->has_ready()) {
        handle_ready(id);
        any = true;
      }
    }
  }
}

bool TestCluster::linked(NodeId from, NodeId to) const {
  return !cut_links_.count({from, to});
}

void TestCluster::deliver(const pb::Message& m) {
  auto it = nodes_.find(m.to());
  if (it == nodes_.end() || !linked(m.from(), m.to())) return;
  if (drop_when && drop_when(m)) return;
  if (on_deliver) on_deliver(m);
  it->second.raft->step(m);
  handle_ready(m.to());
}

int TestCluster::deliver_pending() {
  process_readies();
  std::deque<pb::Message> batch;
  batch.swap(queue_);
  for (const pb::Message& m : batch) deliver(m);
  return static_cast<int>(batch.size());
}

int TestCluster::stabilize(int max_messages) {
  process_readies();
  int delivered = 0;
  while (!queue_.empty() && delivered < max_messages) {
    pb::Message m = std::move(queue_.front());
    queue_.pop_front();
    deliver(m);
    ++delivered;
  }
  return delivered;
}

void TestCluster::tick(NodeId id, int ticks) {
  for (int i = 0; i < ticks; ++i) {
    nodes_.at(id).raft->tick();
    handle_ready(id);
  }
}

void TestCluster::tick_all(int ticks) {
  for (int i = 0; i < ticks; ++i) {
    for (auto& [id, node] : nodes_) node.raft->tick();
    process_readies();
  }
}

NodeId TestCluster::leader() const {
  NodeId best = kNoNode;
  Term best_term = 0;
  for (const auto& [id, node] : nodes_) {
    if (node.raft->role() == Role::kLeader && node.raft->term() >= best_term) {
      best = id;
      best_term = node.raft->term();
    }
  }
  return best;
}

NodeId TestCluster::elect(int max_ticks) {
  for (int i = 0; i < max_ticks; ++i) {
    stabilize();
    if (NodeId id = leader(); id != kNoNode) return id;
    tick_all();
  }
  stabilize();
  return leader();
}

void TestCluster::isolate(NodeId id) {
  for (const auto& [other, node] : nodes_) {
    if (other == id) continue;
    cut_links_.insert({id, other});
    cut_links_.insert({other, id});
  }
}

void TestCluster::cut(NodeId a, NodeId b) {
  cut_links_.insert({a, b});
  cut_links_.insert({b, a});
}

void TestCluster::heal() { cut_links_.clear(); }

void TestCluster::drop_if(const std::function<bool(const pb::Message&)>& filter) {
  std::erase_if(queue_, filter);
}

void TestCluster::restart(NodeId id) {
  Node& node = nodes_.at(id);
  std::erase_if(queue_, [id](const pb::Message& m) { return m.from() == id; });
  node.raft = std::make_unique<Raft>(node.options, *node.storage);
  node.applied.clear();
}

void TestCluster::set_log(NodeId id, const std::vector<pb::Entry>& log,
                          const pb::HardState& hard_state) {
  Node& node = nodes_.at(id);
  std::erase_if(queue_, [id](const pb::Message& m) { return m.from() == id; });
  node.raft.reset();  // it refers to the storage being replaced
  node.storage = std::make_unique<MemoryLogStorage>(configuration_);
  node.storage->append(log);
  node.storage->set_hard_state(hard_state);
  node.raft = std::make_unique<Raft>(node.options, *node.storage);
  node.applied.clear();
}

std::vector<pb::Entry> TestCluster::log(NodeId id) const {
  const MemoryLogStorage& storage = *nodes_.at(id).storage;
  std::vector<pb::Entry> out;
  storage.entries(storage.first_index(), storage.last_index() + 1, kNoLimit, &out);
  return out;
}

ProposeResult TestCluster::propose(NodeId id, const std::string& command) {
  ProposeResult result = nodes_.at(id).raft->propose(command);
  handle_ready(id);
  return result;
}

void TestCluster::add_node(const Options& options, const pb::Configuration& bootstrap) {
  Node node;
  node.options = options;
  node.storage = std::make_unique<MemoryLogStorage>(bootstrap);
  node.raft = std::make_unique<Raft>(node.options, *node.storage);
  nodes_.emplace(options.id, std::move(node));
}

ProposeResult TestCluster::propose_conf_change(NodeId id, const pb::ConfChange& change,
                                               std::string* error) {
  ProposeResult result = nodes_.at(id).raft->propose_conf_change(change, error);
  handle_ready(id);
  return result;
}

void TestCluster::compact(NodeId id, Index index) {
  Node& node = nodes_.at(id);
  pb::SnapshotMetadata metadata;
  metadata.set_index(index);
  metadata.set_term(node.storage->term(index).value());
  *metadata.mutable_configuration() = node.raft->configuration_at(index);
  node.storage->compact(metadata);
}

}  // namespace raft::core::testing
