// A minimal in-memory transport for runtime tests: messages are handed straight to
// the receiving node's handler (which only queues them on its loop), links can be
// cut, and snapshots are copied through the stores in one go.
#pragma once

#include <map>
#include <mutex>
#include <set>

#include "raft/transport.h"

namespace raft::testing {

class LocalHub {
 public:
  void attach(NodeId id, TransportHandler* handler);
  void detach(NodeId id);
  void deliver(NodeId from, std::vector<pb::Message>&& messages);
  bool send_snapshot(pb::Message&& request, SnapshotReader& data);
  void isolate(NodeId id);
  void heal();

 private:
  bool linked(NodeId from, NodeId to) const;
  mutable std::mutex mutex_;
  std::map<NodeId, TransportHandler*> handlers_;
  std::set<NodeId> isolated_;
};

class LocalTransport final : public Transport {
 public:
  LocalTransport(LocalHub& hub, NodeId id) : hub_(hub), id_(id) {}
  void start(TransportHandler* handler) override { hub_.attach(id_, handler); }
  void set_peer(NodeId, const std::string&) override {}
  void remove_peer(NodeId) override {}
  void send(std::vector<pb::Message>&& messages) override { hub_.deliver(id_, std::move(messages)); }
  void send_snapshot(pb::Message&& request, std::unique_ptr<SnapshotReader> data,
                     std::function<void(bool)> done) override {
    done(hub_.send_snapshot(std::move(request), *data));
  }
  void stop() override { hub_.detach(id_); }
  TransportStats stats() const override { return {}; }

 private:
  LocalHub& hub_;
  NodeId id_;
};

}  // namespace raft::testing
