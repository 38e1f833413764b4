#include "src/transport/in_process_transport.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "src/transport/counters.h"
#include "src/transport/snapshot_done.h"
#include "src/util/crc32c.h"

namespace raft::transport {

// One node's side of the network.
struct InProcessNetwork::Endpoint {
  Endpoint(NodeId node_id, std::uint64_t cluster) : id(node_id), cluster_id(cluster) {}

  const NodeId id;
  const std::uint64_t cluster_id;
  Counters counters;

  // Held while calling into this node (its handler, or the done callback of a
  // snapshot it sent), so stop() can wait for such a call to end.
  std::mutex call_mutex;
  TransportHandler* handler = nullptr;  // guarded by call_mutex; null unless started
  bool stopped = false;                 // guarded by call_mutex

  // Guarded by the network's mutex.
  bool detached = false;  // stop() began
  std::set<NodeId> peers;
  std::vector<std::shared_ptr<SnapshotDone>> outgoing;  // snapshots sent, not yet reported
};

struct InProcessNetwork::Delivery {
  std::shared_ptr<Endpoint> from;
  NodeId to = 0;
  std::vector<pb::Message> messages;
};

struct InProcessNetwork::SnapshotJob {
  std::shared_ptr<Endpoint> from;
  pb::Message request;
  std::unique_ptr<SnapshotReader> data;
  std::shared_ptr<SnapshotDone> done;
};

class InProcessNetwork::InProcessTransport final : public Transport {
 public:
  InProcessTransport(std::shared_ptr<InProcessNetwork> network, NodeId id, std::uint64_t cluster_id)
      : network_(std::move(network)), endpoint_(std::make_shared<Endpoint>(id, cluster_id)) {
    std::lock_guard lock(network_->mutex_);
    network_->all_.push_back(endpoint_);
  }
  ~InProcessTransport() override { stop(); }

  void start(TransportHandler* handler) override { network_->start(endpoint_, handler); }
  void set_peer(NodeId id, const std::string&) override {
    std::lock_guard lock(network_->mutex_);
    endpoint_->peers.insert(id);
  }
  void remove_peer(NodeId id) override {
    std::lock_guard lock(network_->mutex_);
    endpoint_->peers.erase(id);
  }
  void send(std::vector<pb::Message>&& messages) override {
    network_->send(endpoint_, std::move(messages));
  }
  void send_snapshot(pb::Message&& request, std::unique_ptr<SnapshotReader> data,
                     std::function<void(bool delivered)> done) override {
    network_->send_snapshot(endpoint_, std::move(request), std::move(data), std::move(done));
  }
  void stop() override { network_->stop(endpoint_); }
  TransportStats stats() const override { return endpoint_->counters.read(); }

 private:
  const std::shared_ptr<InProcessNetwork> network_;
  const std::shared_ptr<Endpoint> endpoint_;
};

std::shared_ptr<InProcessNetwork> InProcessNetwork::create(InProcessNetworkOptions options) {
  options.snapshot_chunk_bytes = std::max<std::size_t>(options.snapshot_chunk_bytes, 1);
  return std::shared_ptr<InProcessNetwork>(new InProcessNetwork(options));
}

InProcessNetwork::InProcessNetwork(InProcessNetworkOptions options) : options_(options) {
  message_thread_ = std::thread([this] { deliver_messages(); });
  snapshot_thread_ = std::thread([this] { deliver_snapshots(); });
}

InProcessNetwork::~InProcessNetwork() {
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
  }
  work_.notify_all();
  message_thread_.join();
  snapshot_thread_.join();
  // Every transport is gone (each holds the network), so nobody is left to tell
  // about undelivered messages or snapshots.
}

std::shared_ptr<Transport> InProcessNetwork::create_transport(NodeId id, std::uint64_t cluster_id) {
  return std::make_shared<InProcessTransport>(shared_from_this(), id, cluster_id);
}

bool InProcessNetwork::linked(NodeId from, NodeId to) const {
  return !isolated_.contains(from) && !isolated_.contains(to) && !cut_.contains({from, to});
}

void InProcessNetwork::cut(NodeId a, NodeId b) {
  std::lock_guard lock(mutex_);
  cut_.insert({a, b});
  cut_.insert({b, a});
}

void InProcessNetwork::cut_one_way(NodeId from, NodeId to) {
  std::lock_guard lock(mutex_);
  cut_.insert({from, to});
}

void InProcessNetwork::isolate(NodeId id) {
  std::lock_guard lock(mutex_);
  isolated_.insert(id);
}

