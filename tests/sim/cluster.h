// One simulator run: N nodes, a network, a disk per node, clients, a fault schedule
// and the checkers, all driven by one event queue on one thread from one seed.
//
// A run has two phases (after TigerBeetle's VOPR):
//   safety    for config.safety_ticks: clients issue operations while the nemesis
//             crashes, pauses and partitions nodes, the network drops, delays,
//             reorders and duplicates messages, and the membership schedule changes
//             the configuration. Every checker runs after every event.
//   liveness  the faults stop: the network heals and goes quiet, crashed nodes
//             restart, paused ones resume, and clients drain. Within
//             config.liveness_bound_ticks a leader must be elected, every client
//             operation must complete, and every member of the final configuration
//             must apply everything committed (removed nodes keep running, outside);
//             otherwise the run fails with the Liveness property.
// The run then checks the end state (same state machine everywhere, nothing
// acknowledged lost) and the linearizability of the client history.
//
// The same SimConfig always yields the same run, event for event: all randomness
// comes from core::Rng streams seeded from config.seed, and nothing reads a clock.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/sim/checkers.h"
#include "tests/sim/client.h"
#include "tests/sim/config.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/linearizability.h"
#include "tests/sim/membership.h"
#include "tests/sim/nemesis.h"
#include "tests/sim/network.h"
#include "tests/sim/node.h"
#include "tests/sim/trace.h"

namespace raft::sim {

struct RunStats {
  std::uint64_t simulated_ticks = 0;
  std::uint64_t events = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_delivered = 0;
  std::uint64_t messages_dropped = 0;  // by the network, by cut links, or at a down node
  std::uint64_t crashes = 0;
  std::uint64_t partitions = 0;
  std::uint64_t pauses = 0;
  std::uint64_t strikes = 0;               // new leaders isolated or crashed right after election
  std::uint64_t conf_changes = 0;          // membership changes a leader accepted
  std::uint64_t conf_changes_refused = 0;  // ... and refused (in flight, not leader yet)
  std::uint64_t transfers = 0;             // leadership transfers a leader accepted
  std::uint64_t snapshots_taken = 0;       // by nodes of their own state machines
  std::uint64_t snapshots_installed = 0;   // sent by a leader and installed by the core
  std::uint64_t client_ops_ok = 0;
  std::uint64_t client_ops_unknown = 0;
  std::uint64_t reads_without_log = 0;  // gets answered by ReadIndex or lease
  std::uint64_t leaders_elected = 0;
  core::Term max_term = 0;
  core::Index final_commit_index = 0;
  std::uint64_t linearizability_steps = 0;
  bool linearizability_gave_up = false;
};

struct RunResult {
  std::uint64_t seed = 0;
  std::optional<Violation> violation;
  RunStats stats;
  bool ok() const { return !violation.has_value(); }
};

// Runs one seed's configuration. `trace`, if not null, receives the event trace.
RunResult run_simulation(const SimConfig& config, std::FILE* trace = nullptr);

class Cluster final : public ClusterView, private NodeEnv, private ClientEnv {
 public:
  explicit Cluster(const SimConfig& config, std::FILE* trace = nullptr);
  ~Cluster() override;
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  RunResult run();

  // ClusterView.
  int node_count() const override { return config_.total_nodes(); }
  const SimNode& node(core::NodeId id) const override { return *nodes_[id - 1]; }
  Time now() const override { return now_; }
  const SimNode* leader() const override;

 private:
  enum class EventKind : std::uint8_t {
    kTick,
    kDeliver,
    kSyncDone,
    kFlush,
    kSnapshot,        // a node takes a snapshot
    kSnapshotReport,  // a leader learns whether its snapshot request arrived
    kRequest,
    kReply,
    kClientTimer,
    kCrash,
    kRestart,
    kPartition,
    kHeal,
    kPause,
    kStrike,
    kDeafen,      // a leader that just handed over stops hearing the cluster
    kCrashVoter,  // crash soon after a vote or an install (maybe_crash_soon)
    kMembership,
    kTransfer,  // the operator asks the leader to hand leadership over
    kEndSafety,
    kLivenessProbe,
    kLivenessDeadline,
  };
  struct Event {
    EventKind kind = EventKind::kTick;
    core::NodeId node = core::kNoNode;
    int client = 0;
    std::uint64_t incarnation = 0;
    std::uint64_t value = 0;  // sync sequence, timer id, partition generation, peer
    // kDeliver of a snapshot request: report the outcome to the sender's life `value`.
    // kSnapshotReport: the outcome.
    bool snapshot_delivered = false;
    bool report_snapshot = false;
    pb::Message message;
    ClientRequest request;
    ClientReply reply;
  };

