#include "tests/sim/cluster.h"

#include <algorithm>
#include <exception>

#include "src/core/confchange.h"

namespace raft::sim {
namespace {

// Independent random streams per concern, so that changing how often one thing
// happens does not reshuffle everything else of the seed.
std::uint64_t stream(std::uint64_t seed, std::uint64_t k) {
  return seed * 0x9e3779b97f4a7c15ULL + k * 0xbf58476d1ce4e5b9ULL;
}

std::string describe(const Command& c) {
  std::string out = std::string(to_string(c.kind)) + "(" + c.key;
  if (c.kind == CommandKind::kCas) out += ", " + c.expected + " -> " + c.value;
  if (c.kind == CommandKind::kPut) out += ", " + c.value;
  return out + ")";
}

}  // namespace

RunResult run_simulation(const SimConfig& config, std::FILE* trace) {
  Cluster cluster(config, trace);
  return cluster.run();
}

Cluster::Cluster(const SimConfig& config, std::FILE* trace)
    : config_(config),
      trace_(trace),
      order_rng_(stream(config.seed, 1)),
      timing_rng_(stream(config.seed, 2)),
      crash_rng_(stream(config.seed, 3)),
      network_(config.total_nodes(), config.network, stream(config.seed, 4)),
      nemesis_(config.faults, config.total_nodes(), stream(config.seed, 5)),
      membership_(config.membership, config.total_nodes(), stream(config.seed, 6)),
      transfer_rng_(stream(config.seed, 7)) {
  pb::Configuration bootstrap;
  for (int i = 1; i <= config_.node_count; ++i) bootstrap.add_voters(static_cast<core::NodeId>(i));
  const Time drift = config_.runtime.max_tick_drift_ms;
  for (int i = 1; i <= config_.total_nodes(); ++i) {
    // Spare nodes start outside any configuration: they learn the membership from
    // the first configuration entry a leader sends them once added.
    nodes_.push_back(
        std::make_unique<SimNode>(static_cast<core::NodeId>(i), config_.core,
                                  i <= config_.node_count ? bootstrap : pb::Configuration(),
                                  config_.runtime, static_cast<NodeEnv&>(*this)));
    tick_period_ms_.push_back(kMsPerTick - drift + timing_rng_.between(0, 2 * drift));
  }
  paused_until_.assign(nodes_.size(), 0);
  missed_ticks_.assign(nodes_.size(), 0);
  last_role_.assign(nodes_.size(), core::Role::kFollower);
  for (int c = 1; c <= config_.client.clients; ++c) {
    clients_.push_back(
        std::make_unique<SimClient>(c, config_.total_nodes(), config_.client,
                                    stream(config.seed, 100 + static_cast<std::uint64_t>(c)),
                                    static_cast<ClientEnv&>(*this), history_));
  }
  checkers_ = make_checkers();
  for (auto& checker : checkers_) checker->bind(this, &violation_, &config_.ignored_properties);
}

Cluster::~Cluster() = default;

// ---------------------------------------------------------------------------
// The run

RunResult Cluster::run() {
  if (trace_.on()) trace("seed " + std::to_string(config_.seed) + ": " + config_.describe());
  try {
    for (auto& node : nodes_) start_node(*node);
    for (auto& client : clients_) client->start();
    schedule_fault(FaultKind::kCrash);
    schedule_fault(FaultKind::kPartition);
    schedule_fault(FaultKind::kPause);
    schedule_membership();
    schedule_transfer();
    schedule(config_.safety_ticks * kMsPerTick, EventKind::kEndSafety);

    while (!finished_ && !violation_ && !queue_.empty()) {
      Time time = 0;
      const auto slot = queue_.pop(&time);
      now_ = time;
      ++stats_.events;
      dispatch(queue_.body(slot));
      queue_.release(slot);
    }
  } catch (const std::exception& e) {
    // The core or the simulator gave up (an assertion turned exception, a storage
    // error): a failure of the run like any other.
    violation_ = Violation{"Exception", core::kNoNode, 0, 0, now_, e.what()};
  }

  RunResult result;
  result.seed = config_.seed;
  result.violation = violation_;
  stats_.simulated_ticks = now_ / kMsPerTick;
  stats_.messages_dropped += network_.dropped();
  for (const auto& client : clients_) {
    stats_.client_ops_ok += client->completed();
    stats_.client_ops_unknown += client->unknown();
  }
  for (const auto& node : nodes_) {
    if (node->up())
      stats_.final_commit_index = std::max(stats_.final_commit_index, node->core().commit_index());
  }
  result.stats = stats_;
  if (trace_.on()) {
    trace(violation_ ? "FAIL " + violation_->describe() : std::string("run passed"));
  }
  return result;
}

Cluster::Event& Cluster::schedule(Time delay_ms, EventKind kind, core::NodeId node) {
  Event& e = queue_.push(now_ + delay_ms, order_rng_.next());
  e.kind = kind;
  e.node = node;
  e.client = 0;
  e.incarnation = 0;
  e.value = 0;
  e.snapshot_delivered = false;
  e.report_snapshot = false;
  return e;
}

bool Cluster::deliverable(const Event& event) const {
  const SimNode& target = node(event.node);
  return target.up() && (event.incarnation == 0 || event.incarnation == target.incarnation());
}

void Cluster::defer_until_resumed(Event& event) {
  const Time resume = paused_until_[event.node - 1];
  Event moved = std::move(event);
  Event& e = schedule(resume - now_, moved.kind, moved.node);
  e = std::move(moved);
}

void Cluster::dispatch(Event& event) {
  const auto paused = [&](core::NodeId id) { return now_ < paused_until_[id - 1]; };
  switch (event.kind) {
    case EventKind::kTick: {
      if (!deliverable(event)) return;  // a tick chain of a previous life
      SimNode& target = mutable_node(event.node);
      schedule_tick(target, tick_period_ms_[event.node - 1]);
      if (paused(event.node)) {
        // A paused node's timer does not fire; its clock runs on (see catch_up()).
        ++missed_ticks_[event.node - 1];
        return;
      }
      catch_up(target);
      target.tick();
      after_node_event(target);
      return;
    }
    case EventKind::kDeliver: {
      const pb::Message& m = event.message;
      if (node(event.node).up() && paused(event.node)) return defer_until_resumed(event);
      network_.arrived(m.from(), m.to());
      if (!network_.linked(m.from(), m.to()) || !node(event.node).up()) {
        ++stats_.messages_dropped;
        if (event.report_snapshot) schedule_snapshot_report(event, false);
        if (trace_.on())
          trace("lost " + describe(m) + (node(event.node).up() ? " (link cut)" : " (node down)"));
        return;
      }
      if (trace_.on()) trace("deliver " + describe(m));
      ++stats_.messages_delivered;
      if (event.report_snapshot) schedule_snapshot_report(event, true);
      SimNode& target = mutable_node(event.node);
      catch_up(target);
      target.receive(m);
      after_node_event(target);
      return;
    }
    case EventKind::kSyncDone:
    case EventKind::kFlush:
    case EventKind::kSnapshot:
    case EventKind::kSnapshotReport:
    case EventKind::kRequest: {
      if (!deliverable(event)) {
        if (event.kind == EventKind::kRequest && trace_.on()) {
          trace("client " + std::to_string(event.request.client) + " request to " +
                node_tag(event.node) + " lost (node down)");
        }
        return;
      }
      if (paused(event.node)) return defer_until_resumed(event);
      SimNode& target = mutable_node(event.node);
      catch_up(target);
      if (event.kind == EventKind::kSyncDone) {
        if (trace_.on())
          trace(node_tag(event.node) + " sync done (writes up to " + std::to_string(event.value) +
                ")");
        target.sync_done(event.value);
      } else if (event.kind == EventKind::kFlush) {
        target.flush_proposals();
      } else if (event.kind == EventKind::kSnapshot) {
        const std::string line = target.take_snapshot();
        if (!line.empty()) ++stats_.snapshots_taken;
        if (trace_.on() && !line.empty()) trace(node_tag(event.node) + " takes a " + line);
      } else if (event.kind == EventKind::kSnapshotReport) {
        if (trace_.on()) {
          trace(node_tag(event.node) + " hears its snapshot to " + node_tag(event.value) +
                (event.snapshot_delivered ? " arrived" : " was lost"));
        }
        target.report_snapshot(event.value, event.snapshot_delivered);
      } else {
        if (trace_.on()) {
          trace(node_tag(event.node) + " <- client " + std::to_string(event.request.client) + ": " +
                describe(event.request.command) + " [attempt " +
                std::to_string(event.request.attempt) + "]");
        }
        for (auto& checker : checkers_) checker->on_request(target, event.request);
        target.client_request(std::move(event.request));
      }
      after_node_event(target);
      return;
    }
    case EventKind::kReply:
      if (trace_.on()) {
        const ClientReply& r = event.reply;
        std::string text = "client " + std::to_string(r.client) + " <- " + node_tag(event.node) +
                           ": " + to_string(r.status);
        if (r.status == ReplyStatus::kOk)
          text += " at (" + std::to_string(r.index) + ", t" + std::to_string(r.term) + ")";
        if (r.status == ReplyStatus::kOk && r.result.value) text += " value=" + *r.result.value;
        trace(text + " [attempt " + std::to_string(r.attempt) + "]");
      }
      clients_[static_cast<std::size_t>(event.reply.client - 1)]->on_reply(event.reply);
      return;
    case EventKind::kClientTimer:
      clients_[static_cast<std::size_t>(event.client - 1)]->on_timer(event.value);
      return;
    case EventKind::kCrash: {
      if (liveness_phase_) return;
      SimNode& victim = mutable_node(pick_victim());
      if (victim.up()) {
        crash_node(victim);
        schedule(nemesis_.duration(FaultKind::kCrash), EventKind::kRestart, victim.id());
      }
      schedule_fault(FaultKind::kCrash);
      return;
    }
    case EventKind::kRestart:
      if (!node(event.node).up()) start_node(mutable_node(event.node));
      return;
    case EventKind::kPartition:
      if (liveness_phase_) return;
      if (!network_.partitioned()) {
        ++stats_.partitions;
        const core::NodeId focus = nemesis_.target_leader() ? current_leader() : core::kNoNode;
        const std::string shape = network_.partition_random(focus);
        if (trace_.on()) trace("partition " + shape);
        schedule(nemesis_.duration(FaultKind::kPartition), EventKind::kHeal).value =
            ++partition_generation_;
      }
      schedule_fault(FaultKind::kPartition);
      return;
    case EventKind::kHeal:
      if (event.value == partition_generation_ && network_.partitioned()) {
        network_.heal();
        if (trace_.on()) trace("partition healed");
      }
      return;
    case EventKind::kPause: {
      if (liveness_phase_) return;
      const core::NodeId id = pick_victim();
      if (node(id).up() && !paused(id)) {
        ++stats_.pauses;
        paused_until_[id - 1] = now_ + nemesis_.duration(FaultKind::kPause);
        if (trace_.on()) {
          trace(node_tag(id) + " paused for " + std::to_string(paused_until_[id - 1] - now_) +
                "ms");
        }
      }
      schedule_fault(FaultKind::kPause);
      return;
    }
    case EventKind::kStrike: {
      // A new leader is struck before its first appends land (event.value: its term).
      if (liveness_phase_ || !deliverable(event)) return;
      SimNode& victim = mutable_node(event.node);
      if (victim.core().role() != core::Role::kLeader || victim.core().term() != event.value)
        return;
      ++stats_.strikes;
      if (nemesis_.rng().chance(1, 3)) {
        crash_node(victim);
        schedule(nemesis_.duration(FaultKind::kCrash), EventKind::kRestart, victim.id());
        return;
      }
      network_.heal();
      ++stats_.partitions;
      const std::string shape = network_.partition(PartitionKind::kIsolate, victim.id());
      if (trace_.on()) trace("strike new leader: " + shape);
      schedule(nemesis_.duration(FaultKind::kPartition), EventKind::kHeal).value =
          ++partition_generation_;
      return;
    }
    case EventKind::kDeafen: {
      // A leader that just asked another node to take over stops hearing the others
      // (event.value: its term); they still hear it, so its TimeoutNow goes through.
      if (liveness_phase_ || !deliverable(event)) return;
      const SimNode& victim = node(event.node);
      if (victim.core().role() != core::Role::kLeader || victim.core().term() != event.value)
        return;
      ++stats_.strikes;
      network_.heal();
      ++stats_.partitions;
      const std::string shape = network_.deafen(victim.id());
      if (trace_.on()) trace("strike the leader handing over: " + shape);
      schedule(nemesis_.duration(FaultKind::kPartition), EventKind::kHeal).value =
          ++partition_generation_;
      return;
    }
    case EventKind::kCrashVoter:
      // A node that granted a vote or installed a snapshot crashes (event.value: when
      // it restarts).
      if (liveness_phase_ || !deliverable(event)) return;
      crash_node(mutable_node(event.node));
      schedule(event.value, EventKind::kRestart, event.node);
      return;
    case EventKind::kMembership:
      if (liveness_phase_) return;
      change_membership();
      schedule_membership();
      return;
    case EventKind::kTransfer:
      if (liveness_phase_) return;
      transfer_leadership();
      schedule_transfer();
      return;
    case EventKind::kEndSafety: end_safety_phase(); return;
    case EventKind::kLivenessProbe:
      if (converged()) {
        finish_run();
      } else {
        schedule(kMsPerTick, EventKind::kLivenessProbe);
      }
      return;
    case EventKind::kLivenessDeadline:
      if (finished_) return;
      {
        std::string detail = "the cluster did not converge within " +
                             std::to_string(liveness_allowance_ticks_) +
                             " ticks after the faults stopped: " + cluster_status();
        for (const auto& client : clients_) {
          if (!client->done()) detail += "; " + client->describe();
        }
        violation_ = Violation{property::kLiveness, core::kNoNode, 0, 0, now_, detail};
      }
      return;
  }
}

void Cluster::schedule_snapshot_report(const Event& deliver, bool delivered) {
  Event& e =
      schedule(timing_rng_.between(config_.network.min_delay_ms, config_.network.max_delay_ms),
               EventKind::kSnapshotReport, deliver.message.from());
  e.incarnation = deliver.value;
  e.value = deliver.message.to();
  e.snapshot_delivered = delivered;
}

void Cluster::after_node_event(SimNode& target) {
  if (!target.up()) return;
  for (auto& checker : checkers_) checker->after_event(target);
  const core::Raft& core = target.core();
  core::Role& last = last_role_[target.id() - 1];
  if (core.role() != last) {
    if (core.role() == core::Role::kLeader) {
      ++stats_.leaders_elected;
      if (!liveness_phase_) {
        if (const auto delay = nemesis_.strike_new_leader(config_.network.min_delay_ms)) {
          Event& e = schedule(*delay, EventKind::kStrike, target.id());
          e.incarnation = target.incarnation();
          e.value = core.term();
        }
      }
    }
    if (trace_.on()) {
      trace(node_tag(target.id()) + " is " + core::to_string(core.role()) + " in term " +
            std::to_string(core.term()) + " (last index " + std::to_string(core.last_index()) +
            ", commit " + std::to_string(core.commit_index()) + ")");
    }
    last = core.role();
  }
  stats_.max_term = std::max(stats_.max_term, core.term());
}

// ---------------------------------------------------------------------------
// Nodes and faults

void Cluster::schedule_tick(const SimNode& target, Time delay_ms) {
  schedule(delay_ms, EventKind::kTick, target.id()).incarnation = target.incarnation();
}

void Cluster::catch_up(SimNode& target) {
  std::uint64_t& missed = missed_ticks_[target.id() - 1];
  if (missed == 0 || !config_.runtime.catch_up_missed_ticks) {
    missed = 0;
    return;
  }
  if (trace_.on())
    trace(node_tag(target.id()) + " resumes: " + std::to_string(missed) + " missed ticks");
  for (; missed > 0 && target.up(); --missed) {
    target.tick();
    after_node_event(target);
  }
  missed = 0;
}

void Cluster::start_node(SimNode& target) {
  target.start(timing_rng_.next());
  paused_until_[target.id() - 1] = 0;
  missed_ticks_[target.id() - 1] = 0;
  last_role_[target.id() - 1] = core::Role::kFollower;
  if (trace_.on()) {
    const core::Raft& core = target.core();
    trace(node_tag(target.id()) + " starts (life " + std::to_string(target.incarnation()) +
          "): term " + std::to_string(core.term()) + ", vote " + std::to_string(core.vote()) +
          ", last index " + std::to_string(core.last_index()) + ", commit " +
          std::to_string(core.commit_index()));
  }
  for (auto& checker : checkers_) checker->on_start(target);
  target.poll();
  after_node_event(target);
  const Time period = tick_period_ms_[target.id() - 1];
  schedule_tick(target, timing_rng_.between(1, period));
}

void Cluster::crash_node(SimNode& target) {
  ++stats_.crashes;
  paused_until_[target.id() - 1] = 0;
  const std::string account = target.crash(crash_rng_, config_.disk.torn_write_ppm);
  if (trace_.on()) trace(node_tag(target.id()) + " crashes: " + account);
  for (auto& checker : checkers_) checker->on_crash(target);
}

void Cluster::schedule_fault(FaultKind kind) {
  const std::optional<Time> gap = nemesis_.next_gap(kind);
  if (!gap) return;
  const EventKind event = kind == FaultKind::kCrash       ? EventKind::kCrash
                          : kind == FaultKind::kPartition ? EventKind::kPartition
                                                          : EventKind::kPause;
  schedule(*gap, event);
}

void Cluster::schedule_membership() {
  if (const std::optional<Time> gap = membership_.next_gap())
    schedule(*gap, EventKind::kMembership);
}

void Cluster::change_membership() {
  const core::NodeId id = current_leader();
  if (id == core::kNoNode || now_ < paused_until_[id - 1]) return;
  SimNode& leader = mutable_node(id);
  catch_up(leader);
  int proposals = membership_.burst() ? 2 : 1;
  while (proposals-- > 0 && leader.up() && leader.core().role() == core::Role::kLeader) {
    const std::optional<MembershipSchedule::Change> change =
        membership_.pick(leader.core().configuration());
    if (!change) return;
    std::string error;
    const std::string before = trace_.on() ? core::describe(leader.core().configuration()) : "";
    const core::ProposeResult result = leader.propose_conf_change(change->change, &error);
    if (result.ok()) {
      ++stats_.conf_changes;
    } else {
      ++stats_.conf_changes_refused;
    }
    if (trace_.on()) {
      trace("membership: " + node_tag(id) + " proposes " + change->description + " in " + before +
            ": " +
            (result.ok() ? "appended at " + std::to_string(result.first_index) + ", now " +
                               core::describe(leader.core().configuration())
                         : std::string("refused (") + core::to_string(*result.error) +
                               (error.empty() ? "" : ": " + error) + ")"));
    }
    after_node_event(leader);
  }
}

void Cluster::schedule_transfer() {
  const std::uint64_t mtbf = config_.membership.transfer_mtbf_ticks;
  if (mtbf != 0) schedule(transfer_rng_.between(1, 2 * mtbf * kMsPerTick), EventKind::kTransfer);
}

void Cluster::transfer_leadership() {
  const core::NodeId id = current_leader();
  if (id == core::kNoNode || now_ < paused_until_[id - 1]) return;
  SimNode& leader = mutable_node(id);
  catch_up(leader);
  if (!leader.up() || leader.core().role() != core::Role::kLeader) return;
  // Usually a voter of the leader's configuration; one time in eight any node (itself,
  // a learner, a spare: the core must refuse or ignore those).
  const pb::Configuration& configuration = leader.core().configuration();
  core::NodeId target = core::kNoNode;
  if (transfer_rng_.chance(1, 8) || configuration.voters_size() < 2) {
    target = transfer_rng_.between(1, static_cast<std::uint64_t>(node_count()));
  } else {
    do {
      target = configuration.voters(static_cast<int>(
          transfer_rng_.below(static_cast<std::uint64_t>(configuration.voters_size()))));
    } while (target == id);
  }
  const std::optional<core::TransferError> error = leader.transfer_leadership(target);
  if (!error && target != id) ++stats_.transfers;
  if (trace_.on()) {
    trace("operator: " + node_tag(id) + " hands leadership to " + node_tag(target) + ": " +
          (error ? std::string("refused (") + core::to_string(*error) + ")" : "accepted"));
  }
  after_node_event(leader);
}

void Cluster::end_safety_phase() {
  liveness_phase_ = true;
  liveness_start_ = now_;
  if (trace_.on())
    trace("safety phase over: healing the network, restarting and resuming every node");
  ++partition_generation_;
  network_.heal();
  network_.quiet();
  for (auto& target : nodes_) {
    paused_until_[target->id() - 1] = 0;
    if (!target->up()) start_node(*target);
  }
  for (auto& client : clients_) client->drain();
  schedule(kMsPerTick, EventKind::kLivenessProbe);
  liveness_allowance_ticks_ = config_.liveness_bound_ticks + catch_up_allowance_ticks();
  schedule(liveness_allowance_ticks_ * kMsPerTick, EventKind::kLivenessDeadline);
}

const SimNode* Cluster::leader() const {
  const core::NodeId id = current_leader();
  return id == core::kNoNode ? nullptr : &node(id);
}

core::NodeId Cluster::current_leader() const {
  const SimNode* leader = nullptr;
  for (const auto& target : nodes_) {
    if (target->up() && target->core().role() == core::Role::kLeader &&
        (leader == nullptr || target->core().term() > leader->core().term())) {
      leader = target.get();
    }
  }
  return leader == nullptr ? core::kNoNode : leader->id();
}

std::uint64_t Cluster::catch_up_allowance_ticks() const {
  // Nothing compacts the log, so a member that joined late (or fell far behind)
  // must be sent every entry it lacks; with small appends and a small window on a
  // slow, reordering network that takes a while even though nothing is wrong. The
  // members are those of the most up-to-date log's configuration; the rate assumed is
  // one entry per append, a window of min(max_inflight_appends, 16) per round trip,
  // halved for the probing that reordering causes.
  const SimNode* latest = nullptr;
  for (const auto& target : nodes_) {
    if (latest == nullptr || target->core().last_index() > latest->core().last_index())
      latest = target.get();
  }
  const pb::Configuration& configuration = latest->core().configuration();
  core::Index backlog = 0;
  for (const auto& target : nodes_) {
    if (!is_member(configuration, target->id())) continue;
    backlog = std::max(backlog, latest->core().last_index() - target->applied_index());
  }
  const Time round_trip_ms = 2 * config_.network.max_delay_ms + config_.disk.max_sync_ms;
  const Time window = std::min<Time>(config_.core.max_inflight_appends, 16);
  return 2 * backlog * round_trip_ms / window / kMsPerTick;
}

core::NodeId Cluster::pick_victim() {
  if (nemesis_.target_leader()) {
    const core::NodeId leader = current_leader();
    if (leader != core::kNoNode) return leader;
  }
  return nemesis_.pick_node();
}

bool Cluster::converged() const {
  for (const auto& client : clients_) {
    if (!client->done()) return false;
  }
  const SimNode* leader = nullptr;
  for (const auto& target : nodes_) {
    if (!target->up()) return false;
    if (target->core().role() == core::Role::kLeader &&
        (leader == nullptr || target->core().term() > leader->core().term())) {
      leader = target.get();
    }
  }
  if (leader == nullptr || leader->core().commit_index() != leader->core().last_index())
    return false;
  // Removed nodes and spares outside the configuration hear nothing more.
  const pb::Configuration& configuration = leader->core().configuration();
  for (const auto& target : nodes_) {
    if (is_member(configuration, target->id()) &&
        target->applied_index() != leader->core().commit_index()) {
      return false;
    }
  }
  return true;
}

void Cluster::finish_run() {
  finished_ = true;
  if (trace_.on()) {
    trace("converged " + std::to_string((now_ - liveness_start_) / kMsPerTick) +
          " ticks after the faults stopped: " + cluster_status());
  }
  for (auto& checker : checkers_) checker->at_end();
  if (violation_) return;
  const CheckResult lin = check_history(history_);
  stats_.linearizability_steps = lin.steps;
  stats_.linearizability_gave_up = lin.gave_up;
  if (!lin.linearizable && !lin.gave_up) {
    violation_ =
        Violation{property::kLinearizability,
                  core::kNoNode,
                  0,
                  0,
                  now_,
                  "client history of key " + lin.key + " is not linearizable: " + lin.explanation};
  }
}

std::string Cluster::cluster_status() const {
  std::string out;
  for (const auto& target : nodes_) {
    if (!out.empty()) out += "; ";
    out += node_tag(target->id()) + " ";
    if (!target->up()) {
      out += "down";
      continue;
    }
    const core::Raft& core = target->core();
    out += std::string(core::to_string(core.role())) + " t" + std::to_string(core.term()) +
           " last " + std::to_string(core.last_index()) + " commit " +
           std::to_string(core.commit_index()) + " applied " +
           std::to_string(target->applied_index());
  }
  if (const SimNode* l = leader())
    out += "; configuration " + core::describe(l->core().configuration());
  return out;
}

// ---------------------------------------------------------------------------
// NodeEnv

void Cluster::send(const SimNode& from, pb::Message&& message) {
  ++stats_.messages_sent;
  for (auto& checker : checkers_) checker->on_send(from, message);
  if (message.has_vote_response() && message.vote_response().granted() &&
      !message.vote_response().pre_vote()) {
    maybe_crash_soon(from, /*install=*/false);
  }
  if (message.has_timeout_now() && !liveness_phase_) {
    // The leader handing over stops hearing the cluster while its successor takes
    // over: what it serves meanwhile must not rely on a lease the transfer voided.
    if (const auto delay = nemesis_.deafen_after_handover(config_.network.min_delay_ms)) {
      Event& e = schedule(*delay, EventKind::kDeafen, from.id());
      e.incarnation = from.incarnation();
      e.value = message.term();
    }
  }
  const SimNetwork::Route route = network_.route(message.from(), message.to());
  if (route.copies == 0 && trace_.on()) trace("drop " + describe(message));
  if (route.copies == 0 && message.has_snapshot_request()) {
    // The stream broke: the sender hears so once it gives up on it.
    Event& e = schedule(2 * config_.network.max_delay_ms, EventKind::kSnapshotReport, from.id());
    e.incarnation = from.incarnation();
    e.value = message.to();
  }
  for (int i = 0; i < route.copies; ++i) {
    Event& e = schedule(route.delay_ms[i], EventKind::kDeliver, message.to());
    if (i == 0 && message.has_snapshot_request()) {
      e.report_snapshot = true;
      e.value = from.incarnation();
    }
    if (i + 1 == route.copies) {
      e.message = std::move(message);
    } else {
      e.message = message;
    }
  }
}

void Cluster::start_sync(const SimNode& target, std::uint64_t sequence) {
  Event& e = schedule(timing_rng_.between(config_.disk.min_sync_ms, config_.disk.max_sync_ms),
                      EventKind::kSyncDone, target.id());
  e.incarnation = target.incarnation();
  e.value = sequence;
}

void Cluster::schedule_flush(const SimNode& target) {
  schedule(config_.runtime.batch_delay_ms, EventKind::kFlush, target.id()).incarnation =
      target.incarnation();
}

void Cluster::schedule_snapshot(const SimNode& target) {
  Event& e = schedule(timing_rng_.between(config_.disk.min_sync_ms, config_.disk.max_sync_ms),
                      EventKind::kSnapshot, target.id());
  e.incarnation = target.incarnation();
}

void Cluster::reply(const SimNode& from, ClientReply&& reply) {
  // Client links do not partition, but lose replies like any network during the
  // safety phase (the client then sees an unknown outcome).
  if (!liveness_phase_ && config_.network.drop_ppm > 0 &&
      timing_rng_.chance(config_.network.drop_ppm, 1'000'000)) {
    if (trace_.on())
      trace("reply from " + node_tag(from.id()) + " to client " + std::to_string(reply.client) +
            " lost");
    return;
  }
  Event& e =
      schedule(timing_rng_.between(config_.network.min_delay_ms, config_.network.max_delay_ms),
               EventKind::kReply, from.id());
  e.reply = std::move(reply);
}

void Cluster::before_write(const SimNode& target, const core::Ready& ready) {
  if (ready.snapshot) ++stats_.snapshots_installed;
  for (auto& checker : checkers_) checker->before_write(target, ready);
  if (trace_.on() && (ready.snapshot || !ready.entries.empty() || ready.hard_state)) {
    std::string text = node_tag(target.id()) + " writes";
    if (ready.snapshot) {
      text += " snapshot (" + std::to_string(ready.snapshot->index()) + ", t" +
              std::to_string(ready.snapshot->term()) + ") in place of its log,";
    }
    if (!ready.entries.empty()) {
      text += " entries [" + std::to_string(ready.entries.front().index()) + ".." +
              std::to_string(ready.entries.back().index()) + "] t" +
              std::to_string(ready.entries.back().term());
    }
    if (ready.hard_state) {
      text += " hard state (term " + std::to_string(ready.hard_state->term()) + ", vote " +
              std::to_string(ready.hard_state->vote()) + ", commit " +
              std::to_string(ready.hard_state->commit()) + ")";
    }
    trace(text + (ready.must_sync ? "" : " lazily"));
  }
}

void Cluster::after_write(const SimNode& target, const core::Ready& ready) {
  for (auto& checker : checkers_) checker->after_write(target, ready);
  if (ready.snapshot) maybe_crash_soon(target, /*install=*/true);
}

void Cluster::maybe_crash_soon(const SimNode& target, bool install) {
  if (liveness_phase_) return;
  if (const auto crash =
          nemesis_.crash_soon(install, config_.disk.max_sync_ms, config_.network.max_delay_ms)) {
    Event& e = schedule(crash->after_ms, EventKind::kCrashVoter, target.id());
    e.incarnation = target.incarnation();
    e.value = crash->down_ms;
  }
}

void Cluster::on_apply(const SimNode& target, const pb::Entry& entry) {
  for (auto& checker : checkers_) checker->on_apply(target, entry);
}

void Cluster::on_state(const SimNode& target, bool restored) {
  for (auto& checker : checkers_) checker->on_state(target, restored);
}

void Cluster::on_sync(const SimNode& target) {
  for (auto& checker : checkers_) checker->on_sync(target);
}

void Cluster::on_read_served(const SimNode& target, const ClientRequest& request) {
  for (auto& checker : checkers_) checker->on_read_served(target, request);
}

// ---------------------------------------------------------------------------
// ClientEnv

void Cluster::send_request(core::NodeId to, ClientRequest&& request) {
  if (trace_.on()) {
    trace("client " + std::to_string(request.client) + " -> " + node_tag(to) + ": " +
          describe(request.command) +
          (request.command.kind == CommandKind::kGet
               ? std::string(" by ") + to_string(request.read_path)
               : std::string()) +
          " [attempt " + std::to_string(request.attempt) + "]");
  }
  Event& e =
      schedule(timing_rng_.between(config_.network.min_delay_ms, config_.network.max_delay_ms),
               EventKind::kRequest, to);
  e.request = std::move(request);
}

void Cluster::set_timer(int client, Time delay_ms, std::uint64_t timer) {
  Event& e = schedule(delay_ms, EventKind::kClientTimer);
  e.client = client;
  e.value = timer;
}

void Cluster::on_acknowledged(int /*client*/, const ClientReply& reply, const Operation& op) {
  if (op.kind == OpKind::kGet && reply.index == 0) ++stats_.reads_without_log;
  for (auto& checker : checkers_) checker->on_acknowledged(reply, op);
}

}  // namespace raft::sim