void InProcessNetwork::heal(NodeId a, NodeId b) {
  std::lock_guard lock(mutex_);
  cut_.erase({a, b});
  cut_.erase({b, a});
}

void InProcessNetwork::heal_all() {
  std::lock_guard lock(mutex_);
  cut_.clear();
  isolated_.clear();
}

void InProcessNetwork::set_drop_filter(DropFilter filter) {
  std::lock_guard lock(mutex_);
  drop_filter_ = std::move(filter);
}

void InProcessNetwork::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return messages_.empty() && snapshots_.empty() && busy_ == 0; });
}

TransportStats InProcessNetwork::stats() const {
  TransportStats total;
  std::lock_guard lock(mutex_);
  for (const std::weak_ptr<Endpoint>& weak : all_) {
    const std::shared_ptr<Endpoint> endpoint = weak.lock();
    if (!endpoint) continue;
    const TransportStats s = endpoint->counters.read();
    total.messages_sent += s.messages_sent;
    total.messages_dropped += s.messages_dropped;
    total.bytes_sent += s.bytes_sent;
    total.bytes_received += s.bytes_received;
    total.rejected_requests += s.rejected_requests;
  }
  return total;
}

// Lock order: a node's call_mutex, then the network's mutex_ (a handler may send()
// while its call lock is held); never the other way round.

void InProcessNetwork::start(const std::shared_ptr<Endpoint>& endpoint, TransportHandler* handler) {
  if (handler == nullptr) throw std::invalid_argument("InProcessTransport::start: null handler");
  std::lock_guard call(endpoint->call_mutex);
  if (endpoint->stopped || endpoint->handler != nullptr) {
    throw std::logic_error("InProcessTransport::start: already started or stopped");
  }
  std::lock_guard lock(mutex_);
  if (started_.contains(endpoint->id)) {
    throw std::logic_error("InProcessTransport::start: node " + std::to_string(endpoint->id) +
                           " is already attached");
  }
  endpoint->handler = handler;
  started_[endpoint->id] = endpoint;
}

void InProcessNetwork::stop(const std::shared_ptr<Endpoint>& endpoint) {
  std::vector<std::shared_ptr<SnapshotDone>> unreported;
  {
    std::lock_guard lock(mutex_);
    if (auto it = started_.find(endpoint->id); it != started_.end() && it->second == endpoint)
      started_.erase(it);
    endpoint->detached = true;
    unreported.swap(endpoint->outgoing);
  }
  // Waits for a call into this node in progress; none starts afterwards.
  std::lock_guard call(endpoint->call_mutex);
  endpoint->stopped = true;
  endpoint->handler = nullptr;
  for (const std::shared_ptr<SnapshotDone>& done : unreported) (*done)(false);
}

void InProcessNetwork::send(const std::shared_ptr<Endpoint>& from,
                            std::vector<pb::Message>&& messages) {
  std::map<NodeId, std::vector<pb::Message>> by_destination;
  std::uint64_t dropped = 0;
  std::uint64_t bytes = 0;
  {
    std::lock_guard lock(mutex_);
    for (pb::Message& m : messages) {
      m.set_cluster_id(from->cluster_id);
      const NodeId to = m.to();
      // A bare SnapshotRequest would make the receiver install data it never got.
      const bool refused = m.has_snapshot_request() || shutting_down_ ||
                           !from->peers.contains(to) || !linked(from->id, to) ||
                           (drop_filter_ && drop_filter_(m));
      std::vector<pb::Message>& batch = by_destination[to];
      if (refused || queued_[to] + batch.size() >= options_.max_queued_messages) {
        ++dropped;
        continue;
      }
      bytes += m.ByteSizeLong();
      batch.push_back(std::move(m));
    }
    for (auto& [to, batch] : by_destination) {
      if (batch.empty()) continue;
      queued_[to] += batch.size();
      messages_.push_back(Delivery{from, to, std::move(batch)});
    }
  }
  Counters::add(from->counters.messages_dropped, dropped);
  Counters::add(from->counters.bytes_sent, bytes);
  work_.notify_all();
}

