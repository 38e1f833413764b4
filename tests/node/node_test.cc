// The runtime end to end in one process: several raft::Node instances over an
// in-memory transport and in-memory stores, with a small key-value state machine.
#include "raft/node.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "raft/memory_stores.h"
#include "tests/node/kv_machine.h"
#include "tests/node/local_transport.h"

namespace raft {
namespace {

using namespace std::chrono_literals;
using testing::Gate;
using testing::KvMachine;
using testing::write_keys;

std::string describe(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [name, count] : counts) out += (out.empty() ? "" : ", ") + name + " " + std::to_string(count);
  return "{" + out + "}";
}

// A MemoryLogStore that also takes writes through try_write_here(), counting the
// entries that came each way, and that can fail the writes it takes there.
class CountingLogStore final : public LogStore {
 public:
  pb::HardState hard_state() const override { return inner_.hard_state(); }
  pb::SnapshotMetadata snapshot_metadata() const override { return inner_.snapshot_metadata(); }
  Index first_index() const override { return inner_.first_index(); }
  Index last_index() const override { return inner_.last_index(); }
  std::optional<Term> term(Index index) const override { return inner_.term(index); }
  void entries(Index lo, Index hi, std::uint64_t max_bytes, std::vector<pb::Entry>* out) const override {
    inner_.entries(lo, hi, max_bytes, out);
  }
  void submit(LogWrite write, std::function<void(const Status&)> done) override {
    entries_submitted += write.entries.size();
    if (!write.entries.empty()) ++entry_writes_submitted;
    inner_.submit(std::move(write), std::move(done));
  }
  bool try_write_here(LogWrite& write, std::function<void(const Status&)>& done) override {
    if (hold_next_write_here.exchange(false)) {
      std::unique_lock lock(hold_mutex_);
      held_ = true;
      hold_cv_.notify_all();
      hold_cv_.wait(lock, [this] { return !held_; });
    }
    if (fail_here) {
      done(Error{ErrorCode::kStorage, "injected: the disk is gone"});
      return true;
    }
    entries_written_here += write.entries.size();
    if (!write.entries.empty()) ++entry_writes_here;
    inner_.submit(std::move(write), std::move(done));  // applies at once, calls done inline
    return true;
  }
  void compact(const pb::SnapshotMetadata& snapshot) override { inner_.compact(snapshot); }
  void close() override { inner_.close(); }

  // Waits until a write held by hold_next_write_here blocks its caller (a node's
  // loop); false if none did within the limit.
  bool wait_until_held(std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(hold_mutex_);
    return hold_cv_.wait_for(lock, limit, [this] { return held_; });
  }
  void release_held() {
    std::lock_guard lock(hold_mutex_);
    held_ = false;
    hold_cv_.notify_all();
  }

  std::atomic<std::uint64_t> entries_submitted{0};
  std::atomic<std::uint64_t> entries_written_here{0};
  std::atomic<std::uint64_t> entry_writes_here{0};       // writes with entries, taken here
  std::atomic<std::uint64_t> entry_writes_submitted{0};  // and through submit()
  std::atomic<bool> fail_here{false};
  std::atomic<bool> hold_next_write_here{false};

 private:
  MemoryLogStore inner_;
  std::mutex hold_mutex_;
  std::condition_variable hold_cv_;
  bool held_ = false;
};

// A MemorySnapshotStore whose commits pass commit_gate, so a test can hold them as a
// slow disk holds a snapshot's fsyncs.
class GatedSnapshotStore final : public SnapshotStore {
 public:
  std::unique_ptr<SnapshotWriter> create(const pb::SnapshotMetadata& metadata) override {
    return std::make_unique<GatedWriter>(*this, inner_.create(metadata));
  }
  std::optional<pb::SnapshotMetadata> latest() const override { return inner_.latest(); }
  std::unique_ptr<SnapshotReader> open_latest() const override { return inner_.open_latest(); }

  Gate commit_gate;  // every commit passes it

 private:
  class GatedWriter final : public SnapshotWriter {
   public:
    GatedWriter(GatedSnapshotStore& store, std::unique_ptr<SnapshotWriter> inner)
        : store_(store), inner_(std::move(inner)) {}
    void write(const char* data, std::size_t n) override { inner_->write(data, n); }
    pb::SnapshotMetadata commit() override {
      store_.commit_gate.pass();
      return inner_->commit();
    }

   private:
    GatedSnapshotStore& store_;
    std::unique_ptr<SnapshotWriter> inner_;
  };

  MemorySnapshotStore inner_;
};

struct TestNode {
  std::shared_ptr<KvMachine> machine = std::make_shared<KvMachine>();
  std::shared_ptr<CountingLogStore> log = std::make_shared<CountingLogStore>();
  std::shared_ptr<GatedSnapshotStore> snapshots = std::make_shared<GatedSnapshotStore>();
  std::unique_ptr<Node> node;
};

class LocalCluster {
 public:
  // Snapshots count entries only unless a snapshot_log_ratio is given, so a test
  // knows when one is due.
  explicit LocalCluster(int n, std::uint64_t snapshot_threshold = 0, double snapshot_log_ratio = 0,
                        bool apply_on_loop = false, std::uint64_t max_append_bytes = 1 << 20,
                        std::chrono::milliseconds election_timeout = 50ms)
      : threshold_(snapshot_threshold),
        log_ratio_(snapshot_log_ratio),
        apply_on_loop_(apply_on_loop),
        max_append_bytes_(max_append_bytes),
        election_timeout_(election_timeout) {
    for (int i = 1; i <= n; ++i) peers_.push_back(Peer{static_cast<NodeId>(i), "", "", ""});
    for (int i = 1; i <= n; ++i) start(static_cast<NodeId>(i), /*join=*/false);
  }

