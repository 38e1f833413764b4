// Disaster recovery (NodeOptions::force_new_cluster): a member that outlived its
// cluster's majority restarts, with its durable log, as the only voter of a new
// cluster, keeps every entry it held, and takes new members.
#include "src/node/force_new_cluster.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <thread>

#include "raft/memory_stores.h"
#include "raft/node.h"
#include "src/storage/durable_log.h"
#include "tests/node/kv_machine.h"
#include "tests/node/local_transport.h"

namespace raft {
namespace {

using namespace std::chrono_literals;
using testing::KvMachine;
using testing::write_keys;

// Nodes on a LocalHub, each with the durable log and snapshots in its own directory,
// so a node can be stopped and started again on its data.
class DiskCluster {
 public:
  DiskCluster()
      : root_(std::filesystem::temp_directory_path() /
              ("force-new-cluster-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(root_);
  }
  ~DiskCluster() {
    nodes_.clear();  // stop every node before its directory goes
    std::filesystem::remove_all(root_);
  }

  NodeOptions options(NodeId id) {
    NodeOptions o;
    o.id = id;
    o.data_dir = (root_ / ("n" + std::to_string(id))).string();
    o.tick_interval = 5ms;
    o.heartbeat_interval = 10ms;
    o.election_timeout = 50ms;
    o.request_timeout = 3s;
    o.random_seed = id * 7919;
    o.transport = std::make_shared<testing::LocalTransport>(hub_, id);
    return o;
  }

  Result<std::unique_ptr<Node>> open(const NodeOptions& o) {
    machines_[o.id] = std::make_shared<KvMachine>();  // state comes back from the log
    return Node::open(o, machines_[o.id]);
  }

  void start(const NodeOptions& o) {
    auto opened = open(o);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    nodes_[o.id] = std::move(opened.value());
  }
  void stop(NodeId id) { nodes_.erase(id); }

  Node& node(NodeId id) { return *nodes_.at(id); }
  KvMachine& machine(NodeId id) { return *machines_.at(id); }
  testing::LocalHub& hub() { return hub_; }

  NodeId wait_for_leader() {
    for (int i = 0; i < 1000; ++i) {
      for (auto& [id, node] : nodes_) {
        if (node->status().role == NodeRole::kLeader) return id;
      }
      std::this_thread::sleep_for(5ms);
    }
    return 0;
  }

  bool converge(NodeId id, const std::map<std::string, std::string>& expected) {
    for (int i = 0; i < 1000; ++i) {
      if (machine(id).data() == expected) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

 private:
  std::filesystem::path root_;
  testing::LocalHub hub_;
  std::map<NodeId, std::shared_ptr<KvMachine>> machines_;
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
};

std::vector<Peer> founders(std::initializer_list<NodeId> ids) {
  std::vector<Peer> peers;
  for (NodeId id : ids) peers.push_back(Peer{id, "n" + std::to_string(id), "", ""});
  return peers;
}

std::vector<NodeId> voters(const NodeStatus& status) {
  std::vector<NodeId> ids;
  for (const Member& m : status.members) {
    if (m.voter) ids.push_back(m.peer.id);
  }
  return ids;
}

Index durable_last_index(const std::string& data_dir) {
  storage::DurableLogOptions o;
  o.dir = data_dir + "/wal";
  auto log = storage::DurableLog::open(o);
  EXPECT_TRUE(log.ok()) << log.error().message;
  if (!log.ok()) return 0;
  const Index last = log.value()->last_index();
  log.value()->close();
  return last;
}

TEST(ForceNewCluster, ASurvivorOfALostMajorityLeadsAloneWithEveryEntryItHeldAndTakesNewMembers) {
  DiskCluster cluster;
  for (NodeId id : {1, 2, 3}) {
    NodeOptions o = cluster.options(id);
    o.initial_cluster = founders({1, 2, 3});
    cluster.start(o);
  }
  const NodeId survivor = cluster.wait_for_leader();
  ASSERT_NE(survivor, 0u);
  std::map<std::string, std::string> expected = write_keys(cluster.node(survivor), 0, 40);

  // The survivor takes five more writes that no one else will ever see: they cannot
  // commit, and the survivor's log is all that is left of them.
  for (NodeId id : {1, 2, 3}) {
    if (id != survivor) cluster.hub().isolate(id);
  }
  const Index before = cluster.node(survivor).status().last_index;
  std::vector<std::future<Result<std::string>>> lost;
  for (int i = 40; i < 45; ++i) {
    lost.push_back(
        cluster.node(survivor).propose("set k" + std::to_string(i) + " v" + std::to_string(i)));
    expected["k" + std::to_string(i)] = "v" + std::to_string(i);
  }
  for (int i = 0; i < 400 && cluster.node(survivor).status().last_index < before + 5; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GE(cluster.node(survivor).status().last_index, before + 5);
  for (NodeId id : {1, 2, 3}) cluster.stop(id);  // the majority is gone for good
  for (auto& answer : lost) EXPECT_FALSE(answer.get().ok()) << "uncommitted at the stop";
  cluster.hub().heal();

  NodeOptions recover = cluster.options(survivor);
  recover.force_new_cluster = true;
  cluster.start(recover);
  ASSERT_EQ(cluster.wait_for_leader(), survivor);
  EXPECT_EQ(voters(cluster.node(survivor).status()), std::vector<NodeId>{survivor});
  EXPECT_EQ(cluster.node(survivor).status().members.size(), 1u);
  EXPECT_TRUE(cluster.converge(survivor, expected))
      << "the uncommitted writes it held are committed now";
  for (auto& [k, v] : write_keys(cluster.node(survivor), 45, 60)) expected[k] = v;

  // Started again with the option still set, it finds itself the only voter already
  // and writes no second configuration: the log grows by the new term's no-op only.
  const Index last = cluster.node(survivor).status().last_index;
  cluster.stop(survivor);
  cluster.start(recover);
  ASSERT_EQ(cluster.wait_for_leader(), survivor);
  EXPECT_TRUE(cluster.converge(survivor, expected));
  EXPECT_EQ(cluster.node(survivor).status().last_index, last + 1);

  // A new member joins the new cluster from an empty directory and gets everything.
  NodeOptions joiner = cluster.options(4);
  joiner.join = true;
  cluster.start(joiner);
  ASSERT_TRUE(cluster.node(survivor).add_learner(Peer{4, "n4", "", ""}).get().ok());
  const Status promoted = cluster.node(survivor).promote(4).get();
  ASSERT_TRUE(promoted.ok()) << promoted.error().message;
  for (auto& [k, v] : write_keys(cluster.node(survivor), 60, 70)) expected[k] = v;
  EXPECT_TRUE(cluster.converge(4, expected));
  EXPECT_EQ(voters(cluster.node(survivor).status()).size(), 2u);
}

void expect_refused(const Result<std::unique_ptr<Node>>& opened, const std::string& reason) {
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(opened.error().message.find(reason), std::string::npos) << opened.error().message;
}

TEST(ForceNewCluster, AnEmptyDataDirectoryIsRefusedAndLeftEmpty) {
  DiskCluster cluster;
  NodeOptions o = cluster.options(1);
  o.initial_cluster = founders({1, 2, 3});
  o.force_new_cluster = true;
  expect_refused(cluster.open(o), "former member's data");

  // Nothing was written: without the option the directory still takes a founding
  // configuration, and this one names the node alone.
  o.initial_cluster = founders({1});
  o.force_new_cluster = false;
  cluster.start(o);
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  EXPECT_EQ(cluster.node(1).status().members.size(), 1u);
}

TEST(ForceNewCluster, ALogWhoseConfigurationDoesNotNameTheNodeIsRefusedUntouched) {
  DiskCluster cluster;
  NodeOptions o = cluster.options(1);
  o.initial_cluster = founders({1, 2, 3});
  cluster.start(o);
  cluster.stop(1);
  const Index last = durable_last_index(o.data_dir);

  // Node 7's process pointed at node 1's directory: not a member of what it holds.
  NodeOptions stranger = cluster.options(7);
  stranger.data_dir = o.data_dir;
  stranger.force_new_cluster = true;
  expect_refused(cluster.open(stranger), "does not name this node");
  EXPECT_EQ(durable_last_index(o.data_dir), last);
}

// The recovery's own write, read back from a store that holds only a snapshot point
// (a log compacted to nothing) in a joint configuration with a learner: one entry
// after the snapshot, in a term above every term the store knows, naming the node
// alone, and removing each other member once.
TEST(ForceNewCluster, AfterACompactedLogTheEntryFollowsTheSnapshotInANewTerm) {
  MemoryLogStore store;
  LogWrite base;
  pb::SnapshotMetadata snapshot;
  snapshot.set_index(50);
  snapshot.set_term(3);
  pb::Configuration& joint = *snapshot.mutable_configuration();
  for (NodeId id : {1, 2}) joint.add_voters(id);
  for (NodeId id : {1, 3}) joint.add_voters_outgoing(id);
  joint.add_learners(4);
  for (NodeId id : {1, 2, 3, 4}) {
    pb::Member* m = joint.add_members();
    m->set_id(id);
    m->set_name("n" + std::to_string(id));
    m->set_peer_address("127.0.0.1:700" + std::to_string(id));
  }
  base.snapshot = snapshot;
  pb::HardState hard_state;
  hard_state.set_term(3);
  hard_state.set_commit(50);
  base.hard_state = hard_state;
  std::promise<Status> written;
  store.submit(std::move(base), [&written](const Status& s) { written.set_value(s); });
  ASSERT_TRUE(written.get_future().get().ok());

  std::string was;
  bool changed = false;
  ASSERT_TRUE(force_new_cluster(store, 2, &was, &changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(was, "voters=[n1 n2] outgoing=[n1 n3] learners=[n4]");
  ASSERT_EQ(store.last_index(), 51u);
  EXPECT_EQ(store.hard_state().term(), 4u);
  EXPECT_EQ(store.hard_state().vote(), 2u);
  EXPECT_EQ(store.hard_state().commit(), 50u) << "nothing is claimed committed";
  std::vector<pb::Entry> entries;
  store.entries(51, 52, 1 << 20, &entries);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].term(), 4u);
  EXPECT_EQ(entries[0].type(), pb::ENTRY_CONF_CHANGE);
  pb::ConfChange change;
  ASSERT_TRUE(change.ParseFromString(entries[0].data()));
  EXPECT_EQ(change.context(), "force-new-cluster");
  std::vector<NodeId> removed;
  for (const pb::ConfChangeSingle& single : change.changes()) {
    EXPECT_EQ(single.type(), pb::CONF_REMOVE);
    removed.push_back(single.member().id());
  }
  EXPECT_EQ(removed, (std::vector<NodeId>{1, 3, 4}));
  const pb::Configuration& sole = change.configuration();
  EXPECT_EQ(std::vector<NodeId>(sole.voters().begin(), sole.voters().end()),
            std::vector<NodeId>{2});
  EXPECT_EQ(sole.voters_outgoing_size() + sole.learners_size() + sole.learners_next_size(), 0);
  ASSERT_EQ(sole.members_size(), 1);
  EXPECT_EQ(sole.members(0).peer_address(), "127.0.0.1:7002") << "its own record is kept";

  // Asked again, it finds the node alone and writes nothing.
  ASSERT_TRUE(force_new_cluster(store, 2, &was, &changed).ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(store.last_index(), 51u);
}

}  // namespace
}  // namespace raft
