// The runtime behind raft::Node: one event loop (a single-threaded Boost.Asio
// io_context) owns the consensus core and drives it: ticks from a steady timer,
// messages from the transport, proposals and reads batched per loop iteration,
// Readies handled as they appear. Disk writes go to the LogStore asynchronously
// (the loop takes the next Ready while the previous one is being synced; messages
// that promise durability wait for their write), committed entries go to the apply
// thread, and the loop never blocks on the state machine (unless
// NodeOptions::apply_on_loop lets it apply while that thread is idle). It blocks on
// the disk only for a follower's append (whose answer waits for it anyway) and for
// a leader's write of up to an append's worth of entries once its appends are on
// the wire (in a configuration of at most three members; entries whose appends wait
// for a follower's answer are written when they go out: holds_until_sent()), and
// only while the log is idle and its syncs are fast (LogStore::try_write_here): two
// thread hand-offs fewer on the path of a commit (persist()).
//
// Threads: the loop thread (everything in the "loop only" section, and the
// connections of the default HTTP transport, which runs on io_), the apply thread
// (the StateMachine), the snapshot thread (a taken snapshot's fsyncs, and the writing
// of a state the StateMachine captured), the log store's threads, and those of a
// transport given in the options. Public entry points only queue work and post to
// the loop.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "raft/node.h"
#include "src/core/raft.h"
#include "src/node/task_thread.h"

namespace raft {

class NodeImpl final : public TransportHandler {
 public:
  using Clock = std::chrono::steady_clock;

  NodeImpl(NodeOptions options, std::shared_ptr<StateMachine> state_machine, NodeEvents events);
  ~NodeImpl() override;

  // Opens the stores, restores the latest snapshot, builds the core, starts the
  // transport, the apply thread and the loop.
  Status start();
  void stop();

  void propose(std::string command, std::function<void(Result<std::string>)> done);
  void read_barrier(ReadConsistency consistency, std::function<void(Result<Index>)> done);
  // Why a membership change asked through the API is a mistake (adding a voter as a
  // learner, removing a non-member), or "". Event loop thread.
  std::string surprising_change(const pb::ConfChange& change) const;
  // The consistency of read_barrier() calls that name none (NodeOptions).
  ReadConsistency default_read_consistency() const { return options_.read_consistency; }
  void change_membership(pb::ConfChange change, std::function<void(Status)> done);
  // Event loop thread. Proposes `change`, answering `done` or registering it in
  // conf_changes_; false, with both untouched, while the core refuses any change
  // (kConfChangeInProgress).
  bool try_propose_conf_change(pb::ConfChange& change, std::function<void(Status)>& done, Clock::time_point deadline);
  // Proposes the waiting changes the core takes now, oldest first. Event loop thread.
  void propose_waiting_conf_changes();
  void promote(NodeId id, std::function<void(Status)> done);
  void update_member(const Peer& peer, std::function<void(Status)> done);
  void transfer_leadership(NodeId to, std::function<void(Result<NodeId>)> done);
  void snapshot(std::function<void(Result<Index>)> done);
  NodeStatus status() const;
  NodeId id() const { return options_.id; }
  TransportStats transport_stats() const { return transport_ ? transport_->stats() : TransportStats{}; }

  // TransportHandler (the loop thread for the default transport; any thread otherwise).
  void on_messages(std::vector<pb::Message>&& messages) override;
  std::unique_ptr<SnapshotWriter> on_snapshot_begin(const pb::Message& request) override;
  void on_snapshot_received(pb::Message&& request) override;

 private:
  struct QueuedProposal {
    std::string command;
    std::function<void(Result<std::string>)> done;
    Clock::time_point deadline;
  };
  struct PendingProposal {
    Term term;
    std::function<void(Result<std::string>)> done;
    Clock::time_point deadline;
  };
  struct QueuedRead {
    ReadConsistency consistency;
    std::function<void(Result<Index>)> done;
    Clock::time_point deadline;
  };
  struct ReadBatch {
    std::vector<std::function<void(Result<Index>)>> waiters;
    Clock::time_point deadline;
  };
  struct PendingConfChange {
    Term term;
    std::function<void(Status)> done;
    Clock::time_point deadline;
  };
  // A membership change not yet proposed: the core takes one change at a time, and
  // none before a new leader's first entry commits. Both clear within a round trip,
  // so the change waits for them (as hashicorp/raft's leader does) instead of
  // failing; past its deadline it fails as not performed.
  struct WaitingConfChange {
    pb::ConfChange change;
    std::function<void(Status)> done;
    Clock::time_point deadline;
  };
  struct PendingTransfer {
    NodeId target;
    std::function<void(Result<NodeId>)> done;
    Clock::time_point deadline;
  };
  // A leader's write, held until the appends sent before it are on the wire, or
  // until its entries' own appends are (holds_until_sent()).
  struct WriteAfterSends {
    LogWrite write;
    std::uint64_t write_id = 0;
  };
  // A Ready whose write is in flight: what to do once it is durable.
  struct PendingPersist {
    std::uint64_t write_id = 0;  // 0: nothing was written
    bool durable = false;
    core::PersistMark mark;
    std::vector<pb::Message> persisted_messages;
  };