  NodeOptions options(NodeId id, bool join) {
    NodeOptions o;
    o.id = id;
    o.initial_cluster = join ? std::vector<Peer>{} : peers_;
    o.join = join;
    o.tick_interval = 5ms;
    o.heartbeat_interval = 10ms;
    o.election_timeout = election_timeout_;
    o.request_timeout = 3s;
    o.snapshot_threshold_entries = threshold_;
    o.snapshot_log_ratio = log_ratio_;
    o.snapshot_trailing_entries = 5;
    o.apply_on_loop = apply_on_loop_;
    o.max_append_bytes = max_append_bytes_;
    o.random_seed = id * 7919;
    o.log_store = nodes_[id].log;
    o.snapshot_store = nodes_[id].snapshots;
    o.transport = std::make_shared<testing::LocalTransport>(hub_, id);
    return o;
  }

  void start(NodeId id, bool join) {
    NodeEvents events;
    if (std::getenv("RAFT_TEST_LOG")) {
      events.on_log = [id](const std::string& line) { std::fprintf(stderr, "n%llu: %s\n", static_cast<unsigned long long>(id), line.c_str()); };
    }
    auto opened = Node::open(options(id, join), nodes_[id].machine, events);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    nodes_[id].node = std::move(opened.value());
  }

  Node& node(NodeId id) { return *nodes_.at(id).node; }
  KvMachine& machine(NodeId id) { return *nodes_.at(id).machine; }
  testing::LocalHub& hub() { return hub_; }

  NodeId wait_for_leader(NodeId except = 0, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& [id, n] : nodes_) {
        if (id != except && n.node && n.node->status().role == NodeRole::kLeader) return id;
      }
      std::this_thread::sleep_for(5ms);
    }
    return 0;
  }

  // Waits until every running node's state machine equals `expected`.
  bool converge(const std::map<std::string, std::string>& expected, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (auto& [id, n] : nodes_) {
        if (n.node && n.machine->data() != expected) all = false;
      }
      if (all) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  std::map<NodeId, TestNode>& nodes() { return nodes_; }

 private:
  std::uint64_t threshold_;
  double log_ratio_;
  bool apply_on_loop_;
  std::uint64_t max_append_bytes_;
  std::chrono::milliseconds election_timeout_;
  testing::LocalHub hub_;
  std::vector<Peer> peers_;
  std::map<NodeId, TestNode> nodes_;
};

// Writes keys [0, count) through the leader and waits until every node applied them;
// the leader, or 0 when none was elected or the nodes did not converge.
NodeId replicate_keys(LocalCluster& cluster, int count) {
  const NodeId leader = cluster.wait_for_leader();
  if (leader == 0) return 0;
  const auto expected = write_keys(cluster.node(leader), 0, count);
  return cluster.converge(expected) ? leader : 0;
}

TEST(Node, ThreeNodesCommitAndApplyEverywhere) {
  LocalCluster cluster(3);
  const NodeId leader = replicate_keys(cluster, 200);
  ASSERT_NE(leader, 0u);
  EXPECT_GE(cluster.node(leader).status().commit_index, 201u);
}

// Whoever holds an answer may read status() at once: it must already count the
// answered entry as committed and applied, though the loop publishes its status only
// after the drain that handed the entry to the apply thread.
TEST(Node, StatusIsNeverBehindAnAnsweredProposal) {
  LocalCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  Node& node = cluster.node(leader);
  ASSERT_TRUE(node.propose("set warm up").get().ok());
  const Index base = node.status().commit_index;
  for (Index i = 1; i <= 300; ++i) {
    ASSERT_TRUE(node.propose("set k v" + std::to_string(i)).get().ok());
    const NodeStatus s = node.status();
    ASSERT_GE(s.commit_index, base + i) << "after answer " << i;
    ASSERT_GE(s.applied_index, base + i) << "after answer " << i;
  }
}

TEST(Node, ProposeOnFollowerFailsWithLeaderHint) {
  LocalCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const NodeId follower = leader % 3 + 1;
  // The follower may not know the leader yet right after the election.
  Result<std::string> r = std::string();
  for (int i = 0; i < 100; ++i) {
    r = cluster.node(follower).propose("set a b").get();
    if (!r.ok() && r.error().leader_hint == leader) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotLeader);
  EXPECT_EQ(r.error().leader_hint, leader);
}

