#include "raft/node.h"

#include "src/node/node_impl.h"

namespace raft {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotLeader: return "not leader";
    case ErrorCode::kNoLeader: return "no leader";
    case ErrorCode::kDropped: return "dropped";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kShuttingDown: return "shutting down";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kTooLarge: return "too large";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kInProgress: return "in progress";
    case ErrorCode::kStorage: return "storage failure";
    case ErrorCode::kInternal: return "internal error";
  }
  return "?";
}

const char* to_string(NodeRole role) {
  switch (role) {
    case NodeRole::kFollower: return "follower";
    case NodeRole::kCandidate: return "candidate";
    case NodeRole::kLeader: return "leader";
    case NodeRole::kLearner: return "learner";
  }
  return "?";
}

namespace {

// Adapts a completion callback to a future.
template <typename T>
std::pair<std::future<T>, std::function<void(T)>> make_promise() {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  return {std::move(future), [promise](T value) { promise->set_value(std::move(value)); }};
}

pb::ConfChangeSingle single_change(pb::ConfChangeType type, const Peer& peer) {
  pb::ConfChangeSingle single;
  single.set_type(type);
  pb::Member* member = single.mutable_member();
  member->set_id(peer.id);
  member->set_name(peer.name.empty() ? "n" + std::to_string(peer.id) : peer.name);
  member->set_peer_address(peer.peer_address);
  member->set_client_address(peer.client_address);
  return single;
}

}  // namespace

Result<std::unique_ptr<Node>> Node::open(NodeOptions options, std::shared_ptr<StateMachine> state_machine,
                                         NodeEvents events) {
  auto impl = std::make_unique<NodeImpl>(std::move(options), std::move(state_machine), std::move(events));
  if (Status started = impl->start(); !started.ok()) return started.error();
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<NodeImpl> impl) : impl_(std::move(impl)) {}
Node::~Node() { stop(); }

void Node::propose(std::string command, std::function<void(Result<std::string>)> done) {
  impl_->propose(std::move(command), std::move(done));
}

std::future<Result<std::string>> Node::propose(std::string command) {
  auto [future, done] = make_promise<Result<std::string>>();
  impl_->propose(std::move(command), std::move(done));
  return std::move(future);
}

void Node::read_barrier(std::function<void(Result<Index>)> done) {
  impl_->read_barrier(impl_->default_read_consistency(), std::move(done));
}

void Node::read_barrier(ReadConsistency consistency, std::function<void(Result<Index>)> done) {
  impl_->read_barrier(consistency, std::move(done));
}

std::future<Result<Index>> Node::read_barrier() {
  auto [future, done] = make_promise<Result<Index>>();
  impl_->read_barrier(impl_->default_read_consistency(), std::move(done));
  return std::move(future);
}

void Node::add_learner(const Peer& peer, std::function<void(Status)> done) {
  pb::ConfChange change;
  *change.add_changes() = single_change(pb::CONF_ADD_LEARNER, peer);
  impl_->change_membership(std::move(change), std::move(done));
}

std::future<Status> Node::add_learner(const Peer& peer) {
  auto [future, done] = make_promise<Status>();
  add_learner(peer, std::move(done));
  return std::move(future);
}

void Node::promote(NodeId id, std::function<void(Status)> done) { impl_->promote(id, std::move(done)); }

std::future<Status> Node::promote(NodeId id) {
  auto [future, done] = make_promise<Status>();
  promote(id, std::move(done));
  return std::move(future);
}

void Node::remove(NodeId id, std::function<void(Status)> done) {
  pb::ConfChange change;
  pb::ConfChangeSingle* single = change.add_changes();
  single->set_type(pb::CONF_REMOVE);
  single->mutable_member()->set_id(id);
  impl_->change_membership(std::move(change), std::move(done));
}

std::future<Status> Node::remove(NodeId id) {
  auto [future, done] = make_promise<Status>();
  remove(id, std::move(done));
  return std::move(future);
}

void Node::update_member(const Peer& peer, std::function<void(Status)> done) {
  impl_->update_member(peer, std::move(done));
}

std::future<Status> Node::update_member(const Peer& peer) {
  auto [future, done] = make_promise<Status>();
  update_member(peer, std::move(done));
  return std::move(future);
}

std::future<Status> Node::change_membership(const std::vector<Peer>& add_voters,
                                            const std::vector<NodeId>& remove) {
  auto [future, done] = make_promise<Status>();
  pb::ConfChange change;
  for (const Peer& peer : add_voters) *change.add_changes() = single_change(pb::CONF_ADD_VOTER, peer);
  for (NodeId id : remove) {
    pb::ConfChangeSingle* single = change.add_changes();
    single->set_type(pb::CONF_REMOVE);
    single->mutable_member()->set_id(id);
  }
  change.set_transition(pb::TRANSITION_JOINT_IMPLICIT);
  impl_->change_membership(std::move(change), std::move(done));
  return std::move(future);
}

void Node::transfer_leadership(NodeId to, std::function<void(Result<NodeId>)> done) {
  impl_->transfer_leadership(to, std::move(done));
}

void Node::snapshot(std::function<void(Result<Index>)> done) { impl_->snapshot(std::move(done)); }

std::future<Result<NodeId>> Node::transfer_leadership(NodeId to) {
  auto [future, done] = make_promise<Result<NodeId>>();
  impl_->transfer_leadership(to, std::move(done));
  return std::move(future);
}

std::future<Result<Index>> Node::snapshot() {
  auto [future, done] = make_promise<Result<Index>>();
  impl_->snapshot(std::move(done));
  return std::move(future);
}

NodeStatus Node::status() const { return impl_->status(); }
TransportStats Node::transport_stats() const { return impl_->transport_stats(); }
NodeId Node::id() const { return impl_->id(); }
void Node::stop() { impl_->stop(); }

}  // namespace raft
