#include "src/node/node_impl.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <random>
#include <sstream>

#include "src/core/confchange.h"
#include "src/node/default_stores.h"
#include "src/node/force_new_cluster.h"
#include "src/node/snapshot_streams.h"
#include "src/util/thread_name.h"

namespace raft {

namespace {

constexpr std::chrono::milliseconds kExpiryScanInterval{100};

Error error(ErrorCode code, std::string message) { return make_error(code, std::move(message)); }

// Read contexts are fixed-width big-endian counters so that map order is age order.
std::string encode_read_context(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(n & 0xff);
    n >>= 8;
  }
  return out;
}

int to_ticks(std::chrono::milliseconds duration, std::chrono::milliseconds tick) {
  return std::max(1, static_cast<int>(duration.count() / std::max<std::int64_t>(1, tick.count())));
}

NodeRole public_role(core::Role role, bool voter) {
  switch (role) {
    case core::Role::kLeader: return NodeRole::kLeader;
    case core::Role::kCandidate:
    case core::Role::kPreCandidate: return NodeRole::kCandidate;
    case core::Role::kFollower: return voter ? NodeRole::kFollower : NodeRole::kLearner;
  }
  return NodeRole::kFollower;
}

bool contains(const google::protobuf::RepeatedField<std::uint64_t>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::vector<Member> members_of(const pb::Configuration& configuration) {
  std::vector<Member> out;
  for (const pb::Member& m : configuration.members()) {
    Member member;
    member.peer = Peer{m.id(), m.name(), m.peer_address(), m.client_address()};
    member.voter = core::is_voter(configuration, m.id());
    out.push_back(std::move(member));
  }
  return out;
}

// The payload bytes of a write's entries: what max_append_bytes bounds.
std::uint64_t entry_bytes(const LogWrite& write) {
  std::uint64_t bytes = 0;
  for (const pb::Entry& entry : write.entries) bytes += entry.data().size();
  return bytes;
}

// Whether `next` can join `merged` as one write: no snapshot in either, and its
// entries (if any) follow merged's last one, so that neither truncates the other
// (a leader only appends; a step-down's first write as follower may truncate).
bool mergeable(const LogWrite& merged, const LogWrite& next) {
  if (merged.snapshot || next.snapshot) return false;
  return merged.entries.empty() || next.entries.empty() ||
         next.entries.front().index() == merged.entries.back().index() + 1;
}

}  // namespace

NodeImpl::NodeImpl(NodeOptions options, std::shared_ptr<StateMachine> state_machine,
                   NodeEvents events)
    : options_(std::move(options)), state_machine_(std::move(state_machine)), events_(std::move(events)) {}

NodeImpl::~NodeImpl() { stop(); }

// ---------------------------------------------------------------------------
// Start and stop

Status NodeImpl::start() {
  if (options_.id == 0) return error(ErrorCode::kInvalidArgument, "node id must be non-zero");
  if (!state_machine_) return error(ErrorCode::kInvalidArgument, "a state machine is required");
  if (options_.tick_interval.count() <= 0 || options_.heartbeat_interval < options_.tick_interval ||
      options_.election_timeout <= options_.heartbeat_interval) {
    return error(ErrorCode::kInvalidArgument,
                 "timing: need 0 < tick_interval <= heartbeat_interval < election_timeout");
  }
  if (options_.lease_drift_margin.count() < 0 || options_.lease_drift_margin >= options_.election_timeout) {
    return error(ErrorCode::kInvalidArgument, "timing: need 0 <= lease_drift_margin < election_timeout");
  }
  if (!(options_.snapshot_log_ratio >= 0 && options_.snapshot_log_ratio <= 1e6)) {
    return error(ErrorCode::kInvalidArgument, "snapshot_log_ratio must be between 0 and 1e6");
  }

  if (Status opened = open_default_stores(options_, log_store_, snapshot_store_); !opened.ok()) {
    return opened;
  }

  // A brand-new node: record the founding configuration durably before anything else.
  const pb::SnapshotMetadata base = log_store_->snapshot_metadata();
  const bool empty = log_store_->last_index() == 0 && base.index() == 0 &&
                     log_store_->hard_state().term() == 0 && base.configuration().voters_size() == 0;
  if (empty && options_.force_new_cluster) {  // checked before anything is written
    return error(
        ErrorCode::kInvalidArgument,
        "forcing a new cluster needs a former member's data, and the data directory is empty");
  }
  if (empty && !options_.join) {
    if (options_.initial_cluster.empty()) {
      return error(ErrorCode::kInvalidArgument,
                   "empty data directory: give the initial cluster, or join an existing one");
    }
    pb::SnapshotMetadata bootstrap;
    for (const Peer& peer : options_.initial_cluster) {
      if (peer.id == 0) return error(ErrorCode::kInvalidArgument, "initial cluster: member id 0");
      bootstrap.mutable_configuration()->add_voters(peer.id);
      pb::Member* member = bootstrap.mutable_configuration()->add_members();
      member->set_id(peer.id);
      member->set_name(peer.name.empty() ? "n" + std::to_string(peer.id) : peer.name);
      member->set_peer_address(peer.peer_address);
      member->set_client_address(peer.client_address);
    }
    if (!contains(bootstrap.configuration().voters(), options_.id)) {
      return error(ErrorCode::kInvalidArgument, "initial cluster does not contain this node's id");
    }
    std::promise<Status> written;
    LogWrite write;
    write.snapshot = bootstrap;
    log_store_->submit(std::move(write), [&written](const Status& s) { written.set_value(s); });
    if (Status s = written.get_future().get(); !s.ok()) return s;
  }

  std::string forced_line;
  if (options_.force_new_cluster) {
    std::string was;
    bool changed = false;
    try {
      if (Status s = force_new_cluster(*log_store_, options_.id, &was, &changed); !s.ok()) return s;
    } catch (const std::exception& e) {  // a log that cannot be read back
      return error(ErrorCode::kStorage, std::string("cannot force a new cluster: ") + e.what());
    }
    forced_line =
        changed
            ? "forced a new cluster: this node is its only voter, at index " +
                  std::to_string(log_store_->last_index()) + " (the configuration was " + was + ")"
            : "forced a new cluster: already its only voter (" + was + "); nothing changed";
  }

  // The state machine starts from the newest local snapshot, if any.
  try {
    restore_latest_snapshot();
  } catch (const std::exception& e) {
    return error(ErrorCode::kStorage, std::string("cannot restore the latest snapshot: ") + e.what());
  }

  core::Options core_options;
  core_options.id = options_.id;
  core_options.random_seed = options_.random_seed != 0 ? options_.random_seed : std::random_device{}();
  core_options.heartbeat_interval_ticks = to_ticks(options_.heartbeat_interval, options_.tick_interval);
  core_options.election_timeout_ticks = to_ticks(options_.election_timeout, options_.tick_interval);
  core_options.max_append_bytes = options_.max_append_bytes;
  core_options.max_inflight_appends = options_.max_inflight_appends;
  core_options.coalesce_appends = options_.coalesce_appends;
  core_options.narrow_read_rounds = options_.narrow_read_rounds;
  core_options.max_uncommitted_bytes = options_.max_uncommitted_bytes;
  core_options.pre_vote = options_.pre_vote;
  core_options.check_quorum = options_.check_quorum;
  // Rounded up: a margin is only safe if it is at least as long as asked.
  const std::int64_t tick_ms = std::max<std::int64_t>(1, options_.tick_interval.count());
  core_options.lease_drift_margin_ticks = static_cast<int>((options_.lease_drift_margin.count() + tick_ms - 1) / tick_ms);
  try {
    core_ = std::make_unique<core::Raft>(core_options, *log_store_);
  } catch (const std::exception& e) {
    return error(ErrorCode::kStorage, std::string("cannot load the log: ") + e.what());
  }
  soft_state_ = core::SoftState{core_->leader(), core_->role(), core_->term(), core_->removed()};
  if (soft_state_.removed) log_removal(true);
  dispatched_index_ = log_store_->snapshot_metadata().index();
  dispatched_term_ = log_store_->snapshot_metadata().term();
  applied_ = std::max(dispatched_index_, sm_applied_);
  last_snapshot_index_ = std::max(last_snapshot_index_, dispatched_index_);

  if (!transport_) transport_ = options_.transport;
  if (!transport_) {
    // The HTTP transport runs on the loop: a message is stepped on the thread that
    // read it, and what the loop sends is written without waking another thread.
    if (Status s = open_default_transport(options_, transport_, &io_); !s.ok()) return s;
  }
  try {
    transport_->start(this);
  } catch (const std::exception& e) {
    return error(ErrorCode::kInvalidArgument, std::string("cannot start the transport: ") + e.what());
  }
  for (const Peer& peer : options_.join_peers) {
    if (peer.id == options_.id || peer.peer_address.empty()) continue;
    transport_->set_peer(peer.id, peer.peer_address);
    transport_peers_[peer.id] = peer.peer_address;
  }

  // Composed before the loop thread starts: from then on only it touches the core
  // and applied_.
  const std::string started_line = "started: term " + std::to_string(core_->term()) + ", last index " +
                                   std::to_string(core_->last_index()) + ", applied " + std::to_string(applied_);
  apply_ = std::make_unique<TaskThread>("raft-apply");
  snapshot_commits_ = std::make_unique<TaskThread>("raft-snap");
  started_ = true;
  next_tick_at_ = Clock::now() + options_.tick_interval;  // before the loop thread runs
  boost::asio::post(io_, [this] {
    sync_configuration();
    schedule_tick();
    drain();
  });
  loop_thread_ = std::thread([this] {
    util::name_this_thread("raft-loop");
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
  if (!forced_line.empty()) log(forced_line);
  log(started_line);
  return Ok{};
}

void NodeImpl::stop() {
  if (stopped_.exchange(true)) return;
  if (!started_) {
    if (log_store_) log_store_->close();
    return;
  }
  transport_->stop();
  std::promise<void> loop_done;
  boost::asio::post(io_, [this, &loop_done] {
    tick_timer_.cancel();
    if (storage_failure_.empty()) {
      for (WriteAfterSends& w : writes_after_sends_) submit_write(std::move(w.write), {w.write_id});
    }
    writes_after_sends_.clear();
    if (deferred_hard_state_ && storage_failure_.empty()) {
      LogWrite last;  // close() below syncs it
      last.hard_state = std::move(deferred_hard_state_);
      log_store_->submit(std::move(last), [](const Status&) {});
    }
    fail_everything(ErrorCode::kShuttingDown, "node is shutting down");
    loop_done.set_value();
  });
  loop_done.get_future().wait();
  io_.stop();
  loop_thread_.join();
  apply_->stop();
  snapshot_commits_->stop();  // after apply_: no commit is queued behind this one
  log_store_->close();
  log("stopped");
}

// ---------------------------------------------------------------------------
// Entry points (any thread)

void NodeImpl::propose(std::string command, std::function<void(Result<std::string>)> done) {
  if (command.size() > options_.max_command_bytes) {
    done(error(ErrorCode::kTooLarge, "command of " + std::to_string(command.size()) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(options_.max_command_bytes)));
    return;
  }
  bool first = false;
  {
    std::lock_guard lock(queue_mutex_);
    if (stopped_) {
      done(error(ErrorCode::kShuttingDown, "node is shutting down"));
      return;
    }
    if (queued_proposals_.size() >= options_.max_pending_proposals) {
      done(error(ErrorCode::kBusy, "too many queued proposals"));
      return;
    }
    first = queued_proposals_.empty();
    queued_proposals_.push_back(
        QueuedProposal{std::move(command), std::move(done), Clock::now() + options_.request_timeout});
  }
  // One loop task drains everything queued meanwhile: that is the batching.
  if (first) boost::asio::post(io_, [this] { flush_proposals(); });
}

void NodeImpl::read_barrier(ReadConsistency consistency, std::function<void(Result<Index>)> done) {
  bool first = false;
  {
    std::lock_guard lock(queue_mutex_);
    if (stopped_) {
      done(error(ErrorCode::kShuttingDown, "node is shutting down"));
      return;
    }
    first = queued_reads_.empty();
    queued_reads_.push_back(QueuedRead{consistency, std::move(done), Clock::now() + options_.request_timeout});
  }
  if (first) boost::asio::post(io_, [this] { flush_reads(); });
}

void NodeImpl::change_membership(pb::ConfChange change, std::function<void(Status)> done) {
  if (stopped_) return done(error(ErrorCode::kShuttingDown, "node is shutting down"));
  boost::asio::post(io_, [this, change = std::move(change), done = std::move(done)]() mutable {
    // Behind changes already waiting, in the order asked.
    waiting_conf_changes_.push_back(
        WaitingConfChange{std::move(change), std::move(done), Clock::now() + options_.request_timeout});
    propose_waiting_conf_changes();
  });
}

bool NodeImpl::try_propose_conf_change(pb::ConfChange& change, std::function<void(Status)>& done,
                                       Clock::time_point deadline) {
  if (!storage_failure_.empty()) {
    done(error(ErrorCode::kStorage, storage_failure_));
    return true;
  }
  // Checked against the configuration of the moment: a change that waited may meet
  // a different one.
  if (std::string wrong = surprising_change(change); !wrong.empty()) {
    done(error(ErrorCode::kInvalidArgument, wrong));
    return true;
  }
  std::string why;
  const core::ProposeResult result = core_->propose_conf_change(change, &why);
  if (!result.ok()) {
    switch (*result.error) {
      case core::ProposeError::kConfChangeInProgress: return false;
      case core::ProposeError::kNotLeader: done(not_leader_error()); return true;
      case core::ProposeError::kInvalidConfChange: done(error(ErrorCode::kInvalidArgument, why)); return true;
      default: done(error(ErrorCode::kInProgress, core::to_string(*result.error))); return true;
    }
  }
  conf_changes_[result.last_index] = PendingConfChange{result.term, std::move(done), deadline};
  log("proposed membership change at index " + std::to_string(result.last_index));
  drain();
  return true;
}

void NodeImpl::propose_waiting_conf_changes() {
  while (!waiting_conf_changes_.empty()) {
    WaitingConfChange& next = waiting_conf_changes_.front();
    if (!try_propose_conf_change(next.change, next.done, next.deadline)) return;
    waiting_conf_changes_.pop_front();
  }
}

std::string NodeImpl::surprising_change(const pb::ConfChange& change) const {
  // The core accepts both (etcd's semantics: adding a voter as a learner demotes it,
  // removing a stranger changes nothing); through this API they are mistakes.
  const pb::Configuration& configuration = core_->configuration();
  for (const pb::ConfChangeSingle& single : change.changes()) {
    const NodeId id = single.member().id();
    if (single.type() == pb::CONF_ADD_LEARNER && core::is_voter(configuration, id)) {
      return "node " + std::to_string(id) + " is already a voter; remove it first to re-add it as a learner";
    }
    if (single.type() == pb::CONF_REMOVE && !core::is_member(configuration, id)) {
      return "node " + std::to_string(id) + " is not a member";
    }
  }
  return {};
}

void NodeImpl::promote(NodeId id, std::function<void(Status)> done) {
  if (stopped_) return done(error(ErrorCode::kShuttingDown, "node is shutting down"));
  boost::asio::post(io_, [this, id, done = std::move(done)]() mutable {
    const pb::Configuration& configuration = core_->configuration();
    if (!contains(configuration.learners(), id)) {
      return done(error(ErrorCode::kInvalidArgument, "node " + std::to_string(id) + " is not a learner"));
    }
    pb::ConfChange change;
    pb::ConfChangeSingle* single = change.add_changes();
    single->set_type(pb::CONF_ADD_VOTER);
    single->mutable_member()->set_id(id);
    change_membership(std::move(change), std::move(done));
  });
}

void NodeImpl::update_member(const Peer& peer, std::function<void(Status)> done) {
  if (stopped_) return done(error(ErrorCode::kShuttingDown, "node is shutting down"));
  boost::asio::post(io_, [this, peer, done = std::move(done)]() mutable {
    const pb::Configuration& configuration = core_->configuration();
    const bool voter = contains(configuration.voters(), peer.id);
    if (!voter && !contains(configuration.learners(), peer.id)) {
      return done(error(ErrorCode::kInvalidArgument, "node " + std::to_string(peer.id) + " is not a member"));
    }
    pb::ConfChange change;
    pb::ConfChangeSingle* single = change.add_changes();
    single->set_type(voter ? pb::CONF_ADD_VOTER : pb::CONF_ADD_LEARNER);
    pb::Member* member = single->mutable_member();
    member->set_id(peer.id);
    member->set_name(peer.name);
    member->set_peer_address(peer.peer_address);
    member->set_client_address(peer.client_address);
    change_membership(std::move(change), std::move(done));
  });
}

void NodeImpl::transfer_leadership(NodeId to, std::function<void(Result<NodeId>)> done) {
  if (stopped_) return done(error(ErrorCode::kShuttingDown, "node is shutting down"));
  boost::asio::post(io_, [this, to, done = std::move(done)]() mutable {
    if (core_->role() != core::Role::kLeader) return done(not_leader_error());
    NodeId target = to;
    if (target == 0) {
      // The most up-to-date voter is the quickest to take over.
      Index best = 0;
      for (const core::Status::Peer& peer : core_->status().peers) {
        if (!contains(core_->configuration().voters(), peer.id)) continue;
        if (target == 0 || peer.match_index > best) {
          target = peer.id;
          best = peer.match_index;
        }
      }
      if (target == 0) return done(error(ErrorCode::kInvalidArgument, "no other voter to transfer to"));
    }
    if (target == options_.id) return done(target);
    if (const auto failed = core_->transfer_leadership(target)) {
      return done(error(*failed == core::TransferError::kNotLeader ? ErrorCode::kNotLeader
                                                                    : ErrorCode::kInvalidArgument,
                        core::to_string(*failed)));
    }
    log("transferring leadership to " + std::to_string(target));
    transfers_.push_back(PendingTransfer{target, std::move(done),
                                         Clock::now() + 2 * options_.election_timeout + options_.heartbeat_interval});
    drain();
  });
}

void NodeImpl::snapshot(std::function<void(Result<Index>)> done) {
  if (stopped_) return done(error(ErrorCode::kShuttingDown, "node is shutting down"));
  boost::asio::post(io_, [this, done = std::move(done)]() mutable { start_snapshot(std::move(done)); });
}

NodeStatus NodeImpl::status() const {
  NodeStatus s;
  {
    std::lock_guard lock(status_mutex_);
    s = status_;
  }
  // Live, not as of the last publish: the histogram is thread-safe to read.
  if (log_store_) s.disk_sync_latency = log_store_->sync_latency();
  // The loop learns of applied entries lazily (on its next drain); the apply thread's
  // own figure is fresher. Capped so applied never shows ahead of commit.
  s.applied_index = std::max(s.applied_index, std::min(published_applied_.load(), s.commit_index));
  return s;
}

// ---------------------------------------------------------------------------
// TransportHandler (transport threads)

void NodeImpl::on_messages(std::vector<pb::Message>&& messages) {
  // Inline when the transport runs on the loop (the default one does).
  boost::asio::dispatch(io_, [this, messages = std::move(messages)] {
    if (!storage_failure_.empty()) return;
    catch_up_ticks();  // time first: a stalled loop must not answer as if no time passed
    for (const pb::Message& m : messages) core_->step(m);
    schedule_drain();
  });
}

std::unique_ptr<SnapshotWriter> NodeImpl::on_snapshot_begin(const pb::Message& request) {
  if (stopped_ || !request.has_snapshot_request()) return nullptr;
  return snapshot_store_->create(request.snapshot_request().metadata());
}

void NodeImpl::on_snapshot_received(pb::Message&& request) {
  boost::asio::post(io_, [this, request = std::move(request)] {
    if (!storage_failure_.empty()) return;
    log("received snapshot at index " + std::to_string(request.snapshot_request().metadata().index()) +
        " from " + std::to_string(request.from()));
    core_->step(request);
    drain();
  });
}

// ---------------------------------------------------------------------------
// The loop

void NodeImpl::schedule_tick() {
  tick_timer_.expires_at(next_tick_at_);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_tick();
  });
}

void NodeImpl::on_tick() {
  catch_up_ticks();
  if (ticks_since_expiry_scan_ * options_.tick_interval >= kExpiryScanInterval) {
    ticks_since_expiry_scan_ = 0;
    expire_requests();
  }
  schedule_drain();
  schedule_tick();
}

void NodeImpl::catch_up_ticks() {
  const Clock::time_point now = Clock::now();
  if (next_tick_at_ > now) return;
  auto missed = static_cast<std::int64_t>((now - next_tick_at_) / options_.tick_interval) + 1;
  // Past a few election timeouts every timeout has fired anyway: skip the rest of a
  // long stall instead of replaying it tick by tick.
  const std::int64_t cap = 4 * std::int64_t{to_ticks(options_.election_timeout, options_.tick_interval)} + 4;
  if (missed > cap) missed = cap;
  next_tick_at_ = now - (now - next_tick_at_) % options_.tick_interval + options_.tick_interval;
  for (std::int64_t i = 0; i < missed; ++i) {
    if (storage_failure_.empty()) core_->tick();
    ++ticks_since_expiry_scan_;
  }
}

void NodeImpl::schedule_drain() {
  if (drain_scheduled_) return;
  drain_scheduled_ = true;
  boost::asio::post(io_, [this] {
    drain_scheduled_ = false;
    drain();
  });
}

void NodeImpl::drain() {
  if (!storage_failure_.empty()) return;
  try {
    while (storage_failure_.empty() && core_->has_ready()) handle_ready(core_->ready());
  } catch (const std::exception& e) {
    fail_storage(std::string("log read failed: ") + e.what());
    return;
  }
  catch_up_applied();
  sync_configuration();
  publish_status();
}

void NodeImpl::handle_ready(core::Ready&& ready) {
  if (ready.soft_state) on_leader_change(*ready.soft_state);
  // Appends and heartbeats go out before our own copy is durable (§10.2.1 of the
  // dissertation): the leader's disk write runs in parallel with replication.
  const bool sends_first = !ready.messages.empty();
  send(std::move(ready.messages));

  PendingPersist pending;
  pending.mark = ready.persist_mark;
  pending.persisted_messages = std::move(ready.persisted_messages);
  // A hard state that only moves the commit index needs no sync (the core stores at
  // most the persisted index, and a restarted node relearns the rest from the leader),
  // and a write of its own would cost a log-writer wake-up and a loop wake-up on every
  // commit: it rides along with the next write instead, or is written at stop.
  if (ready.hard_state && !ready.must_sync) {
    deferred_hard_state_ = std::move(ready.hard_state);
    ready.hard_state.reset();
  }
  const bool write = ready.snapshot.has_value() || !ready.entries.empty() || ready.hard_state.has_value();
  if (ready.snapshot) {
    // Restore the state machine before any entry after the snapshot is applied: the
    // apply thread runs tasks in order.
    const pb::SnapshotMetadata& snapshot = *ready.snapshot;
    for (auto it = proposals_.begin(); it != proposals_.end() && it->first <= snapshot.index();) {
      it->second.done(error(ErrorCode::kTimeout, "outcome unknown: replaced by a snapshot"));
      it = proposals_.erase(it);
    }
    dispatched_index_ = snapshot.index();
    dispatched_term_ = snapshot.term();
    last_snapshot_index_ = snapshot.index();
    last_snapshot_bytes_ = snapshot.size_bytes();
    dispatched_bytes_at_snapshot_ = dispatched_bytes_;
    // Counted before the restore is posted: whoever sees the restored state may read
    // status() at once (Node.LaggingFollowerCatchesUpThroughSnapshot did, under tsan).
    {
      std::lock_guard lock(status_mutex_);
      ++status_.snapshots_installed;
      status_.snapshot_index = last_snapshot_index_;
    }
    post_to_apply([this] {
      try {
        restore_latest_snapshot();
      } catch (const std::exception& e) {
        sm_failed_ = true;
        const std::string why = std::string("cannot restore snapshot: ") + e.what();
        boost::asio::post(io_, [this, why] { fail_storage(why); });
      }
    });
    if (events_.on_snapshot) events_.on_snapshot(snapshot.index());
  }
  if (write) {
    pending.write_id = next_write_id_++;
    const std::uint64_t write_id = pending.write_id;
    persisting_.push_back(std::move(pending));
    LogWrite log_write;
    log_write.snapshot = std::move(ready.snapshot);
    log_write.entries = std::move(ready.entries);
    log_write.hard_state = std::move(ready.hard_state);
    if (!log_write.hard_state) log_write.hard_state = std::move(deferred_hard_state_);
    deferred_hard_state_.reset();  // written, or superseded by a newer one
    log_write.sync = ready.must_sync;
    if (!persist(std::move(log_write), write_id, sends_first)) return;
  } else {
    pending.durable = true;
    persisting_.push_back(std::move(pending));
  }
  // Held writes go once appends are on their way again (whether or not this Ready
  // wrote), or at once when this node no longer leads: its next writes queue behind.
  if (!writes_after_sends_.empty() && (sends_first || soft_state_.role != core::Role::kLeader)) {
    post_write_after_sends();
  }
  if (!ready.committed_entries.empty()) dispatch_committed(std::move(ready.committed_entries));
  for (const core::ReadState& state : ready.read_states) on_read_state(state);
  release_durable();
}

bool NodeImpl::persist(LogWrite&& write, std::uint64_t write_id, bool sends_first) {
  const bool hold = !sends_first && holds_until_sent(write);
  if (!writes_after_sends_.empty()) {
    // Behind a posted or held write, in Ready order. Held ones stay held only behind
    // another that may be held (handle_ready() posts them when it sends).
    writes_after_sends_.push_back(WriteAfterSends{std::move(write), write_id});
    if (!hold) post_write_after_sends();
    return true;
  }
  if (hold) {
    writes_after_sends_.push_back(WriteAfterSends{std::move(write), write_id});
    return true;
  }
  if (!sends_first) {
    // Nothing was sent ahead of it (a follower's append, whose answer waits for this
    // write; a lone leader's; or that of a leader of five whose followers all have an
    // append in flight, coalescing holding the next): an idle log takes it right here,
    // with no hand-off to the log's thread and back on the path of every commit. For
    // the leader of five, the log's thread did fewer writes (PUT 64 and 256 both -8%
    // over six rounds, docs/performance.md).
    const std::optional<Status> written = write_here(write);
    if (!written) {
      submit_write(std::move(write), {write_id});
      return true;
    }
    if (!written->ok()) {
      fail_storage(written->error().message);
      return false;
    }
    persisting_.back().durable = true;  // released in Ready order by the caller
    return true;
  }
  // A leader's write must not hold its appends back: they reach the socket only when
  // the loop runs the sender, after this handler. So it waits for that and is then
  // written on this thread while the appends travel, if the log is idle: no hand-off
  // to the log's thread and back. Under load too: while the loop syncs, proposals and
  // acknowledgements queue and go into the next Ready whole, as they would while the
  // log's thread synced; the hand-offs cost more than the overlap gained (raftd, PUT
  // 64: CPU per write -15%, writes/s +9%, docs/performance.md). A write of more than
  // an append message's worth of entries, which a follower never writes at once,
  // goes to the log's thread, so the loop is held for about as long as a follower's.
  // And only for a leader with at most two others to feed: with four, its loop has
  // their answers to count and their next appends to send while the disk syncs, and
  // five nodes did more writes with the sync on the log's thread
  // (bench/raftd-scaling, docs/performance.md).
  // Cheapest first: a leader of five never sums its batch.
  if (members_.size() <= kMostMembersForLoopWrites && !write.snapshot &&
      entry_bytes(write) <= options_.max_append_bytes) {
    writes_after_sends_.push_back(WriteAfterSends{std::move(write), write_id});
    post_write_after_sends();
    return true;
  }
  submit_write(std::move(write), {write_id});
  return true;
}

bool NodeImpl::holds_until_sent(const LogWrite& write) const {
  if (soft_state_.role != core::Role::kLeader || write.snapshot || write.entries.empty() ||
      members_.size() > kMostMembersForLoopWrites || !persisting_.back().persisted_messages.empty()) {
    return false;
  }
  const bool other_voter = std::any_of(members_.begin(), members_.end(), [this](const Member& m) {
    return m.voter && m.peer.id != options_.id;
  });
  if (!other_voter) return false;  // it commits alone: nothing to wait for
  return entry_bytes(write) <= options_.max_append_bytes;
}

void NodeImpl::post_write_after_sends() {
  if (write_after_sends_posted_) return;
  write_after_sends_posted_ = true;
  boost::asio::post(io_, [this] { write_after_sends(); });
}

std::optional<Status> NodeImpl::write_here(LogWrite& write) {
  std::optional<Status> result;
  std::function<void(const Status&)> done = [&result](const Status& status) { result = status; };
  if (!log_store_->try_write_here(write, done)) return std::nullopt;
  if (!result) result = Status(error(ErrorCode::kStorage, "the log store took a write and did not finish it"));
  return result;
}

void NodeImpl::submit_write(LogWrite&& write, std::vector<std::uint64_t> write_ids) {
  log_store_->submit(std::move(write), [this, ids = std::move(write_ids)](const Status& status) {
    boost::asio::post(io_, [this, ids, status] {
      for (std::uint64_t id : ids) on_write_done(id, status);
    });
  });
}

void NodeImpl::write_after_sends() {
  write_after_sends_posted_ = false;
  std::vector<WriteAfterSends> writes;
  writes.swap(writes_after_sends_);
  if (!storage_failure_.empty()) return;
  struct Merged {
    LogWrite write;
    std::vector<std::uint64_t> write_ids;
  };
  std::vector<Merged> runs;
  for (WriteAfterSends& w : writes) {
    if (runs.empty() || !mergeable(runs.back().write, w.write)) {
      runs.push_back(Merged{std::move(w.write), {w.write_id}});
      continue;
    }
    LogWrite& merged = runs.back().write;
    for (pb::Entry& entry : w.write.entries) merged.entries.push_back(std::move(entry));
    if (w.write.hard_state) merged.hard_state = std::move(w.write.hard_state);
    merged.sync = merged.sync || w.write.sync;
    runs.back().write_ids.push_back(w.write_id);
  }
  if (runs.size() == 1 && entry_bytes(runs.front().write) <= options_.max_append_bytes) {
    if (const std::optional<Status> written = write_here(runs.front().write)) {
      for (std::uint64_t id : runs.front().write_ids) on_write_done(id, *written);
      return;
    }
  }
  for (Merged& run : runs) submit_write(std::move(run.write), std::move(run.write_ids));
}

void NodeImpl::on_write_done(std::uint64_t write_id, const Status& status) {
  if (!status.ok()) {
    fail_storage(status.error().message);
    return;
  }
  for (PendingPersist& p : persisting_) {
    if (p.write_id == write_id) {
      p.durable = true;
      break;
    }
  }
  release_durable();
  schedule_drain();
}

void NodeImpl::release_durable() {
  // Writes complete in order, but a Ready without a write may sit behind one that is
  // still syncing: release strictly in Ready order.
  while (!persisting_.empty() && persisting_.front().durable) {
    PendingPersist p = std::move(persisting_.front());
    persisting_.pop_front();
    core_->on_persisted(p.mark);
    send(std::move(p.persisted_messages));
  }
}

void NodeImpl::send(std::vector<pb::Message>&& messages) {
  if (messages.empty()) return;
  std::vector<pb::Message> plain;
  plain.reserve(messages.size());
  for (pb::Message& m : messages) {
    if (m.has_snapshot_request()) {
      send_snapshot(std::move(m));
    } else {
      plain.push_back(std::move(m));
    }
  }
  if (!plain.empty()) transport_->send(std::move(plain));
}

void NodeImpl::send_snapshot(pb::Message&& request) {
  const NodeId to = request.to();
  std::unique_ptr<SnapshotReader> reader = snapshot_store_->open_latest();
  if (!reader) {
    core_->report_snapshot(to, false);
    return;
  }
  // The store may hold a newer snapshot than the log's compaction point: send that.
  *request.mutable_snapshot_request()->mutable_metadata() = reader->metadata();
  log("sending snapshot at index " + std::to_string(reader->metadata().index()) + " to " + std::to_string(to));
  transport_->send_snapshot(std::move(request), std::move(reader), [this, to](bool delivered) {
    boost::asio::post(io_, [this, to, delivered] {
      if (!storage_failure_.empty()) return;
      core_->report_snapshot(to, delivered);
      drain();
    });
  });
}

void NodeImpl::dispatch_committed(std::vector<pb::Entry>&& entries) {
  std::vector<std::function<void(Result<std::string>)>> callbacks(entries.size());
  std::uint64_t committed_commands = 0;
  {
    // Answers go out below and from the apply thread before this drain ends and
    // publishes; whoever gets one may read status() at once and must see the entry
    // committed.
    std::lock_guard lock(status_mutex_);
    status_.commit_index = std::max(status_.commit_index, entries.back().index());
    status_.last_index = std::max(status_.last_index, entries.back().index());
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const pb::Entry& entry = entries[i];
    if (auto it = proposals_.find(entry.index()); it != proposals_.end()) {
      if (it->second.term == entry.term()) {
        callbacks[i] = std::move(it->second.done);
      } else {
        it->second.done(error(ErrorCode::kDropped, "overwritten by a new leader; not committed"));
      }
      proposals_.erase(it);
    }
    if (auto it = conf_changes_.find(entry.index()); it != conf_changes_.end()) {
      if (it->second.term == entry.term()) {
        it->second.done(Ok{});
      } else {
        it->second.done(error(ErrorCode::kDropped, "overwritten by a new leader; not committed"));
      }
      conf_changes_.erase(it);
    }
    if (entry.type() == pb::ENTRY_NORMAL) ++committed_commands;
    dispatched_bytes_ += entry.data().size();
    if (entry.type() == pb::ENTRY_CONF_CHANGE) {
      log("membership change committed at index " + std::to_string(entry.index()) + ": " +
          core::describe(core_->configuration_at(entry.index())));
    }
  }
  dispatched_index_ = entries.back().index();
  // A committed change, or a new leader's first entry, may be what a waiting
  // change waits for. Posted: this runs inside a drain.
  if (!waiting_conf_changes_.empty()) boost::asio::post(io_, [this] { propose_waiting_conf_changes(); });
  dispatched_term_ = entries.back().term();
  {
    std::lock_guard lock(status_mutex_);
    status_.proposals_committed += committed_commands;
  }
  if (options_.apply_on_loop && apply_tasks_queued_.load(std::memory_order_acquire) == 0) {
    apply_batch(entries, callbacks);
  } else {
    post_to_apply([this, entries = std::move(entries), callbacks = std::move(callbacks)]() mutable {
      apply_batch(entries, callbacks);
    });
  }
  maybe_auto_snapshot();
}

void NodeImpl::post_to_apply(std::function<void()> task) {
  apply_tasks_queued_.fetch_add(1, std::memory_order_relaxed);
  apply_->post([this, task = std::move(task)] {
    task();
    apply_tasks_queued_.fetch_sub(1, std::memory_order_release);
  });
}

void NodeImpl::apply_batch(const std::vector<pb::Entry>& entries,
                           std::vector<std::function<void(Result<std::string>)>>& callbacks) {
  answer_together([&] { apply_and_answer(entries, callbacks); });
  const Index last = entries.back().index();
  published_applied_.store(last);
  if (last >= wake_loop_at_applied_.load()) boost::asio::post(io_, [this] { catch_up_applied(); });
}

void NodeImpl::apply_and_answer(const std::vector<pb::Entry>& entries,
                                std::vector<std::function<void(Result<std::string>)>>& callbacks) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const pb::Entry& entry = entries[i];
    auto& done = callbacks[i];
    if (sm_failed_) {
      if (done) done(error(ErrorCode::kInternal, "the state machine failed; node stopped applying"));
      continue;
    }
    if (entry.index() <= sm_applied_) {
      // Already covered by the snapshot the state machine was restored from.
      if (done) done(error(ErrorCode::kTimeout, "outcome unknown: covered by a snapshot"));
      continue;
    }
    std::string result;
    if (entry.type() == pb::ENTRY_NORMAL) {
      try {
        result = state_machine_->apply(entry.index(), entry.data());
      } catch (const std::exception& e) {
        // Replicas must never diverge: a state machine that cannot apply a committed
        // command stops this node from applying anything further.
        sm_failed_ = true;
        const std::string why = "state machine failed at index " + std::to_string(entry.index()) + ": " + e.what();
        if (done) done(error(ErrorCode::kInternal, why));
        boost::asio::post(io_, [this, why] { fail_storage(why); });
        continue;
      }
    }
    // Published before the answer: its caller may read status() at once.
    sm_applied_ = entry.index();
    published_applied_.store(sm_applied_);
    if (done) done(std::move(result));
  }
}

