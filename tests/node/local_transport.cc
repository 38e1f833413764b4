#include "tests/node/local_transport.h"

namespace raft::testing {

void LocalHub::attach(NodeId id, TransportHandler* handler) {
  std::lock_guard lock(mutex_);
  handlers_[id] = handler;
}

void LocalHub::detach(NodeId id) {
  std::lock_guard lock(mutex_);
  handlers_.erase(id);
}

bool LocalHub::linked(NodeId from, NodeId to) const {
  return !isolated_.count(from) && !isolated_.count(to);
}

void LocalHub::deliver(NodeId from, std::vector<pb::Message>&& messages) {
  std::map<NodeId, std::vector<pb::Message>> by_receiver;
  for (pb::Message& m : messages) by_receiver[m.to()].push_back(std::move(m));
  std::lock_guard lock(mutex_);
  for (auto& [to, batch] : by_receiver) {
    auto it = handlers_.find(to);
    if (it != handlers_.end() && linked(from, to)) it->second->on_messages(std::move(batch));
  }
}

bool LocalHub::send_snapshot(pb::Message&& request, SnapshotReader& data) {
  std::lock_guard lock(mutex_);
  auto it = handlers_.find(request.to());
  if (it == handlers_.end() || !linked(request.from(), request.to())) return false;
  std::unique_ptr<SnapshotWriter> writer = it->second->on_snapshot_begin(request);
  if (!writer) return false;
  char buffer[4096];
  while (std::size_t n = data.read(buffer, sizeof buffer)) writer->write(buffer, n);
  *request.mutable_snapshot_request()->mutable_metadata() = writer->commit();
  it->second->on_snapshot_received(std::move(request));
  return true;
}

void LocalHub::isolate(NodeId id) {
  std::lock_guard lock(mutex_);
  isolated_.insert(id);
}

void LocalHub::heal() {
  std::lock_guard lock(mutex_);
  isolated_.clear();
}

}  // namespace raft::testing