  // NodeEnv.
  void send(const SimNode& from, pb::Message&& message) override;
  void start_sync(const SimNode& node, std::uint64_t sequence) override;
  void schedule_flush(const SimNode& node) override;
  void schedule_snapshot(const SimNode& node) override;
  void reply(const SimNode& node, ClientReply&& reply) override;
  void before_write(const SimNode& node, const core::Ready& ready) override;
  void after_write(const SimNode& node, const core::Ready& ready) override;
  void on_apply(const SimNode& node, const pb::Entry& entry) override;
  void on_state(const SimNode& node, bool restored) override;
  void on_sync(const SimNode& node) override;
  void on_read_served(const SimNode& node, const ClientRequest& request) override;

  // ClientEnv.
  void send_request(core::NodeId to, ClientRequest&& request) override;
  void set_timer(int client, Time delay_ms, std::uint64_t timer) override;
  void on_acknowledged(int client, const ClientReply& reply, const Operation& op) override;

  Event& schedule(Time delay_ms, EventKind kind, core::NodeId node = core::kNoNode);
  void dispatch(Event& event);
  // Runs a node input and then the checkers' after_event().
  bool deliverable(const Event& event) const;
  void defer_until_resumed(Event& event);
  void after_node_event(SimNode& node);
  // A snapshot request arrived (`delivered`) or was lost: its sender hears so a
  // network delay later, as a runtime hears the end of a snapshot stream.
  void schedule_snapshot_report(const Event& deliver, bool delivered);
  // Right after a write that must be durable before it counts (a vote granted, a
  // snapshot installed), the node may crash within a sync latency (nemesis.h).
  void maybe_crash_soon(const SimNode& node, bool install);

  // A node resuming from a pause first gets the ticks it missed, as a runtime whose
  // tick source is a monotonic clock delivers them (RuntimeConfig::catch_up_missed_ticks).
  void catch_up(SimNode& node);
  void start_node(SimNode& node);
  void crash_node(SimNode& node);
  void schedule_tick(const SimNode& node, Time delay_ms);
  void schedule_fault(FaultKind kind);
  void schedule_membership();
  void schedule_transfer();
  void transfer_leadership();
  void change_membership();
  void end_safety_phase();
  // Extra ticks the liveness phase allows for members that must catch up a long log.
  std::uint64_t catch_up_allowance_ticks() const;
  bool converged() const;
  // The leader of the highest term among running nodes, or 0.
  core::NodeId current_leader() const;
  // A fault's victim: the leader half of the time, else any node.
  core::NodeId pick_victim();
  void finish_run();
  std::string cluster_status() const;
  SimNode& mutable_node(core::NodeId id) { return *nodes_[id - 1]; }
  void trace(const std::string& text) const { trace_.line(now_, text); }

  SimConfig config_;
  Trace trace_;
  Time now_ = 0;
  EventQueue<Event> queue_;
  core::Rng order_rng_;   // tie-breaks between simultaneous events
  core::Rng timing_rng_;  // disk and client-link latencies, node seeds
  core::Rng crash_rng_;   // what a crash keeps
  SimNetwork network_;
  Nemesis nemesis_;
  MembershipSchedule membership_;
  core::Rng transfer_rng_;  // leadership transfers: when, and to whom
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<Time> tick_period_ms_;  // per node (index id - 1)
  std::vector<Time> paused_until_;
  std::vector<std::uint64_t> missed_ticks_;  // ticks that fell in a pause, not delivered yet
  std::vector<core::Role> last_role_;
  std::vector<Operation> history_;
  std::vector<std::unique_ptr<SimClient>> clients_;
  std::vector<std::unique_ptr<Checker>> checkers_;
  std::optional<Violation> violation_;
  RunStats stats_;
  bool liveness_phase_ = false;
  bool finished_ = false;
  Time liveness_start_ = 0;
  std::uint64_t liveness_allowance_ticks_ = 0;  // the bound plus the catch-up allowance
  std::uint64_t partition_generation_ = 0;
};

}  // namespace raft::sim