TEST(Node, ReadBarrierOnFollowerSeesCommittedWrite) {
  LocalCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(cluster.node(leader).propose("set x 1").get().ok());
  const NodeId follower = leader % 3 + 1;
  Result<Index> barrier = Index{0};
  for (int i = 0; i < 100; ++i) {
    barrier = cluster.node(follower).read_barrier().get();
    if (barrier.ok()) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(barrier.ok()) << barrier.error().message;
  EXPECT_EQ(cluster.machine(follower).data().at("x"), "1");
}

TEST(Node, ReadBarrierWaitsForASlowStateMachine) {
  LocalCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const NodeId follower = leader % 3 + 1;
  // The follower applies each command 20 ms late, so its read barriers find the
  // write committed but not yet applied, and must wait for the apply thread.
  cluster.machine(follower).apply_delay_ms = 20;
  for (int i = 0; i < 10; ++i) {
    const std::string value = std::to_string(i);
    ASSERT_TRUE(cluster.node(leader).propose("set slow " + value).get().ok());
    Result<Index> barrier = cluster.node(follower).read_barrier().get();
    ASSERT_TRUE(barrier.ok()) << barrier.error().message;
    EXPECT_EQ(cluster.machine(follower).data().at("slow"), value) << "read barrier " << i;
    EXPECT_GE(cluster.node(follower).status().applied_index, barrier.value());
  }
}

// Options of a one-node cluster on `hub`, for the tests of option checks.
NodeOptions lone_node_options(testing::LocalHub& hub) {
  NodeOptions o;
  o.id = 1;
  o.initial_cluster = {Peer{1, "", "", ""}};
  o.tick_interval = 5ms;
  o.heartbeat_interval = 10ms;
  o.election_timeout = 50ms;
  o.log_store = std::make_shared<MemoryLogStore>();
  o.snapshot_store = std::make_shared<MemorySnapshotStore>();
  o.transport = std::make_shared<testing::LocalTransport>(hub, 1);
  return o;
}

TEST(Node, LeaseDriftMarginMustBeShorterThanTheElectionTimeout) {
  for (const auto margin : {std::chrono::milliseconds(-1), std::chrono::milliseconds(50)}) {
    testing::LocalHub hub;
    NodeOptions o = lone_node_options(hub);
    o.lease_drift_margin = margin;
    auto opened = Node::open(o, std::make_shared<KvMachine>(), NodeEvents{});
    ASSERT_FALSE(opened.ok()) << margin.count();
    EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(opened.error().message.find("lease_drift_margin"), std::string::npos) << opened.error().message;
  }
}

TEST(Node, SnapshotLogRatioMustBeBetween0And1e6) {
  for (const double ratio : {-1.0, std::nan(""), 1e7}) {
    testing::LocalHub hub;
    NodeOptions o = lone_node_options(hub);
    o.snapshot_log_ratio = ratio;
    auto opened = Node::open(o, std::make_shared<KvMachine>(), NodeEvents{});
    ASSERT_FALSE(opened.ok()) << ratio;
    EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(opened.error().message.find("snapshot_log_ratio"), std::string::npos) << opened.error().message;
  }
  testing::LocalHub hub;
  NodeOptions o = lone_node_options(hub);
  o.snapshot_log_ratio = 0;
  auto opened = Node::open(o, std::make_shared<KvMachine>(), NodeEvents{});
  EXPECT_TRUE(opened.ok()) << opened.error().message;
}

TEST(Node, LeaderFailureElectsAnotherAndKeepsData) {
  LocalCluster cluster(3);
  const NodeId first = cluster.wait_for_leader();
  ASSERT_NE(first, 0u);
  auto expected = write_keys(cluster.node(first), 0, 50);
  cluster.node(first).stop();
  cluster.nodes()[first].node.reset();
  const NodeId second = cluster.wait_for_leader(first);
  ASSERT_NE(second, 0u);
  for (auto& [k, v] : write_keys(cluster.node(second), 50, 100)) expected[k] = v;
  EXPECT_TRUE(cluster.converge(expected));
}

TEST(Node, LaggingFollowerCatchesUpThroughSnapshot) {
  LocalCluster cluster(3, /*snapshot_threshold=*/40);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const NodeId lagging = leader % 3 + 1;
  cluster.hub().isolate(lagging);
  const auto expected = write_keys(cluster.node(leader), 0, 300);
  // The leader compacts its log well past the isolated follower's position (snapshots
  // are taken in the background, so wait for it).
  for (int i = 0; i < 200 && cluster.node(leader).status().snapshot_index <= 200; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GT(cluster.node(leader).status().snapshot_index, 200u);
  cluster.hub().heal();
  EXPECT_TRUE(cluster.converge(expected, 10s));
  EXPECT_GE(cluster.node(lagging).status().snapshots_installed, 1u);
}

// A state much larger than the commands: after the first snapshot, the next one
// waits for commands adding up to snapshot_log_ratio times its size, not for
// snapshot_threshold_entries.
TEST(Node, AutomaticSnapshotsWaitForALogSeveralTimesTheSnapshotsSize) {
  for (const double ratio : {0.0, 4.0}) {
    SCOPED_TRACE("snapshot_log_ratio " + std::to_string(ratio));
    LocalCluster cluster(1, /*snapshot_threshold=*/10, ratio);
    ASSERT_EQ(cluster.wait_for_leader(), 1u);
    Node& node = cluster.node(1);
    auto set = [&](const std::string& key, const std::string& value) {
      Result<std::string> r = node.propose("set " + key + " " + value).get();
      ASSERT_TRUE(r.ok()) << r.error().message;
    };
    auto snapshots_reach = [&](std::uint64_t count) {
      for (int i = 0; i < 400 && node.status().snapshots_taken < count; ++i) std::this_thread::sleep_for(5ms);
      return node.status().snapshots_taken >= count;
    };
    set("big", std::string(1000, 'x'));
    for (int i = 0; i < 10; ++i) set("k", "v" + std::to_string(i));
    ASSERT_TRUE(snapshots_reach(1));
    const Index first = node.status().snapshot_index;
    // About 1,000 bytes of commands: under 4 times the 1 KB snapshot, 10 times the
    // entry threshold.
    for (int i = 0; i < 100; ++i) set("k", "v" + std::to_string(i));
    if (ratio == 0) {
      EXPECT_TRUE(snapshots_reach(2));
      continue;
    }
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(node.status().snapshots_taken, 1u);
    EXPECT_EQ(node.status().snapshot_index, first);
    // Another 4,000 bytes pass 4 times its size.
    for (int i = 0; i < 440; ++i) set("k", "v" + std::to_string(i));
    EXPECT_TRUE(snapshots_reach(2));
    EXPECT_GT(node.status().snapshot_index, first + 400);
  }
}

TEST(Node, LearnerJoinsIsPromotedAndTakesLeadership) {
  LocalCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const auto expected = write_keys(cluster.node(leader), 0, 30);
  cluster.start(4, /*join=*/true);
  ASSERT_TRUE(cluster.node(leader).add_learner(Peer{4, "n4", "", ""}).get().ok());
  ASSERT_TRUE(cluster.converge(expected));
  EXPECT_EQ(cluster.node(4).status().role, NodeRole::kLearner);
  Status promoted = cluster.node(leader).promote(4).get();
  ASSERT_TRUE(promoted.ok()) << promoted.error().message;
  Result<NodeId> transferred = cluster.node(leader).transfer_leadership(4).get();
  ASSERT_TRUE(transferred.ok()) << transferred.error().message;
  // The old leader's status names the new leader by the time the transfer resolves.
  EXPECT_EQ(cluster.node(leader).status().leader, 4u);
  EXPECT_NE(cluster.node(leader).status().role, NodeRole::kLeader);
  EXPECT_EQ(cluster.wait_for_leader(), 4u);
  const auto more = write_keys(cluster.node(4), 30, 60);
  auto all = expected;
  for (auto& [k, v] : more) all[k] = v;
  EXPECT_TRUE(cluster.converge(all));
}

TEST(Node, AddingAVoterAsLearnerOrRemovingAStrangerIsRefused) {
  LocalCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const NodeId follower = leader == 1 ? 2 : 1;
  Status demote = cluster.node(leader).add_learner(Peer{follower, "n" + std::to_string(follower), "", ""}).get();
  ASSERT_FALSE(demote.ok());
  EXPECT_EQ(demote.error().code, ErrorCode::kInvalidArgument) << demote.error().message;
  Status stranger = cluster.node(leader).remove(99).get();
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.error().code, ErrorCode::kInvalidArgument) << stranger.error().message;
  std::size_t voters = 0;
  for (const Member& m : cluster.node(leader).status().members) voters += m.voter ? 1 : 0;
  EXPECT_EQ(voters, 3u) << "nothing changed";
}

// The core takes one membership change at a time; the node queues the others
// instead of failing them, and checks each against the configuration it meets.
TEST(Node, MembershipChangesAskedTogetherWaitTheirTurn) {
  LocalCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  Node& node = cluster.node(leader);
  std::future<Status> add4 = node.add_learner(Peer{4, "n4", "", ""});
  std::future<Status> add5 = node.add_learner(Peer{5, "n5", "", ""});
  std::future<Status> remove4 = node.remove(4);  // 4 is a member only once add4 commits
  for (std::future<Status>* f : {&add4, &add5, &remove4}) {
    const Status s = f->get();
    EXPECT_TRUE(s.ok()) << s.error().message;
  }
  std::vector<NodeId> learners;
  std::size_t voters = 0;
  for (const Member& m : node.status().members) {
    if (m.voter) ++voters;
    else learners.push_back(m.peer.id);
  }
  EXPECT_EQ(voters, 3u);
  EXPECT_EQ(learners, std::vector<NodeId>{5});
}

TEST(Node, ExplicitSnapshotCompactsTheLog) {
  LocalCluster cluster(1);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_EQ(leader, 1u);
  write_keys(cluster.node(1), 0, 100);
  Result<Index> snap = cluster.node(1).snapshot().get();
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_GE(snap.value(), 101u);
  EXPECT_EQ(cluster.nodes()[1].log->first_index(), snap.value() - 5 + 1);
}

// Applying goes on while a snapshot is synced: its commit runs on the snapshot
// thread, so commands proposed meanwhile are applied and answered.
TEST(Node, ApplyingGoesOnWhileASnapshotIsSynced) {
  LocalCluster cluster(1);
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  Node& node = cluster.node(1);
  write_keys(node, 0, 10);
  GatedSnapshotStore& store = *cluster.nodes()[1].snapshots;
  store.commit_gate.hold();
  std::future<Result<Index>> snapshot = node.snapshot();
  ASSERT_TRUE(store.commit_gate.wait_until_reached(5s));
  // Each of these waits for its apply; with the commit on the apply thread they
  // would time out (request_timeout is 3 s).
  const auto expected = write_keys(node, 10, 60);
  EXPECT_EQ(cluster.machine(1).data(), expected);
  EXPECT_EQ(snapshot.wait_for(0s), std::future_status::timeout) << "the snapshot finished while held";
  store.commit_gate.release();
  Result<Index> taken = snapshot.get();
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_LT(taken.value(), node.status().applied_index);
  EXPECT_EQ(node.status().snapshot_index, taken.value());
}

// A state machine that captures its state (StateMachine::capture) has it written out
// on the snapshot thread: commands proposed meanwhile are applied and answered, and
// the snapshot holds the state at the index it was taken at, not what came after.
TEST(Node, ACapturedStateIsWrittenOnTheSnapshotThreadWhileApplyingGoesOn) {
  LocalCluster cluster(1);
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  Node& node = cluster.node(1);
  KvMachine& machine = cluster.machine(1);
  machine.capturing = true;
  const auto at_capture = write_keys(node, 0, 10);
  const Index captured_at = node.status().applied_index;
  machine.captured_save_gate.hold();
  std::future<Result<Index>> snapshot = node.snapshot();
  const bool started = machine.captured_save_gate.wait_until_reached(5s);
  if (!started) machine.captured_save_gate.release();
  ASSERT_TRUE(started) << "no captured state was written out";
  // Each of these waits for its apply; with the captured state written on the apply
  // thread they would time out (request_timeout is 3 s).
  const auto later = write_keys(node, 10, 60);
  EXPECT_EQ(machine.data(), later);
  EXPECT_EQ(snapshot.wait_for(0s), std::future_status::timeout)
      << "the snapshot finished while held";
  machine.captured_save_gate.release();
  Result<Index> taken = snapshot.get();
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken.value(), captured_at);
  EXPECT_EQ(machine.captured_save_threads(), std::vector<std::string>{"raft-snap"});
  EXPECT_EQ(machine.overlapping_calls(), 0) << "capture() overlapped an apply()";

  std::unique_ptr<SnapshotReader> reader = cluster.nodes()[1].snapshots->open_latest();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->metadata().index(), captured_at);
  std::string bytes(reader->metadata().size_bytes(), '\0');
  ASSERT_EQ(reader->read(bytes.data(), bytes.size()), bytes.size());
  KvMachine restored;
  std::istringstream image(bytes);
  restored.restore(image);
  EXPECT_EQ(restored.data(), at_capture) << "the snapshot is not the state at its index";
}