void NodeImpl::restore_latest_snapshot() {
  std::unique_ptr<SnapshotReader> reader = snapshot_store_->open_latest();
  if (!reader) return;
  SnapshotReadBuffer buffer(*reader);
  std::istream in(&buffer);
  state_machine_->restore(in);
  sm_applied_ = reader->metadata().index();
  const Index index = sm_applied_;
  if (index > published_applied_.load()) published_applied_.store(index);
  if (!started_) {
    // Start-up: the loop is not running yet.
    last_snapshot_index_ = index;
    last_snapshot_bytes_ = reader->metadata().size_bytes();
  } else {
    boost::asio::post(io_, [this] { catch_up_applied(); });
  }
}

void NodeImpl::catch_up_applied() {
  for (;;) {
    applied_ = std::max(applied_, published_applied_.load());
    while (!reads_awaiting_apply_.empty() && reads_awaiting_apply_.begin()->first <= applied_) {
      answer_together([&] {
        for (auto& waiter : reads_awaiting_apply_.begin()->second.waiters) waiter(applied_);
      });
      reads_awaiting_apply_.erase(reads_awaiting_apply_.begin());
    }
    const Index next = reads_awaiting_apply_.empty() ? kNothingAwaitsApply : reads_awaiting_apply_.begin()->first;
    wake_loop_at_applied_.store(next);
    // A batch that completed before the store above did not see it: look again.
    if (published_applied_.load() < next) break;
  }
  // The state machine may start from a snapshot newer than the log's compaction point;
  // the core only knows of what it handed out.
  core_->on_applied(std::min(applied_, dispatched_index_));
}

