// Transports that connect nodes living in one process, for tests and benchmarks:
// no sockets, no encoding, the same contract as the HTTP transport. An
// InProcessNetwork is the hub; it hands out one Transport per node id and delivers
// on its own threads, so send() returns at once and a receiver is never called on
// the sender's stack (a node calling send() from its loop must not find itself
// re-entered). Messages from one node to another arrive in order or not at all; the
// cluster id is checked as over HTTP; snapshots stream through the stores in chunks
// with size and CRC-32C verified before the receiver hears of them.
//
// Faults for tests: cut links (one way or both), isolate a node, drop messages by a
// filter, wait until everything in flight has landed.
//
// Threading: one thread delivers messages (in send order, so per-link order holds),
// one runs snapshot transfers. All methods are thread-safe. A handler call and a
// transport's stop() exclude each other: after stop() returns, that node's handler
// and its snapshot callbacks are never called again. Do not call stop() or destroy
// a transport or the network from inside a handler or done callback.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "raft/transport.h"

namespace raft::transport {

struct InProcessNetworkOptions {
  // Messages waiting for one destination node, then new ones are dropped.
  // Default: 100,000.
  std::size_t max_queued_messages = 100000;
  // Snapshot data per write into the receiver's SnapshotWriter. Default: 1 MiB.
  std::size_t snapshot_chunk_bytes = 1 << 20;
};

class InProcessNetwork : public std::enable_shared_from_this<InProcessNetwork> {
 public:
  // Shared: every transport it creates keeps it alive.
  static std::shared_ptr<InProcessNetwork> create(InProcessNetworkOptions options = {});
  ~InProcessNetwork();
  InProcessNetwork(const InProcessNetwork&) = delete;
  InProcessNetwork& operator=(const InProcessNetwork&) = delete;

  // The transport of node `id` in cluster `cluster_id`. Peers are reached by id once
  // set_peer() named them (the address is not used). At most one started transport
  // per id at a time (start() throws std::logic_error otherwise).
  std::shared_ptr<Transport> create_transport(NodeId id, std::uint64_t cluster_id = 1);

  // Faults. A cut drops what is sent over the link from now on, and what was sent
  // but not delivered yet.
  void cut(NodeId a, NodeId b);  // both directions
  void cut_one_way(NodeId from, NodeId to);
  void isolate(NodeId id);  // every link to and from `id`, including later nodes'
  void heal(NodeId a, NodeId b);
  void heal_all();
  // Called (under the network's lock: it must not call back into the network) for
  // every message sent; true drops it. Null drops nothing.
  using DropFilter = std::function<bool(const pb::Message&)>;
  void set_drop_filter(DropFilter filter);

  // Blocks until every message and snapshot sent so far was delivered or dropped.
  void wait_idle();
  // Over all transports of this network.
  TransportStats stats() const;

 private:
  struct Endpoint;
  struct Delivery;
  struct SnapshotJob;
  class InProcessTransport;
  friend class InProcessTransport;

  explicit InProcessNetwork(InProcessNetworkOptions options);
  bool linked(NodeId from, NodeId to) const;  // REQUIRES: mutex_ held
  void start(const std::shared_ptr<Endpoint>& endpoint, TransportHandler* handler);
  void stop(const std::shared_ptr<Endpoint>& endpoint);
  void send(const std::shared_ptr<Endpoint>& from, std::vector<pb::Message>&& messages);
  void send_snapshot(const std::shared_ptr<Endpoint>& from, pb::Message&& request,
                     std::unique_ptr<SnapshotReader> data, std::function<void(bool)> done);
  void deliver_messages();   // the message thread
  void deliver_snapshots();  // the snapshot thread
  bool stream_snapshot(SnapshotJob& job, Endpoint& to);

  const InProcessNetworkOptions options_;
  mutable std::mutex mutex_;                             // guards everything below
  std::condition_variable work_;                         // something to deliver, or shutting down
  std::condition_variable idle_;                         // something finished
  std::map<NodeId, std::shared_ptr<Endpoint>> started_;  // by node id
  std::vector<std::weak_ptr<Endpoint>> all_;             // for stats()
  std::set<std::pair<NodeId, NodeId>> cut_;              // (from, to)
  std::set<NodeId> isolated_;
  DropFilter drop_filter_;
  std::deque<Delivery> messages_;
  std::map<NodeId, std::size_t> queued_;  // messages waiting per destination
  std::deque<std::shared_ptr<SnapshotJob>> snapshots_;
  std::size_t busy_ = 0;  // deliveries being made
  bool shutting_down_ = false;
  std::thread message_thread_;
  std::thread snapshot_thread_;
};

}  // namespace raft::transport