// A capture() that throws fails that snapshot with its message; nothing is stored, the
// node goes on applying, and the next snapshot is taken.
TEST(Node, ACaptureThatThrowsFailsOnlyThatSnapshot) {
  LocalCluster cluster(1);
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  Node& node = cluster.node(1);
  KvMachine& machine = cluster.machine(1);
  machine.capturing = true;
  machine.fail_captures("no memory for the copy");
  write_keys(node, 0, 10);
  Result<Index> failed = node.snapshot().get();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("no memory for the copy"), std::string::npos)
      << failed.error().message;
  EXPECT_FALSE(cluster.nodes()[1].snapshots->latest().has_value());
  write_keys(node, 10, 20);
  machine.fail_captures("");
  Result<Index> taken = node.snapshot().get();
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken.value(), node.status().applied_index);
  EXPECT_EQ(node.status().snapshot_index, taken.value());
}

// By default the state machine runs on the apply thread only. With apply_on_loop,
// every node's loop applies what commits while the apply thread is idle.
TEST(Node, ApplyOnLoopAppliesOnEveryNodesLoopWhileTheApplyThreadIsIdle) {
  for (const bool on_loop : {false, true}) {
    LocalCluster cluster(3, /*snapshot_threshold=*/0, /*snapshot_log_ratio=*/0, on_loop);
    ASSERT_NE(replicate_keys(cluster, 100), 0u) << "apply_on_loop " << on_loop;
    for (auto& [id, n] : cluster.nodes()) {
      const std::map<std::string, int> threads = n.machine->applies_by_thread();
      const std::map<std::string, int> expected{{on_loop ? "raft-loop" : "raft-apply", 100}};
      EXPECT_EQ(threads, expected) << "node " << id << ", apply_on_loop " << on_loop;
      EXPECT_EQ(n.machine->overlapping_calls(), 0) << "node " << id;
    }
  }
}