void NodeImpl::on_read_state(const core::ReadState& state) {
  auto it = read_batches_.find(state.context);
  if (it == read_batches_.end()) return;  // expired
  ReadBatch batch = std::move(it->second);
  read_batches_.erase(it);
  if (!state.ok) {
    for (auto& waiter : batch.waiters) waiter(error(ErrorCode::kNoLeader, "could not confirm a leader for the read"));
    return;
  }
  reads_awaiting_apply_.emplace(state.index, std::move(batch));
  catch_up_applied();  // answers it if applied, else arms the apply thread's wake-up
}

void NodeImpl::flush_proposals() {
  std::vector<QueuedProposal> batch;
  {
    std::lock_guard lock(queue_mutex_);
    batch.swap(queued_proposals_);
  }
  if (batch.empty()) return;
  auto fail_all = [&](const Error& e) {
    for (QueuedProposal& p : batch) p.done(e);
  };
  // Not leading first: a follower whose disk failed still certainly did nothing, and
  // its caller can go to the leader.
  if (core_->role() != core::Role::kLeader) return fail_all(not_leader_error());
  if (!storage_failure_.empty()) return fail_all(error(ErrorCode::kStorage, storage_failure_));

  std::vector<std::string> commands;
  commands.reserve(batch.size());
  for (QueuedProposal& p : batch) commands.push_back(std::move(p.command));
  const core::ProposeResult result = core_->propose(commands);
  if (!result.ok()) {
    switch (*result.error) {
      case core::ProposeError::kNotLeader: return fail_all(not_leader_error());
      case core::ProposeError::kTooManyUncommitted:
        return fail_all(error(ErrorCode::kBusy, "too many uncommitted bytes; retry later"));
      default: return fail_all(error(ErrorCode::kInProgress, core::to_string(*result.error)));
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    proposals_.emplace(result.first_index + i,
                       PendingProposal{result.term, std::move(batch[i].done), batch[i].deadline});
  }
  schedule_drain();
}

void NodeImpl::flush_reads() {
  std::vector<QueuedRead> batch;
  {
    std::lock_guard lock(queue_mutex_);
    batch.swap(queued_reads_);
  }
  if (batch.empty()) return;
  if (!storage_failure_.empty()) {
    for (QueuedRead& r : batch) r.done(error(ErrorCode::kStorage, storage_failure_));
    return;
  }
  catch_up_ticks();  // a lease is only as good as the ticks counted against it
  // One ReadIndex round per consistency level serves every read queued meanwhile.
  for (ReadConsistency level : {ReadConsistency::kLinearizable, ReadConsistency::kLease}) {
    ReadBatch read_batch;
    for (QueuedRead& r : batch) {
      if (r.consistency != level) continue;
      // Batches run to hundreds of reads: grow once, not by doubling (profiled: the
      // reallocations were 1% of the leader's samples under GET load).
      if (read_batch.waiters.empty()) read_batch.waiters.reserve(batch.size());
      read_batch.waiters.push_back(std::move(r.done));
      read_batch.deadline = r.deadline;
    }
    if (read_batch.waiters.empty()) continue;
    const std::string context = encode_read_context(next_read_context_++);
    read_batches_.emplace(context, std::move(read_batch));
    core_->read_index(context, level == ReadConsistency::kLease ? core::ReadMode::kLease
                                                                 : core::ReadMode::kReadIndex);
  }
  schedule_drain();
}

void NodeImpl::expire_requests() {
  const Clock::time_point now = Clock::now();
  const Error timeout = error(ErrorCode::kTimeout, "timed out; the outcome is unknown");
  // Indexes and read contexts grow with time, so expired entries are at the front.
  while (!proposals_.empty() && proposals_.begin()->second.deadline <= now) {
    proposals_.begin()->second.done(timeout);
    proposals_.erase(proposals_.begin());
  }
  while (!conf_changes_.empty() && conf_changes_.begin()->second.deadline <= now) {
    conf_changes_.begin()->second.done(timeout);
    conf_changes_.erase(conf_changes_.begin());
  }
  // Never proposed, so certainly not performed.
  while (!waiting_conf_changes_.empty() && waiting_conf_changes_.front().deadline <= now) {
    waiting_conf_changes_.front().done(
        error(ErrorCode::kInProgress, core::to_string(core::ProposeError::kConfChangeInProgress)));
    waiting_conf_changes_.pop_front();
  }
  propose_waiting_conf_changes();
  const Error read_timeout = error(ErrorCode::kTimeout, "read timed out");
  while (!read_batches_.empty() && read_batches_.begin()->second.deadline <= now) {
    for (auto& waiter : read_batches_.begin()->second.waiters) waiter(read_timeout);
    read_batches_.erase(read_batches_.begin());
  }
  for (auto it = reads_awaiting_apply_.begin(); it != reads_awaiting_apply_.end();) {
    if (it->second.deadline <= now) {
      for (auto& waiter : it->second.waiters) waiter(read_timeout);
      it = reads_awaiting_apply_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(transfers_, [&](PendingTransfer& t) {
    if (t.deadline > now) return false;
    t.done(error(ErrorCode::kTimeout, "leadership transfer did not complete"));
    return true;
  });
}

void NodeImpl::log_removal(bool removed) {
  log(removed ? "membership: this node was removed from the cluster (the configuration does not "
                "name it); it will not campaign, and is a member again only if added back"
              : "membership: this node is a member again (the configuration names it)");
}

void NodeImpl::on_leader_change(const core::SoftState& soft) {
  const core::SoftState previous = soft_state_;
  soft_state_ = soft;
  if (soft.removed != previous.removed) {
    log_removal(soft.removed);  // first: whoever sees the status may read the log at once
    publish_status();
  }
  if (soft.role != previous.role || soft.term != previous.term) {
    log(std::string("now ") + core::to_string(soft.role) + " in term " + std::to_string(soft.term));
  }
  if (soft.leader != previous.leader) {
    // Whoever hears of the change (an event handler, a resolved transfer) may read
    // status() at once, so it must already name the new leader and our new role.
    publish_status();
    if (soft.leader != 0) log("leader is " + std::to_string(soft.leader) + " in term " + std::to_string(soft.term));
    if (events_.on_leader_change) events_.on_leader_change(soft.leader, soft.term);
    std::erase_if(transfers_, [&](PendingTransfer& t) {
      if (soft.leader == 0) return false;
      if (soft.leader == t.target) {
        t.done(t.target);
      } else if (soft.leader != options_.id) {
        t.done(error(ErrorCode::kInternal, "leadership went to " + std::to_string(soft.leader)));
      } else {
        return false;
      }
      return true;
    });
  }
}

void NodeImpl::sync_configuration() {
  // Only when the configuration may have changed: drain runs thousands of times a
  // second under load, and the profile showed serializing the configuration and
  // rebuilding the member list on every call.
  if (core_->configuration_version() == synced_configuration_version_) return;
  synced_configuration_version_ = core_->configuration_version();
  const pb::Configuration& configuration = core_->configuration();
  members_ = members_of(configuration);
  // A joining node keeps its seed addresses until it learns the real membership.
  if (configuration.members_size() == 0) return;
  std::string fingerprint = configuration.SerializeAsString();
  if (fingerprint == configuration_fingerprint_) return;
  configuration_fingerprint_ = std::move(fingerprint);

  // Addresses are added or updated, never forgotten: a removed leader keeps leading
  // until its removal commits, so the remaining members must still be able to answer
  // it. The core only ever addresses members and whoever wrote to it, so a stale
  // entry costs nothing.
  for (const pb::Member& m : configuration.members()) {
    if (m.id() == options_.id || m.peer_address().empty()) continue;
    auto it = transport_peers_.find(m.id());
    if (it == transport_peers_.end() || it->second != m.peer_address()) {
      transport_->set_peer(m.id(), m.peer_address());
      transport_peers_[m.id()] = m.peer_address();
    }
  }
  // Listeners first, so a log line can already name a member that just joined.
  if (events_.on_membership_change) events_.on_membership_change(members_);
  log("configuration: " + core::describe(configuration));
}

void NodeImpl::maybe_auto_snapshot() {
  if (options_.snapshot_threshold_entries == 0 || snapshot_in_progress_) return;
  if (dispatched_index_ < last_snapshot_index_ + options_.snapshot_threshold_entries) return;
  const double logged = static_cast<double>(dispatched_bytes_ - dispatched_bytes_at_snapshot_);
  if (logged < options_.snapshot_log_ratio * static_cast<double>(last_snapshot_bytes_)) return;
  start_snapshot(nullptr);
}

void NodeImpl::start_snapshot(std::function<void(Result<Index>)> done) {
  if (snapshot_in_progress_) {
    if (done) done(error(ErrorCode::kInProgress, "a snapshot is already being taken"));
    return;
  }
  if (dispatched_index_ <= last_snapshot_index_) {
    if (done) done(last_snapshot_index_);
    return;
  }
  snapshot_in_progress_ = true;
  dispatched_bytes_at_snapshot_in_progress_ = dispatched_bytes_;
  pb::SnapshotMetadata metadata;
  metadata.set_index(dispatched_index_);
  metadata.set_term(dispatched_term_);
  *metadata.mutable_configuration() = core_->configuration_at(dispatched_index_);
  // Runs after every batch dispatched so far: the state machine is exactly at
  // metadata.index() when capture() or save() is called. Everything after that runs
  // on the snapshot thread: a captured state's writing, and any snapshot's fsyncs and
  // rename (under load those took tens of milliseconds, and every answer waited for
  // them while they ran on the apply thread).
  post_to_apply([this, metadata, done = std::move(done)]() mutable {
    if (sm_applied_ != metadata.index()) {
      return snapshot_finished(error(ErrorCode::kInProgress, "state machine is not at the snapshot index yet"),
                               std::move(done));
    }
    std::shared_ptr<CapturedState> captured;
    std::shared_ptr<SnapshotWriter> writer;
    try {
      captured = state_machine_->capture();
      if (!captured)
        writer = write_snapshot(metadata, [this](std::ostream& out) { state_machine_->save(out); });
    } catch (const std::exception& e) {
      return snapshot_finished(error(ErrorCode::kStorage, std::string("snapshot failed: ") + e.what()),
                               std::move(done));
    }
    snapshot_commits_->post([this, metadata, captured = std::move(captured),
                             writer = std::move(writer), done = std::move(done)]() mutable {
      Result<pb::SnapshotMetadata> result = error(ErrorCode::kInternal, "snapshot not taken");
      try {
        if (captured)
          writer =
              write_snapshot(metadata, [&captured](std::ostream& out) { captured->save(out); });
        captured.reset();  // the copy's memory goes back before the sync, not after
        result = writer->commit();
      } catch (const std::exception& e) {
        result = error(ErrorCode::kStorage, std::string("snapshot failed: ") + e.what());
      }
      writer.reset();  // an uncommitted writer removes its file here, not on the loop
      snapshot_finished(std::move(result), std::move(done));
    });
  });
}

std::shared_ptr<SnapshotWriter> NodeImpl::write_snapshot(
    const pb::SnapshotMetadata& metadata, const std::function<void(std::ostream&)>& save) {
  std::shared_ptr<SnapshotWriter> writer = snapshot_store_->create(metadata);
  SnapshotWriteBuffer buffer(*writer);
  std::ostream out(&buffer);
  save(out);
  buffer.flush();
  return writer;
}

void NodeImpl::snapshot_finished(Result<pb::SnapshotMetadata> result, std::function<void(Result<Index>)> done) {
  boost::asio::post(io_, [this, result = std::move(result), done = std::move(done)]() mutable {
    snapshot_in_progress_ = false;
    if (!result.ok()) {
      log(result.error().message);
      if (done) done(result.error());
      return;
    }
    if (result.value().index() > last_snapshot_index_) {
      last_snapshot_bytes_ = result.value().size_bytes();
      dispatched_bytes_at_snapshot_ = dispatched_bytes_at_snapshot_in_progress_;
    }
    on_snapshot_taken(result.value(), std::move(done));
  });
}

void NodeImpl::on_snapshot_taken(const pb::SnapshotMetadata& metadata,
                                 std::function<void(Result<Index>)> done) {
  last_snapshot_index_ = std::max(last_snapshot_index_, metadata.index());
  // Keep a tail of entries so a follower slightly behind catches up from the log
  // instead of needing the whole snapshot.
  const Index trailing = options_.snapshot_trailing_entries;
  const Index compact_to = metadata.index() > trailing ? metadata.index() - trailing : 0;
  if (compact_to > log_store_->snapshot_metadata().index()) {
    if (const std::optional<Term> term = log_store_->term(compact_to)) {
      pb::SnapshotMetadata point;
      point.set_index(compact_to);
      point.set_term(*term);
      *point.mutable_configuration() = core_->configuration_at(compact_to);
      log_store_->compact(point);
    }
  }
  // Published with the index by publish_status() below, never before it: a reader
  // that saw the count and then the old index failed
  // Node.AutomaticSnapshotsWaitForALogSeveralTimesTheSnapshotsSize.
  ++snapshots_taken_;
  log("snapshot taken at index " + std::to_string(metadata.index()) + " (" +
      std::to_string(metadata.size_bytes()) + " bytes); log compacted to " + std::to_string(compact_to));
  // Published first: whoever is told may read status() at once.
  publish_status();
  if (events_.on_snapshot) events_.on_snapshot(metadata.index());
  if (done) done(metadata.index());
  maybe_auto_snapshot();  // applies that arrived meanwhile may already call for another
}

void NodeImpl::fail_storage(const std::string& why) {
  if (!storage_failure_.empty()) return;
  storage_failure_ = why;
  log("FATAL: " + why + "; the node stopped accepting writes");
  fail_everything(ErrorCode::kStorage, why);
  publish_status();
}

void NodeImpl::fail_everything(ErrorCode code, const std::string& why) {
  const Error failure = error(code, why);
  for (auto& [index, p] : proposals_) p.done(failure);
  proposals_.clear();
  for (auto& [index, c] : conf_changes_) c.done(failure);
  conf_changes_.clear();
  for (WaitingConfChange& c : waiting_conf_changes_) c.done(failure);
  waiting_conf_changes_.clear();
  for (auto& [context, batch] : read_batches_) {
    for (auto& waiter : batch.waiters) waiter(failure);
  }
  read_batches_.clear();
  for (auto& [index, batch] : reads_awaiting_apply_) {
    for (auto& waiter : batch.waiters) waiter(failure);
  }
  reads_awaiting_apply_.clear();
  for (PendingTransfer& t : transfers_) t.done(failure);
  transfers_.clear();
  std::vector<QueuedProposal> proposals;
  std::vector<QueuedRead> reads;
  {
    std::lock_guard lock(queue_mutex_);
    proposals.swap(queued_proposals_);
    reads.swap(queued_reads_);
  }
  for (QueuedProposal& p : proposals) p.done(failure);
  for (QueuedRead& r : reads) r.done(failure);
}

void NodeImpl::publish_status() {
  const core::Status core_status = core_->status();
  NodeStatus s;
  const pb::Configuration& configuration = core_->configuration();
  const bool voter = core::is_voter(configuration, options_.id);
  s.id = options_.id;
  s.role = core_status.removed ? NodeRole::kFollower : public_role(core_status.role, voter);
  s.removed = core_status.removed;
  s.term = core_status.term;
  s.leader = core_status.leader;
  s.commit_index = core_status.commit_index;
  s.applied_index = applied_;
  s.last_index = core_status.last_index;
  s.snapshot_index = last_snapshot_index_;
  s.members = members_;
  for (const core::Status::Peer& peer : core_status.peers) {
    s.progress.push_back(ReplicationProgress{peer.id, peer.match_index, peer.next_index, peer.state,
                                             peer.recently_active});
  }
  s.storage_failure = storage_failure_;
  s.snapshots_taken = snapshots_taken_;
  std::lock_guard lock(status_mutex_);
  s.proposals_committed = status_.proposals_committed;
  s.snapshots_installed = status_.snapshots_installed;
  status_ = std::move(s);
}

void NodeImpl::log(const std::string& line) {
  if (events_.on_log) events_.on_log(line);
}

Error NodeImpl::not_leader_error() const {
  const NodeId leader = core_->leader();
  return make_error(ErrorCode::kNotLeader,
                    leader != 0 ? "not the leader; the leader is " + std::to_string(leader)
                                : "not the leader; no leader is known",
                    leader);
}

}  // namespace raft