void InProcessNetwork::deliver_messages() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return shutting_down_ || !messages_.empty(); });
    if (shutting_down_) return;
    Delivery delivery = std::move(messages_.front());
    messages_.pop_front();
    queued_[delivery.to] -= delivery.messages.size();
    std::shared_ptr<Endpoint> to;
    if (auto it = started_.find(delivery.to);
        it != started_.end() && linked(delivery.from->id, delivery.to)) {
      to = it->second;
    }
    ++busy_;
    lock.unlock();

    const std::uint64_t count = delivery.messages.size();
    bool delivered = false;
    if (to && to->cluster_id != delivery.from->cluster_id) {
      Counters::add(to->counters.rejected_requests, 1);
    } else if (to) {
      std::uint64_t bytes = 0;
      for (const pb::Message& m : delivery.messages) bytes += m.ByteSizeLong();
      std::lock_guard call(to->call_mutex);
      if (to->handler != nullptr) {
        Counters::add(to->counters.bytes_received, bytes);
        to->handler->on_messages(std::move(delivery.messages));
        delivered = true;
      }
    }
    Counters::add(delivered ? delivery.from->counters.messages_sent
                            : delivery.from->counters.messages_dropped,
                  count);

    lock.lock();
    --busy_;
    idle_.notify_all();
  }
}

void InProcessNetwork::send_snapshot(const std::shared_ptr<Endpoint>& from, pb::Message&& request,
                                     std::unique_ptr<SnapshotReader> data,
                                     std::function<void(bool)> done) {
  auto job = std::make_shared<SnapshotJob>();
  job->from = from;
  job->request = std::move(request);
  job->request.set_cluster_id(from->cluster_id);
  job->data = std::move(data);
  job->done = std::make_shared<SnapshotDone>(std::move(done));
  {
    std::lock_guard lock(mutex_);
    if (!from->detached) {
      from->outgoing.push_back(job->done);  // stop() reports it if the transfer cannot
      snapshots_.push_back(std::move(job));
    }
  }
  if (job) {
    (*job->done)(false);  // stopped: there is no transport thread to report it from
    return;
  }
  work_.notify_all();
}

void InProcessNetwork::deliver_snapshots() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return shutting_down_ || !snapshots_.empty(); });
    if (shutting_down_) return;
    std::shared_ptr<SnapshotJob> job = std::move(snapshots_.front());
    snapshots_.pop_front();
    const NodeId to_id = job->request.to();
    std::shared_ptr<Endpoint> to;
    if (auto it = started_.find(to_id); it != started_.end() && job->data &&
                                        job->from->peers.contains(to_id) &&
                                        linked(job->from->id, to_id)) {
      to = it->second;
    }
    ++busy_;
    lock.unlock();

    bool delivered = false;
    if (to && to->cluster_id != job->from->cluster_id) {
      Counters::add(to->counters.rejected_requests, 1);
    } else if (to) {
      std::lock_guard call(to->call_mutex);
      if (to->handler != nullptr) delivered = stream_snapshot(*job, *to);
    }
    {
      // Reported under the sender's call lock: its stop() waits for this call.
      std::lock_guard call(job->from->call_mutex);
      if (!job->from->stopped) (*job->done)(delivered);
    }

    lock.lock();
    auto& outgoing = job->from->outgoing;
    outgoing.erase(std::remove(outgoing.begin(), outgoing.end(), job->done), outgoing.end());
    --busy_;
    idle_.notify_all();
  }
}

bool InProcessNetwork::stream_snapshot(SnapshotJob& job,
                                       Endpoint& to) {  // REQUIRES: to.call_mutex held
  try {
    const pb::SnapshotMetadata metadata = job.data->metadata();
    pb::Message header = job.request;
    pb::SnapshotRequest& request = *header.mutable_snapshot_request();
    *request.mutable_metadata() = metadata;
    request.clear_data();
    request.set_offset(0);
    request.set_done(true);
    std::unique_ptr<SnapshotWriter> writer = to.handler->on_snapshot_begin(header);
    if (!writer) return false;
    std::string chunk(options_.snapshot_chunk_bytes, '\0');
    std::uint64_t size = 0;
    std::uint32_t crc = 0;
    while (const std::size_t n = job.data->read(chunk.data(), chunk.size())) {
      writer->write(chunk.data(), n);
      crc = util::crc32c_extend(crc, chunk.data(), n);
      size += n;
      Counters::add(job.from->counters.bytes_sent, n);
      Counters::add(to.counters.bytes_received, n);
      std::lock_guard lock(mutex_);
      if (!linked(job.from->id, to.id)) return false;  // cut mid-stream: the writer aborts
    }
    if (size != metadata.size_bytes() || crc != metadata.crc32c()) {
      Counters::add(to.counters.rejected_requests, 1);
      return false;  // damaged: nothing is kept
    }
    *request.mutable_metadata() = writer->commit();
    to.handler->on_snapshot_received(std::move(header));
    return true;
  } catch (const std::exception&) {
    Counters::add(to.counters.rejected_requests, 1);
    return false;
  }
}

}  // namespace raft::transport