// NodeOptions::answer_batch gives the answers of a batch inside one call, on the
// answering thread: the proposals applied together and the reads one round serves,
// whether the apply thread or the loop applies.
TEST(Node, TheAnswersOfABatchAreGivenInsideOneAnswerBatchCall) {
  for (const bool on_loop : {false, true}) {
    SCOPED_TRACE(on_loop ? "apply_on_loop" : "apply thread");
    struct Tally {
      std::mutex mutex;
      std::condition_variable changed;
      std::vector<int> per_call;  // answers given by each answer_batch call, once it returned
      int outside = 0;            // answers given outside any
      int counted() const { return outside + std::accumulate(per_call.begin(), per_call.end(), 0); }
    };
    auto tally = std::make_shared<Tally>();
    static thread_local int* answers_in_this_call = nullptr;
    auto count_answer = [tally] {
      if (answers_in_this_call != nullptr) return void(++*answers_in_this_call);
      std::lock_guard lock(tally->mutex);
      ++tally->outside;
      tally->changed.notify_all();
    };
    testing::LocalHub hub;
    NodeOptions o = lone_node_options(hub);
    auto log = std::make_shared<CountingLogStore>();
    o.log_store = log;
    o.apply_on_loop = on_loop;
    o.answer_batch = [tally](const std::function<void()>& answer_all) {
      int answers = 0;
      answers_in_this_call = &answers;
      answer_all();
      answers_in_this_call = nullptr;
      std::lock_guard lock(tally->mutex);
      tally->per_call.push_back(answers);
      tally->changed.notify_all();
    };
    auto opened = Node::open(o, std::make_shared<KvMachine>(), NodeEvents{});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    Node& node = *opened.value();
    for (int i = 0; i < 500 && node.status().role != NodeRole::kLeader; ++i)
      std::this_thread::sleep_for(5ms);
    ASSERT_EQ(node.status().role, NodeRole::kLeader);

    // The loop stops inside the write of the first proposal while 30 more and 10
    // reads queue behind it: they then commit, and are answered, together.
    log->hold_next_write_here = true;
    node.propose("set first 1", [count_answer](Result<std::string>) { count_answer(); });
    const bool held = log->wait_until_held();
    if (!held) log->hold_next_write_here = false;
    ASSERT_TRUE(held) << "the node wrote nothing on its loop";
    for (int i = 0; i < 30; ++i) {
      node.propose("set k" + std::to_string(i) + " v", [count_answer](Result<std::string> r) {
        EXPECT_TRUE(r.ok());
        count_answer();
      });
    }
    for (int i = 0; i < 10; ++i) {
      node.read_barrier([count_answer](Result<Index> r) {
        EXPECT_TRUE(r.ok());
        count_answer();
      });
    }
    log->release_held();
    std::unique_lock lock(tally->mutex);
    ASSERT_TRUE(tally->changed.wait_for(lock, 5s, [&] { return tally->counted() >= 41; }))
        << tally->counted();
    EXPECT_EQ(tally->outside, 0) << "answers given outside answer_batch";
    const int largest = tally->per_call.empty()
                            ? 0
                            : *std::max_element(tally->per_call.begin(), tally->per_call.end());
    EXPECT_GE(largest, 10) << "no batch of answers: " << ::testing::PrintToString(tally->per_call);
  }
}

