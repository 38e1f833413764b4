#include "tests/sim/node.h"

#include <stdexcept>

namespace raft::sim {

const char* to_string(ReplyStatus status) {
  switch (status) {
    case ReplyStatus::kOk: return "ok";
    case ReplyStatus::kNotLeader: return "not leader";
    case ReplyStatus::kBusy: return "busy";
    case ReplyStatus::kLost: return "lost";
  }
  return "?";
}

const char* to_string(ReadPath path) {
  switch (path) {
    case ReadPath::kLog: return "log";
    case ReadPath::kReadIndex: return "read-index";
    case ReadPath::kLease: return "lease";
  }
  return "?";
}

SimNode::SimNode(core::NodeId id, const core::Options& options, const pb::Configuration& bootstrap,
                 const RuntimeConfig& runtime, NodeEnv& env)
    : id_(id), options_(options), runtime_(runtime), env_(env), disk_(bootstrap) {
  options_.id = id;
}

void SimNode::start(std::uint64_t random_seed) {
  options_.random_seed = random_seed;
  ++incarnation_;
  // The state machine starts from the store's snapshot (which may be newer than the
  // log's compaction point); entries the core hands out up to it are skipped.
  if (disk_.snapshot()) load_state(*disk_.snapshot());
  skip_through_ = applied_index_;
  core_ = std::make_unique<core::Raft>(options_, disk_.written());
}

std::string SimNode::crash(core::Rng& rng, std::uint32_t torn_write_ppm) {
  core_.reset();
  awaiting_persist_.clear();
  sync_in_flight_ = false;
  kv_ = KvStore();
  applied_index_ = 0;
  applied_terms_.clear();
  proposal_queue_.clear();
  pending_.clear();
  reads_awaiting_index_.clear();
  reads_awaiting_apply_.clear();
  snapshot_scheduled_ = false;
  received_snapshot_.reset();
  return disk_.crash(rng, torn_write_ppm);
}

void SimNode::tick() {
  core_->tick();
  process_ready();
}

void SimNode::receive(const pb::Message& message) {
  if (message.has_snapshot_request()) receive_snapshot(message);
  core_->step(message);
  process_ready();
}

void SimNode::process_ready() {
  while (core_ != nullptr && core_->has_ready()) {
    core::Ready ready = core_->ready();
    handle_ready(ready);
  }
}

void SimNode::handle_ready(core::Ready& ready) {
  // 1. Messages that need nothing durable go out at once.
  for (pb::Message& m : ready.messages) send(std::move(m));
  ready.messages.clear();

  // 2. Install a snapshot the leader sent, then write; durable later.
  if (ready.snapshot) {
    if (!received_snapshot_ || received_snapshot_->metadata.index() != ready.snapshot->index()) {
      throw std::logic_error("simulator: the core installs a snapshot at index " +
                             std::to_string(ready.snapshot->index()) + " that no leader sent");
    }
    restore(*received_snapshot_);
  }
  env_.before_write(*this, ready);
  disk_.write(ready.snapshot, ready.entries, ready.hard_state);
  env_.after_write(*this, ready);
  awaiting_persist_.push_back(AwaitingPersist{ready.must_sync ? disk_.written_sequence() : 0,
                                              ready.persist_mark,
                                              std::move(ready.persisted_messages)});
  if (ready.must_sync && !sync_in_flight_) start_sync();

  // 4. Apply (committed entries are durable locally already), then answer the reads
  // whose read index is applied.
  apply(ready.committed_entries);
  handle_read_states(ready.read_states);

  // 3. Whatever is durable now (a Ready with nothing to sync behind durable ones).
  complete_persisted();
}

void SimNode::start_sync() {
  sync_in_flight_ = true;
  env_.start_sync(*this, disk_.written_sequence());
}

void SimNode::sync_done(std::uint64_t sequence) {
  sync_in_flight_ = false;
  disk_.sync_to(sequence);
  env_.on_sync(*this);
  // Writes issued while this sync ran need another one.
  for (const AwaitingPersist& a : awaiting_persist_) {
    if (a.sequence > disk_.synced_sequence()) {
      start_sync();
      break;
    }
  }
  complete_persisted();
  process_ready();
}

void SimNode::complete_persisted() {
  while (core_ != nullptr && !awaiting_persist_.empty() &&
         awaiting_persist_.front().sequence <= disk_.synced_sequence()) {
    AwaitingPersist done = std::move(awaiting_persist_.front());
    awaiting_persist_.pop_front();
    core_->on_persisted(done.mark);
    for (pb::Message& m : done.messages) send(std::move(m));
  }
}

void SimNode::send(pb::Message&& message) {
  if (message.has_snapshot_request()) {
    // The core names its log's compaction point; the store may hold a newer snapshot,
    // and that is what goes (as a real runtime streams its store's newest).
    const std::optional<SimSnapshot>& snapshot = disk_.snapshot();
    if (!snapshot || snapshot->metadata.index() < message.snapshot_request().metadata().index()) {
      throw std::logic_error("simulator: a snapshot request for index " +
                             std::to_string(message.snapshot_request().metadata().index()) +
                             " while the store holds none as new");
    }
    pb::SnapshotRequest& request = *message.mutable_snapshot_request();
    *request.mutable_metadata() = snapshot->metadata;
    request.set_data(encode_snapshot_data(*snapshot));
  }
  env_.send(*this, std::move(message));
}

void SimNode::receive_snapshot(const pb::Message& message) {
  SimSnapshot snapshot;
  snapshot.metadata = message.snapshot_request().metadata();
  if (!decode_snapshot_data(message.snapshot_request().data(), &snapshot)) {
    throw std::logic_error("simulator: undecodable snapshot at index " +
                           std::to_string(snapshot.metadata.index()));
  }
  // A real runtime writes a snapshot it receives to its store (and syncs it) before
  // the core sees the request.
  disk_.save_snapshot(snapshot);
  received_snapshot_ = std::move(snapshot);
}

void SimNode::load_state(const SimSnapshot& snapshot) {
  kv_.restore(snapshot.data);
  applied_index_ = snapshot.metadata.index();
  applied_terms_.assign(applied_index_, 0);
}

void SimNode::restore(const SimSnapshot& snapshot) {
  const core::Index index = snapshot.metadata.index();
  load_state(snapshot);
  skip_through_ = 0;  // a core that installs a snapshot hands out only what follows it
  // Whether a proposal the snapshot covers committed is unknown here: no answer (the
  // client's attempt times out, its outcome unknown).
  pending_.erase(pending_.begin(), pending_.upper_bound(index));
  env_.on_state(*this, /*restored=*/true);
  answer_confirmed_reads();
}

std::string SimNode::take_snapshot() {
  snapshot_scheduled_ = false;
  const core::Index index = applied_index_;
  if (index == 0 || (disk_.snapshot() && disk_.snapshot()->metadata.index() >= index)) return "";
  // Everything past the store's snapshot was applied from the log in this life, so the
  // core knows its configuration.
  SimSnapshot snapshot;
  snapshot.metadata.set_index(index);
  snapshot.metadata.set_term(applied_term(index));
  *snapshot.metadata.mutable_configuration() = core_->configuration_at(index);
  snapshot.data = kv_.data();
  disk_.save_snapshot(std::move(snapshot));
  std::string line = "snapshot at " + std::to_string(index);

  const core::Index trailing = runtime_.snapshot_trailing_entries;
  const core::Index compact_to = index > trailing ? index - trailing : 0;
  const std::optional<core::Term> term = disk_.written().term(compact_to);
  if (compact_to > disk_.written().snapshot_metadata().index() && term) {
    pb::SnapshotMetadata point;
    point.set_index(compact_to);
    point.set_term(*term);
    *point.mutable_configuration() = core_->configuration_at(compact_to);
    line += disk_.compact(point)
                ? ", log compacted to " + std::to_string(compact_to)
                : ", log not compacted (index " + std::to_string(compact_to) + " not durable yet)";
  }
  return line;
}

void SimNode::report_snapshot(core::NodeId to, bool delivered) {
  core_->report_snapshot(to, delivered);
  process_ready();
}

void SimNode::apply(const std::vector<pb::Entry>& entries) {
  if (entries.empty()) return;
  for (const pb::Entry& entry : entries) {
    // Covered by the snapshot the state machine started from. Any other entry goes to
    // the checkers, repeats included.
    if (entry.index() <= skip_through_) continue;
    env_.on_apply(*this, entry);
    applied_index_ = entry.index();
    if (applied_terms_.size() < entry.index()) applied_terms_.resize(entry.index(), 0);
    applied_terms_[entry.index() - 1] = entry.term();

    KvResult result;
    if (entry.type() == pb::ENTRY_NORMAL) {
      const std::optional<Command> command = decode(entry.data());
      if (!command)
        throw std::logic_error("simulator: undecodable command at index " +
                               std::to_string(entry.index()));
      result = kv_.apply(*command);
    }
    env_.on_state(*this, /*restored=*/false);
    auto it = pending_.find(entry.index());
    if (it == pending_.end()) continue;
    ClientReply reply;
    reply.client = it->second.client;
    reply.attempt = it->second.attempt;
    if (it->second.term == entry.term()) {
      reply.status = ReplyStatus::kOk;
      reply.result = std::move(result);
      reply.index = entry.index();
      reply.term = entry.term();
    } else {
      reply.status = ReplyStatus::kLost;
    }
    pending_.erase(it);
    env_.reply(*this, std::move(reply));
  }
  core_->on_applied(entries.back().index());
  const std::optional<SimSnapshot>& newest = disk_.snapshot();
  const core::Index snapshot_index = newest ? newest->metadata.index() : 0;
  if (runtime_.snapshot_interval > 0 && !snapshot_scheduled_ &&
      applied_index_ >= snapshot_index + runtime_.snapshot_interval) {
    snapshot_scheduled_ = true;
    env_.schedule_snapshot(*this);
  }
}

void SimNode::client_request(ClientRequest&& request) {
  if (request.command.kind == CommandKind::kGet && request.read_path != ReadPath::kLog) {
    start_read(std::move(request));
    return;
  }
  proposal_queue_.push_back(std::move(request));
  if (proposal_queue_.size() > 1) return;  // a flush is already due
  if (runtime_.batch_delay_ms == 0) {
    flush_proposals();
  } else {
    env_.schedule_flush(*this);
  }
}

void SimNode::reject(const ClientRequest& request, const core::ProposeResult& result) {
  ClientReply reply;
  reply.client = request.client;
  reply.attempt = request.attempt;
  reply.status = *result.error == core::ProposeError::kNotLeader ? ReplyStatus::kNotLeader
                                                                 : ReplyStatus::kBusy;
  reply.leader_hint = core_->leader();
  env_.reply(*this, std::move(reply));
}

void SimNode::flush_proposals() {
  while (!proposal_queue_.empty()) {
    const std::size_t count =
        std::min(proposal_queue_.size(), static_cast<std::size_t>(runtime_.max_batch_commands));
    std::vector<std::string> commands;
    commands.reserve(count);
    for (std::size_t i = 0; i < count; ++i) commands.push_back(encode(proposal_queue_[i].command));
    const core::ProposeResult result = core_->propose(commands);
    for (std::size_t i = 0; i < count; ++i) {
      const ClientRequest& request = proposal_queue_[i];
      if (!result.ok()) {
        reject(request, result);
      } else {
        pending_[result.first_index + i] =
            PendingProposal{result.term, request.client, request.attempt};
      }
    }
    proposal_queue_.erase(proposal_queue_.begin(),
                          proposal_queue_.begin() + static_cast<std::ptrdiff_t>(count));
  }
  process_ready();
}

void SimNode::start_read(ClientRequest&& request) {
  // Unique across lives: a read state answering a previous life's request must not
  // be taken for a new one (it may have been confirmed before the new read began).
  std::string context = std::to_string(incarnation_) + ":" + std::to_string(++read_counter_);
  const core::ReadMode mode =
      request.read_path == ReadPath::kLease ? core::ReadMode::kLease : core::ReadMode::kReadIndex;
  reads_awaiting_index_.emplace(context, std::move(request));
  core_->read_index(std::move(context), mode);
  process_ready();
}

void SimNode::handle_read_states(std::vector<core::ReadState>& states) {
  for (core::ReadState& state : states) {
    auto it = reads_awaiting_index_.find(state.context);
    if (it == reads_awaiting_index_.end()) continue;  // a duplicate or late answer
    ClientRequest request = std::move(it->second);
    reads_awaiting_index_.erase(it);
    if (!state.ok) {
      ClientReply reply;
      reply.client = request.client;
      reply.attempt = request.attempt;
      reply.status = ReplyStatus::kNotLeader;
      reply.leader_hint = core_->leader();
      env_.reply(*this, std::move(reply));
      continue;
    }
    reads_awaiting_apply_.emplace_back(state.index, std::move(request));
  }
  answer_confirmed_reads();
}

void SimNode::answer_confirmed_reads() {
  // Answered in any order once applied: each read index alone makes its read
  // linearizable.
  for (auto it = reads_awaiting_apply_.begin(); it != reads_awaiting_apply_.end();) {
    if (it->first > applied_index_) {
      ++it;
      continue;
    }
    env_.on_read_served(*this, it->second);
    ClientReply reply;
    reply.client = it->second.client;
    reply.attempt = it->second.attempt;
    reply.status = ReplyStatus::kOk;
    reply.leader_hint = core_->leader();
    reply.result = kv_.get(it->second.command.key);
    env_.reply(*this, std::move(reply));
    it = reads_awaiting_apply_.erase(it);
  }
}

std::optional<core::TransferError> SimNode::transfer_leadership(core::NodeId to) {
  const std::optional<core::TransferError> error = core_->transfer_leadership(to);
  process_ready();
  return error;
}

core::ProposeResult SimNode::propose_conf_change(const pb::ConfChange& change, std::string* error) {
  const core::ProposeResult result = core_->propose_conf_change(change, error);
  process_ready();
  return result;
}

}  // namespace raft::sim
