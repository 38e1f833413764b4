// One simulated server: a consensus core driven the way a real runtime drives it.
//
// The node handles every Ready at once, following ready.h's contract:
//   1. `messages` go out immediately (a leader replicates before its own copy is
//      durable);
//   2. entries and hard state are written to the SimDisk (visible to the core at
//      once, durable only when a sync completes; one sync at a time, covering every
//      write issued before it started);
//   3. on_persisted(mark) and `persisted_messages` wait until this Ready and every
//      earlier one are durable; a Ready that needs no sync (must_sync false) still
//      waits behind earlier ones;
//   4. committed entries are applied to the node's KvStore at once, and the client
//      whose proposal landed at that (index, term) gets the result; an entry of
//      another term at that index means the proposal was lost.
// With RuntimeConfig::snapshot_interval set, the node snapshots its store every so
// many applied entries (an event of its own, as a snapshot thread would) into the
// disk's snapshot store and compacts its log behind it; a leader sends its newest
// snapshot with every snapshot request the core emits and reports the outcome when
// the message is delivered or lost; a follower keeps a snapshot it receives in its
// store and restores its state machine from it when the core installs it. A
// restarted node restores its state machine from its store's snapshot, then applies
// what the core hands out beyond it.
// Client requests are batched (max_batch_commands, batch_delay_ms) into one
// propose() call, except gets sent by ReadIndex or lease: those call read_index()
// with a context unique across the node's lives, and are answered from the local
// store once the read state arrives and the node has applied its index (a refused
// read state answers "not leader"). A crash loses the core, the store, the pending proposals and
// the unsynced writes; start() rebuilds the core from what the disk kept.
//
// The node talks to the outside only through NodeEnv (implemented by the Cluster),
// which also lets the checkers observe every write, send and apply.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/core/raft.h"
#include "tests/sim/config.h"
#include "tests/sim/disk.h"
#include "tests/sim/kv.h"
#include "tests/sim/requests.h"

namespace raft::sim {

class SimNode;

class NodeEnv {
 public:
  virtual ~NodeEnv() = default;
  virtual void send(const SimNode& from, pb::Message&& message) = 0;
  // Starts an fsync; the env later calls node.sync_done(sequence).
  virtual void start_sync(const SimNode& node, std::uint64_t sequence) = 0;
  // Calls node.flush_proposals() after the batch delay.
  virtual void schedule_flush(const SimNode& node) = 0;
  // Calls node.take_snapshot() a little later (a snapshot thread's latency).
  virtual void schedule_snapshot(const SimNode& node) = 0;
  virtual void reply(const SimNode& node, ClientReply&& reply) = 0;

  // Observation points for the checkers.
  virtual void before_write(const SimNode& node, const core::Ready& ready) = 0;
  virtual void after_write(const SimNode& node, const core::Ready& ready) = 0;
  virtual void on_apply(const SimNode& node, const pb::Entry& entry) = 0;
  // The state machine reached applied_index(): by applying an entry (`restored`
  // false) or by restoring a snapshot.
  virtual void on_state(const SimNode& node, bool restored) = 0;
  virtual void on_sync(const SimNode& node) = 0;
  virtual void on_read_served(const SimNode& node, const ClientRequest& request) = 0;
};

class SimNode {
 public:
  SimNode(core::NodeId id, const core::Options& options, const pb::Configuration& bootstrap,
          const RuntimeConfig& runtime, NodeEnv& env);

  // (Re)starts the core from the disk. `random_seed` seeds its election jitter.
  // Handles no Ready yet: call poll() once observers know of the new life.
  void start(std::uint64_t random_seed);
  // Handles every pending Ready.
  void poll() { process_ready(); }
  // Power loss. Returns the disk's account of what survived.
  std::string crash(core::Rng& rng, std::uint32_t torn_write_ppm);

  // Inputs. REQUIRE: up().
  void tick();
  void receive(const pb::Message& message);
  void sync_done(std::uint64_t sequence);
  void client_request(ClientRequest&& request);
  void flush_proposals();
  // Snapshots the state machine at applied_index() (unless the store holds one as
  // new) and compacts the log behind it. Returns a line for the trace, or "".
  std::string take_snapshot();
  // The snapshot request this node sent to `to` was delivered, or lost.
  void report_snapshot(core::NodeId to, bool delivered);
  // Proposes a membership change (the membership schedule's action).
  core::ProposeResult propose_conf_change(const pb::ConfChange& change, std::string* error);
  // Asks the core to hand leadership to `to` (the operator's action).
  std::optional<core::TransferError> transfer_leadership(core::NodeId to);

  // Introspection (for the cluster, checkers and traces).
  core::NodeId id() const { return id_; }
  bool up() const { return core_ != nullptr; }
  // Increments at every start; events carry it so those of a previous life are void.
  std::uint64_t incarnation() const { return incarnation_; }
  const core::Raft& core() const { return *core_; }
  const SimDisk& disk() const { return disk_; }
  const KvStore& kv() const { return kv_; }
  core::Index applied_index() const { return applied_index_; }
  // Term of the entry applied at `index` in this life; 0 if not applied, or if the
  // state machine got past it by restoring a snapshot.
  core::Term applied_term(core::Index index) const {
    return index >= 1 && index <= applied_terms_.size() ? applied_terms_[index - 1] : 0;
  }
  bool sync_in_flight() const { return sync_in_flight_; }

 private:
  struct AwaitingPersist {
    std::uint64_t sequence;  // the write that must be durable; 0: none of its own
    core::PersistMark mark;
    std::vector<pb::Message> messages;
  };
  struct PendingProposal {
    core::Term term;
    int client;
    std::uint64_t attempt;
  };

  void process_ready();
  void handle_ready(core::Ready& ready);
  void send(pb::Message&& message);
  // Keeps the snapshot a leader sent in the store (before the core sees its request).
  void receive_snapshot(const pb::Message& message);
  // The state machine becomes `snapshot` (nothing applied one by one up to it).
  void load_state(const SimSnapshot& snapshot);
  // The core installs `snapshot`: the state machine becomes it, and proposals it
  // covers lose their answer.
  void restore(const SimSnapshot& snapshot);
  void start_sync();
  void complete_persisted();
  void apply(const std::vector<pb::Entry>& entries);
  void reject(const ClientRequest& request, const core::ProposeResult& result);
  void start_read(ClientRequest&& request);
  void handle_read_states(std::vector<core::ReadState>& states);
  void answer_confirmed_reads();

  core::NodeId id_;
  core::Options options_;
  RuntimeConfig runtime_;
  NodeEnv& env_;
  SimDisk disk_;
  std::unique_ptr<core::Raft> core_;
  std::uint64_t incarnation_ = 0;

  std::deque<AwaitingPersist> awaiting_persist_;
  bool sync_in_flight_ = false;

  KvStore kv_;
  core::Index applied_index_ = 0;
  std::vector<core::Term> applied_terms_;
  // Entries the core hands out up to here are skipped: the state machine started this
  // life from the store's snapshot at this index, past the log's compaction point.
  core::Index skip_through_ = 0;
  bool snapshot_scheduled_ = false;
  std::optional<SimSnapshot> received_snapshot_;  // the latest a leader sent, this life

  std::deque<ClientRequest> proposal_queue_;
  std::map<core::Index, PendingProposal> pending_;

  // Reads without the log: waiting for their read state (by context), then for the
  // store to apply their read index.
  std::uint64_t read_counter_ = 0;
  std::map<std::string, ClientRequest> reads_awaiting_index_;
  std::deque<std::pair<core::Index, ClientRequest>> reads_awaiting_apply_;
};

}  // namespace raft::sim