// What commits while the apply thread saves a snapshot queues behind the save, in
// order, and is applied there; once the apply thread is idle again the loop applies.
// Applied on the loop at once, those writes would race the save (and change the
// state it saves: the snapshot would fail as not at its index).
TEST(Node, ApplyOnLoopLeavesBatchesToABusyApplyThreadInOrder) {
  LocalCluster cluster(1, /*snapshot_threshold=*/0, /*snapshot_log_ratio=*/0, /*apply_on_loop=*/true);
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  Node& node = cluster.node(1);
  KvMachine& machine = cluster.machine(1);
  auto applies_on = [&machine](const std::string& thread) {
    const std::map<std::string, int> threads = machine.applies_by_thread();
    return threads.count(thread) ? threads.at(thread) : 0;
  };
  auto expected = write_keys(node, 0, 10);
  EXPECT_EQ(applies_on("raft-loop"), 10) << "the apply thread was idle";
  const Index snapshot_at = node.status().applied_index;
  machine.save_gate.hold();
  std::future<Result<Index>> snapshot = node.snapshot();
  const bool started = machine.save_gate.wait_until_reached(5s);
  if (!started) machine.save_gate.release();
  ASSERT_TRUE(started) << "no save() began";
  std::vector<std::future<Result<std::string>>> during;
  const std::uint64_t handed_out_before = node.status().proposals_committed;
  for (int i = 0; i < 20; ++i) during.push_back(node.propose("set during " + std::to_string(i)));
  // All 20 handed out for applying while save() is held. Not the commit index: the
  // core's advances a Ready before its entries are handed out, and under tsan that
  // Ready came after the release (CI: all 20 applied on the loop, once idle again).
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (node.status().proposals_committed < handed_out_before + 20 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  const std::uint64_t handed_out_during_save = node.status().proposals_committed - handed_out_before;
  EXPECT_EQ(handed_out_during_save, 20u);
  for (auto& f : during) EXPECT_EQ(f.wait_for(0s), std::future_status::timeout) << "applied during the save";
  machine.save_gate.release();
  for (auto& f : during) EXPECT_TRUE(f.get().ok());
  Result<Index> taken = snapshot.get();
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken.value(), snapshot_at);
  EXPECT_EQ(applies_on("raft-apply"), 20) << "the writes committed during the save; applies by thread: "
                                           << describe(machine.applies_by_thread()) << ", snapshot at "
                                           << snapshot_at << ", handed out during the save "
                                           << handed_out_during_save;
  // The apply thread's last task ends just after its answers: the loop takes over
  // once it sees the thread idle.
  expected["during"] = "19";
  for (int i = 0; i < 200 && applies_on("raft-loop") == 10; ++i) {
    const auto one = write_keys(node, 10 + i, 11 + i);
    for (const auto& [k, v] : one) expected[k] = v;
  }
  EXPECT_GT(applies_on("raft-loop"), 10) << "the loop never applied again";
  EXPECT_EQ(machine.data(), expected);
  EXPECT_EQ(machine.overlapping_calls(), 0);
}

// A hard state that only moves the commit index is not written on its own (it needs
// no sync, and a write per commit costs two thread wake-ups); it rides along with the
// next write, and a clean stop writes the last one.
TEST(Node, CommitOnlyChangesWaitForTheNextWriteOrTheStop) {
  LocalCluster cluster(3);
  const NodeId leader = replicate_keys(cluster, 50);
  ASSERT_NE(leader, 0u);
  auto& nodes = cluster.nodes();
  const Index last = nodes[leader].log->last_index();
  EXPECT_EQ(cluster.node(leader).status().commit_index, last);
  EXPECT_LT(nodes[leader].log->hard_state().commit(), last) << "the last commit was written on its own";
  for (auto& [id, n] : nodes) n.node->stop();
  for (auto& [id, n] : nodes) {
    EXPECT_EQ(n.log->last_index(), last) << "node " << id;
    EXPECT_EQ(n.log->hard_state().commit(), last) << "node " << id << ": stop() must write the last commit";
  }
}

// While its log is idle every node writes on its loop: a follower at once (its answer
// waits for the write), the leader once its appends are on their way, a burst of
// small writes included. A leader's write of more than an append message's worth
// (max_append_bytes) goes through submit(), so the loop is never held longer than a
// follower's would be.
TEST(Node, WritesUpToAnAppendsWorthAreDoneOnTheLoopLargerOnesOnTheLogsThread) {
  // Appends of at most 16 KiB, so a large write is small in bytes: megabytes of
  // messages under tsan held the loops past the 50 ms election timeout.
  LocalCluster cluster(3, /*snapshot_threshold=*/0, /*snapshot_log_ratio=*/0, /*apply_on_loop=*/false,
                       /*max_append_bytes=*/16 << 10);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  auto& nodes = cluster.nodes();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(cluster.node(leader).propose("set one " + std::to_string(i)).get().ok());
  }
  // An answer needs only one follower: wait for the other to have written them too.
  const Index last = nodes[leader].log->last_index();
  for (auto& [id, n] : nodes) {
    for (int i = 0; i < 1000 && n.log->last_index() < last; ++i) std::this_thread::sleep_for(5ms);
  }
  for (auto& [id, n] : nodes) {
    EXPECT_GE(n.log->entries_written_here.load(), 20u) << "node " << id << (id == leader ? " (leader)" : "");
  }

  // Hold the leader's loop inside a write while a burst of `count` commands of
  // `value_bytes` queues behind it: the burst then goes out as one write.
  CountingLogStore& log = *nodes[leader].log;
  // Built before the hold, so the loop is held only while they are queued: its
  // followers elect another leader after 50-100 ms without heartbeats.
  auto burst = [&](int count, std::size_t value_bytes) {
    std::vector<std::string> commands;
    for (int i = 0; i < count; ++i) {
      commands.push_back("set burst" + std::to_string(i) + " " + std::string(value_bytes, 'v'));
    }
    log.hold_next_write_here = true;
    auto first = cluster.node(leader).propose("set burst first");
    const bool held = log.wait_until_held();
    if (!held) log.hold_next_write_here = false;
    ASSERT_TRUE(held) << "the leader wrote nothing on its loop";
    std::vector<std::future<Result<std::string>>> queued;
    for (std::string& command : commands) queued.push_back(cluster.node(leader).propose(std::move(command)));
    log.release_held();
    EXPECT_TRUE(first.get().ok());
    for (auto& f : queued) EXPECT_TRUE(f.get().ok());
  };
  std::uint64_t submitted_before = log.entries_submitted.load();
  std::uint64_t here_before = log.entries_written_here.load();
  burst(50, 100);  // 5 KB, under the 16 KiB max_append_bytes
  EXPECT_EQ(log.entries_submitted.load(), submitted_before) << "a small burst went to the log's thread";
  EXPECT_GE(log.entries_written_here.load() - here_before, 51u);

  submitted_before = log.entries_submitted.load();
  burst(40, 1 << 10);  // 40 KB, above it
  EXPECT_GE(log.entries_submitted.load() - submitted_before, 40u) << "the large burst was written on the loop";
}