  // ---- loop only ----
  void schedule_tick();
  void on_tick();
  // Delivers to the core every tick that real time owes it. Core ticks follow the
  // steady clock, not timer wake-ups: after the loop was stalled (busy, SIGSTOP, a VM
  // pause) the missed ticks come before anything else, so timeouts and the leader
  // lease measure real time (a lease counted in ticks that lag real time could let a
  // deposed leader serve a stale read).
  void catch_up_ticks();
  // Handles every Ready the core has. schedule_drain() defers that behind the loop
  // tasks already queued (acks, write completions, proposals, reads), so they share
  // one Ready: one append per follower, one disk write, one hand-off to the apply
  // thread. Under load the leader's profile showed a Ready per acknowledgement.
  void drain();
  void schedule_drain();
  void handle_ready(core::Ready&& ready);
  // Hands a Ready's write to the log store (see handle_ready). False if it failed
  // the node's storage on the spot.
  bool persist(LogWrite&& write, std::uint64_t write_id, bool sends_first);
  // `write_ids`: the Readies' writes it carries (several when merged).
  void submit_write(LogWrite&& write, std::vector<std::uint64_t> write_ids);
  // LogStore::try_write_here: nullopt if the store declined (the write is left to
  // the caller), else how the write went.
  std::optional<Status> write_here(LogWrite& write);
  // The writes_after_sends_, once the loop has run the sends queued before them,
  // each run of consecutive ones merged into one write: a lone one of up to an
  // append's worth of entries on this thread if the log is idle, else all through
  // submit_write().
  void write_after_sends();
  void post_write_after_sends();  // once, however often asked before it runs
  // A leader's write of entries whose appends coalescing holds back (the followers
  // have one unanswered): they cannot commit before those appends go out, so the
  // write waits for them in writes_after_sends_ and is merged with the writes held
  // meanwhile, one sync for all. Without it the leader synced about 1.8 times as
  // often as each follower (docs/performance.md). Only in a configuration whose
  // leader writes on its loop and that has another voter to commit with.
  bool holds_until_sent(const LogWrite& write) const;
  void on_write_done(std::uint64_t write_id, const Status& status);
  void release_durable();
  void send(std::vector<pb::Message>&& messages);
  void send_snapshot(pb::Message&& request);
  void dispatch_committed(std::vector<pb::Entry>&& entries);
  // Loop: takes in what the apply thread published, answers the reads it satisfies,
  // and arms the apply thread's wake-up for the first read still waiting.
  void catch_up_applied();
  void on_read_state(const core::ReadState& state);
  void flush_proposals();
  void flush_reads();
  void expire_requests();
  void on_leader_change(const core::SoftState& soft);
  void log_removal(bool removed);
  // Tells the transport, members_ and the listeners about a new configuration;
  // returns at once while the core's configuration version is unchanged.
  void sync_configuration();
  void maybe_auto_snapshot();
  void start_snapshot(std::function<void(Result<Index>)> done);
  // Creates a snapshot with `metadata` and fills it with what `save` writes, uncommitted.
  // Throws as the store and `save` do.
  std::shared_ptr<SnapshotWriter> write_snapshot(const pb::SnapshotMetadata& metadata,
                                                 const std::function<void(std::ostream&)>& save);
  // Any thread: hands the outcome of the snapshot in progress back to the loop.
  void snapshot_finished(Result<pb::SnapshotMetadata> result, std::function<void(Result<Index>)> done);
  void on_snapshot_taken(const pb::SnapshotMetadata& metadata, std::function<void(Result<Index>)> done);
  void fail_storage(const std::string& why);
  void fail_everything(ErrorCode code, const std::string& why);
  void publish_status();
  void log(const std::string& line);
  Error not_leader_error() const;

  // Queues a task on the apply thread, counting it in apply_tasks_queued_. Loop only.
  void post_to_apply(std::function<void()> task);

  // Any thread that answers: runs `answer_all` through NodeOptions::answer_batch.
  template <typename AnswerAll>
  void answer_together(AnswerAll&& answer_all) {
    if (!options_.answer_batch) return answer_all();
    options_.answer_batch(std::ref(answer_all));  // a reference: no allocation per batch
  }

  // ---- apply thread only (and the loop, with NodeOptions::apply_on_loop, while
  // apply_tasks_queued_ is zero) ----
  void apply_batch(const std::vector<pb::Entry>& entries,
                   std::vector<std::function<void(Result<std::string>)>>& callbacks);
  void apply_and_answer(const std::vector<pb::Entry>& entries,
                        std::vector<std::function<void(Result<std::string>)>>& callbacks);
  void restore_latest_snapshot();