// Entries proposed while both followers still owe an answer wait for it before they
// are sent (coalescing), and the leader's write of them waits too: they cannot commit
// sooner. The writes held meanwhile become one write when appends go out again (here
// the heartbeats, every 10 ms), and the leader still commits everything.
TEST(Node, ALeaderHoldsTheWriteOfEntriesItHasNotSentYet) {
  LocalCluster cluster(3);
  const NodeId leader = replicate_keys(cluster, 10);
  ASSERT_NE(leader, 0u);
  auto& nodes = cluster.nodes();
  // Each follower's loop stops inside its write of the next append: no answers.
  std::vector<NodeId> followers;
  for (auto& [id, n] : nodes) {
    if (id == leader) continue;
    followers.push_back(id);
    n.log->hold_next_write_here = true;
  }
  auto first = cluster.node(leader).propose("set first 1");
  for (NodeId id : followers) {
    const bool held = nodes[id].log->wait_until_held();
    if (!held) {
      for (NodeId f : followers) nodes[f].log->release_held();
    }
    ASSERT_TRUE(held) << "follower " << id << " wrote nothing on its loop";
  }
  // Twelve proposals a millisecond apart, each a Ready of its own: without holding,
  // twelve writes. Held, one per heartbeat in the ~12 ms they take. Well under the
  // election timeout (50 ms), so the followers' silence deposes nobody.
  CountingLogStore& log = *nodes[leader].log;
  auto writes = [&log] { return log.entry_writes_here.load() + log.entry_writes_submitted.load(); };
  const std::uint64_t writes_before = writes();
  std::vector<std::future<Result<std::string>>> proposed;
  for (int i = 0; i < 12; ++i) {
    proposed.push_back(cluster.node(leader).propose("set held" + std::to_string(i) + " v"));
    std::this_thread::sleep_for(1ms);
  }
  const std::uint64_t writes_while_unanswered = writes() - writes_before;
  for (NodeId id : followers) nodes[id].log->release_held();
  EXPECT_TRUE(first.get().ok());
  for (auto& f : proposed) {
    Result<std::string> r = f.get();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  }
  EXPECT_LE(writes_while_unanswered, 6u) << "the leader wrote its unsent entries one Ready at a time";
  const Index last = log.last_index();
  for (auto& [id, n] : nodes) {
    for (int i = 0; i < 1000 && n.log->last_index() < last; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(n.log->last_index(), last) << "node " << id;
  }
}

// A leader cut off from both followers steps down (CheckQuorum) holding the writes
// of the entries proposed since its last heartbeat (holds_until_sent), and it sends
// nothing more until it campaigns, an election timeout later: so the step-down itself
// must write them. With an election timeout of 400 ms, they must reach the log well
// before the first campaign could have released them.
TEST(Node, ALeaderThatStepsDownWritesTheEntriesItHeld) {
  LocalCluster cluster(3, /*snapshot_threshold=*/0, /*snapshot_log_ratio=*/0, /*apply_on_loop=*/false,
                       /*max_append_bytes=*/1 << 20, /*election_timeout=*/400ms);
  const NodeId leader = replicate_keys(cluster, 10);
  ASSERT_NE(leader, 0u);
  Node& node = cluster.node(leader);
  CountingLogStore& log = *cluster.nodes()[leader].log;
  cluster.hub().isolate(leader);
  // A proposal every 2 ms until it steps down: those since its last heartbeat (every
  // 10 ms) are held when it does. None of them can commit.
  std::vector<std::future<Result<std::string>>> proposed;
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (node.status().role == NodeRole::kLeader && std::chrono::steady_clock::now() < give_up) {
    proposed.push_back(node.propose("set cut" + std::to_string(proposed.size()) + " v"));
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_NE(node.status().role, NodeRole::kLeader) << "the cut-off leader never stepped down";
  const auto stepped_down = std::chrono::steady_clock::now();
  const Index appended = node.status().last_index;
  while (log.last_index() < appended && std::chrono::steady_clock::now() < stepped_down + 200ms) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(log.last_index(), appended) << "the writes held at the step-down waited for the next campaign ("
                                        << proposed.size() << " proposals)";
}

// A leader of five sends its writes to the log's thread, where the disk syncs while
// its loop counts four followers' answers and feeds them; followers still write
// theirs on their loops. Each write waits until every follower has answered the last
// one: with an append still in flight to each follower, coalescing holds the next
// back, nothing goes out ahead of the write, and the leader writes it on its loop
// (measured faster that way; tsan's slowness once made that happen here).
TEST(Node, ALeaderOfFiveWritesOnTheLogsThreadItsFollowersOnTheirLoops) {
  LocalCluster cluster(5);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  auto& nodes = cluster.nodes();
  Node& node = cluster.node(leader);
  CountingLogStore& log = *nodes[leader].log;
  auto all_followers_answered = [&node] {
    const NodeStatus status = node.status();
    return std::all_of(status.progress.begin(), status.progress.end(),
                       [&status](const ReplicationProgress& p) { return p.match_index == status.last_index; });
  };
  auto wait_for_every_answer = [&] {
    for (int i = 0; i < 1000 && !all_followers_answered(); ++i) std::this_thread::sleep_for(1ms);
    return all_followers_answered();
  };
  ASSERT_TRUE(wait_for_every_answer());
  const std::uint64_t here_before = log.entries_written_here.load();
  const std::uint64_t submitted_before = log.entries_submitted.load();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(node.propose("set key" + std::to_string(i) + " v").get().ok());
    ASSERT_TRUE(wait_for_every_answer()) << "write " << i;
  }
  ASSERT_EQ(node.status().role, NodeRole::kLeader)
      << "leadership moved during the writes (the test needs one leader throughout)";
  EXPECT_EQ(log.entries_written_here.load(), here_before) << "the leader of five wrote on its loop";
  EXPECT_GE(log.entries_submitted.load() - submitted_before, 20u);
  const Index last = log.last_index();
  for (auto& [id, n] : nodes) {
    if (id == leader) continue;
    for (int i = 0; i < 1000 && n.log->last_index() < last; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_GE(n.log->entries_written_here.load(), 20u) << "follower " << id;
  }
}

// A write that fails on the loop stops that node as a failed write on the log's thread
// does; the other two go on.
TEST(Node, AWriteThatFailsOnTheLoopStopsOnlyThatNode) {
  LocalCluster cluster(3);
  const NodeId leader = replicate_keys(cluster, 10);
  ASSERT_NE(leader, 0u);
  const NodeId broken = leader % 3 + 1;
  cluster.nodes()[broken].log->fail_here = true;
  const auto expected = write_keys(cluster.node(leader), 10, 30);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (cluster.node(broken).status().storage_failure.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_NE(cluster.node(broken).status().storage_failure.find("the disk is gone"), std::string::npos)
      << cluster.node(broken).status().storage_failure;
  EXPECT_EQ(cluster.node(leader).status().storage_failure, "");
  EXPECT_NE(cluster.machine(leader).data(), cluster.machine(broken).data());
  EXPECT_EQ(cluster.machine(leader).data().at("k29"), "v29");
}

TEST(Node, OversizedCommandIsRefused) {
  LocalCluster cluster(1);
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  Result<std::string> r = cluster.node(1).propose(std::string((1 << 20) + 1, 'x')).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
}

}  // namespace
}  // namespace raft

namespace raft {
namespace {

int free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// The same runtime over the real HTTP transport on loopback sockets.
TEST(NodeOverHttp, ThreeNodesReplicateAndSurviveLeaderStop) {
  std::vector<Peer> peers;
  for (NodeId id = 1; id <= 3; ++id) {
    peers.push_back(Peer{id, "n" + std::to_string(id), "127.0.0.1:" + std::to_string(free_loopback_port()), ""});
  }
  std::map<NodeId, std::shared_ptr<KvMachine>> machines;
  std::map<NodeId, std::unique_ptr<Node>> nodes;
  for (const Peer& peer : peers) {
    NodeOptions o;
    o.id = peer.id;
    o.initial_cluster = peers;
    o.tick_interval = 5ms;
    o.heartbeat_interval = 10ms;
    o.election_timeout = 60ms;
    o.log_store = std::make_shared<MemoryLogStore>();
    o.snapshot_store = std::make_shared<MemorySnapshotStore>();
    o.snapshot_threshold_entries = 50;
    o.snapshot_trailing_entries = 5;
    machines[peer.id] = std::make_shared<KvMachine>();
    auto opened = Node::open(o, machines[peer.id]);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    nodes[peer.id] = std::move(opened.value());
  }
  auto leader_of = [&](NodeId except) -> NodeId {
    for (int i = 0; i < 500; ++i) {
      for (auto& [id, node] : nodes) {
        if (id != except && node && node->status().role == NodeRole::kLeader) return id;
      }
      std::this_thread::sleep_for(10ms);
    }
    return 0;
  };
  const NodeId first = leader_of(0);
  ASSERT_NE(first, 0u);
  auto expected = write_keys(*nodes[first], 0, 200);
  nodes[first]->stop();
  nodes[first].reset();
  const NodeId second = leader_of(first);
  ASSERT_NE(second, 0u);
  for (auto& [k, v] : write_keys(*nodes[second], 200, 300)) expected[k] = v;
  for (auto& [id, node] : nodes) {
    if (!node) continue;
    bool converged = false;
    for (int i = 0; i < 300 && !converged; ++i) {
      converged = machines[id]->data() == expected;
      if (!converged) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(converged) << "node " << id;
  }
}

}  // namespace
}  // namespace raft

namespace raft {
namespace {

TEST(Node, RemovingTheLeaderCompletesAndAnotherLeads) {
  LocalCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  write_keys(cluster.node(leader), 0, 10);
  Status removed = cluster.node(leader).remove(leader).get();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  const NodeId next = cluster.wait_for_leader(leader);
  EXPECT_NE(next, 0u);
}

}  // namespace
}  // namespace raft