  NodeOptions options_;
  std::shared_ptr<StateMachine> state_machine_;
  NodeEvents events_;
  std::shared_ptr<LogStore> log_store_;
  std::shared_ptr<SnapshotStore> snapshot_store_;
  // Declared before io_, so destroyed after it: the default transport runs on io_,
  // and connections its stop() abandoned must go with io_, before the transport.
  std::shared_ptr<Transport> transport_;

  boost::asio::io_context io_;
  boost::asio::steady_timer tick_timer_{io_};
  std::thread loop_thread_;
  std::unique_ptr<TaskThread> apply_;
  std::unique_ptr<TaskThread> snapshot_commits_;
  std::atomic<bool> stopped_{false};
  bool started_ = false;

  // Loop state.
  std::unique_ptr<core::Raft> core_;
  core::SoftState soft_state_;
  std::deque<PendingPersist> persisting_;
  std::uint64_t next_write_id_ = 1;
  std::optional<pb::HardState> deferred_hard_state_;  // commit-only, not yet written
  // Writes waiting for write_after_sends(); while any waits, later writes queue here
  // too, so that writes reach the log store in Ready order. Held (nothing posted)
  // only while this node leads and every one of them holds_until_sent(): the next
  // Ready that sends, or a step-down, posts write_after_sends().
  std::vector<WriteAfterSends> writes_after_sends_;
  bool write_after_sends_posted_ = false;
  // A leader writes on its loop only in a configuration of at most this many members
  // (itself included; learners count, they are sent to as well). See persist().
  static constexpr std::size_t kMostMembersForLoopWrites = 3;
  std::map<Index, PendingProposal> proposals_;       // by log index
  std::map<Index, PendingConfChange> conf_changes_;  // by log index
  std::deque<WaitingConfChange> waiting_conf_changes_;  // oldest first
  std::map<std::string, ReadBatch> read_batches_;    // by read context
  std::multimap<Index, ReadBatch> reads_awaiting_apply_;
  std::uint64_t next_read_context_ = 1;
  std::vector<PendingTransfer> transfers_;
  std::map<NodeId, std::string> transport_peers_;
  std::string configuration_fingerprint_;
  std::uint64_t synced_configuration_version_ = ~std::uint64_t{0};  // of the core's, as synced
  std::vector<Member> members_;  // the configuration's members, for status()
  Index applied_ = 0;           // the loop's copy of published_applied_
  Index dispatched_index_ = 0;  // last entry handed to the apply thread
  Term dispatched_term_ = 0;
  Index last_snapshot_index_ = 0;
  std::uint64_t last_snapshot_bytes_ = 0;  // its size; 0 when unknown
  std::uint64_t snapshots_taken_ = 0;       // published by publish_status()
  // Command bytes handed to the apply thread since start-up, and their count at the
  // last snapshot's index: their difference is what snapshot_log_ratio weighs. The
  // count at the index of the snapshot in progress (one at a time) replaces the
  // latter once that snapshot is committed.
  std::uint64_t dispatched_bytes_ = 0;
  std::uint64_t dispatched_bytes_at_snapshot_ = 0;
  std::uint64_t dispatched_bytes_at_snapshot_in_progress_ = 0;
  bool snapshot_in_progress_ = false;
  std::string storage_failure_;
  int ticks_since_expiry_scan_ = 0;
  Clock::time_point next_tick_at_;  // when the core is owed its next tick
  bool drain_scheduled_ = false;    // a schedule_drain() task is queued

  // Queues filled by any thread, drained by the loop.
  std::mutex queue_mutex_;
  std::vector<QueuedProposal> queued_proposals_;
  std::vector<QueuedRead> queued_reads_;

  // Tasks posted to the apply thread and not yet finished. Only the loop posts, so
  // while it reads zero the apply thread is idle and stays idle: the loop may then
  // touch the apply-thread state itself (NodeOptions::apply_on_loop). The apply
  // thread's decrement (release) orders its writes before the loop's load (acquire).
  std::atomic<std::uint64_t> apply_tasks_queued_{0};

  // Apply-thread state.
  Index sm_applied_ = 0;  // the state machine's state covers everything up to here
  bool sm_failed_ = false;

  // What the apply thread has applied, for the loop and status(). The apply thread
  // wakes the loop only once it reaches wake_loop_at_applied_: the first index a read
  // waits for, kNothingAwaitsApply when none does; otherwise the loop picks the index
  // up on its next drain. A wake-up per batch cost every node a context switch per
  // append. Each side stores its own before it loads the other's (both seq_cst), so a
  // read registered while a batch completes is seen by at least one side.
  static constexpr Index kNothingAwaitsApply = ~Index{0};
  std::atomic<Index> published_applied_{0};     // written by whoever applies
  std::atomic<Index> wake_loop_at_applied_{kNothingAwaitsApply};  // by the loop only

  // Published for status() (any thread).
  mutable std::mutex status_mutex_;
  NodeStatus status_;
};

}  // namespace raft
