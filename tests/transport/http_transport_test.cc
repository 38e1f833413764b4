// The HTTP transport over real loopback sockets: ordering, batching, pipelining,
// reconnection, bounded queues, snapshot streaming with checksum verification,
// cluster-id isolation, and survival of garbage input.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include "raft/memory_stores.h"
#include "src/transport/http_peer_transport.h"
#include "tests/system/raftd_cluster.h"

namespace raft::transport {
namespace {

using namespace std::chrono_literals;

// Collects what a transport delivers; snapshots go to a MemorySnapshotStore.
class Collector final : public TransportHandler {
 public:
  void on_messages(std::vector<pb::Message>&& messages) override {
    std::lock_guard lock(mutex_);
    for (pb::Message& m : messages) received_.push_back(std::move(m));
    changed_.notify_all();
  }
  std::unique_ptr<SnapshotWriter> on_snapshot_begin(const pb::Message& request) override {
    return store_.create(request.snapshot_request().metadata());
  }
  void on_snapshot_received(pb::Message&& request) override {
    std::lock_guard lock(mutex_);
    snapshots_.push_back(std::move(request));
    changed_.notify_all();
  }
  bool wait_for(std::size_t messages, std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return received_.size() >= messages; });
  }
  bool wait_for_snapshot(std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return !snapshots_.empty(); });
  }
  std::vector<pb::Message> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  MemorySnapshotStore& store() { return store_; }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<pb::Message> received_;
  std::vector<pb::Message> snapshots_;
  MemorySnapshotStore store_;
};

struct Endpoint {
  explicit Endpoint(std::uint64_t cluster_id = 1, std::size_t max_queued = 10000) {
    HttpTransportOptions options;
    options.listen_address = "127.0.0.1:0";
    options.cluster_id = cluster_id;
    options.max_queued_messages = max_queued;
    options.snapshot_chunk_bytes = 64 * 1024;
    transport = std::make_unique<HttpPeerTransport>(options);
    transport->start(&collector);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(transport->port()); }
  Collector collector;
  std::unique_ptr<HttpPeerTransport> transport;
};

pb::Message heartbeat(NodeId from, NodeId to, Term term) {
  pb::Message m;
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  m.mutable_heartbeat_request()->set_commit(term);
  return m;
}

TEST(HttpTransport, DeliversInOrderWithBatchingAndPipelining) {
  Endpoint a, b;
  a.transport->set_peer(2, b.address());
  for (int round = 0; round < 100; ++round) {
    std::vector<pb::Message> batch;
    for (int i = 0; i < 50; ++i) batch.push_back(heartbeat(1, 2, static_cast<Term>(round * 50 + i + 1)));
    a.transport->send(std::move(batch));
  }
  ASSERT_TRUE(b.collector.wait_for(5000)) << "received " << b.collector.received().size() << " sent "
                                          << a.transport->stats().messages_sent << " dropped "
                                          << a.transport->stats().messages_dropped;
  const auto received = b.collector.received();
  for (std::size_t i = 0; i < received.size(); ++i) {
    ASSERT_EQ(received[i].term(), i + 1) << "out of order at " << i;
    EXPECT_EQ(received[i].cluster_id(), 1u);
  }
  // The sender counts a batch when its response arrives, just after delivery.
  for (int i = 0; i < 100 && a.transport->stats().messages_sent < 5000; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(a.transport->stats().messages_sent, 5000u);
  EXPECT_EQ(a.transport->stats().messages_dropped, 0u);
}

TEST(HttpTransport, LargeMessageArrivesWhole) {
  Endpoint a, b;
  a.transport->set_peer(2, b.address());
  pb::Message m = heartbeat(1, 2, 1);
  m.mutable_append_request()->add_entries()->set_data(std::string(8 << 20, 'z'));
  a.transport->send({m});
  ASSERT_TRUE(b.collector.wait_for(1));
  EXPECT_EQ(b.collector.received()[0].append_request().entries(0).data().size(), 8u << 20);
}

TEST(HttpTransport, PeerDownDropsThenReconnects) {
  Endpoint a;
  auto b = std::make_unique<Endpoint>();
  const std::string address = b->address();
  a.transport->set_peer(2, address);
  b.reset();  // peer down
  a.transport->send({heartbeat(1, 2, 1)});
  std::this_thread::sleep_for(100ms);
  EXPECT_GE(a.transport->stats().messages_dropped, 1u);
  // A new peer on another port; the address book is updated as a membership change would.
  Endpoint c;
  a.transport->set_peer(2, c.address());
  for (int i = 0; i < 50 && c.collector.received().empty(); ++i) {
    a.transport->send({heartbeat(1, 2, 2)});
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(c.collector.received().empty());
}

TEST(HttpTransport, QueueIsBoundedWhenPeerUnreachable) {
  Endpoint a(1, /*max_queued=*/100);
  a.transport->set_peer(2, "127.0.0.1:1");  // nothing listens there
  std::vector<pb::Message> flood;
  for (int i = 0; i < 1000; ++i) flood.push_back(heartbeat(1, 2, 1));
  a.transport->send(std::move(flood));
  EXPECT_GE(a.transport->stats().messages_dropped, 900u);
}

TEST(HttpTransport, ForeignClusterIsRejected) {
  Endpoint a(/*cluster_id=*/7), b(/*cluster_id=*/8);
  a.transport->set_peer(2, b.address());
  a.transport->send({heartbeat(1, 2, 1)});
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(b.collector.received().empty());
  EXPECT_GE(b.transport->stats().rejected_requests, 1u);
}

TEST(HttpTransport, SnapshotStreamsInChunksAndIsVerified) {
  Endpoint a, b;
  a.transport->set_peer(2, b.address());
  MemorySnapshotStore source;
  pb::SnapshotMetadata metadata;
  metadata.set_index(42);
  metadata.set_term(3);
  auto writer = source.create(metadata);
  std::string data(3 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  writer->write(data.data(), data.size());
  writer->commit();
  pb::Message request;
  request.set_from(1);
  request.set_to(2);
  request.set_term(3);
  *request.mutable_snapshot_request()->mutable_metadata() = metadata;
  std::promise<bool> delivered;
  a.transport->send_snapshot(std::move(request), source.open_latest(), [&](bool ok) { delivered.set_value(ok); });
  EXPECT_TRUE(delivered.get_future().get());
  ASSERT_TRUE(b.collector.wait_for_snapshot());
  auto reader = b.collector.store().open_latest();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->metadata().index(), 42u);
  std::string copy(data.size(), '\0');
  std::size_t n = 0;
  while (std::size_t got = reader->read(copy.data() + n, copy.size() - n)) n += got;
  EXPECT_EQ(copy, data);
}

// A reader whose data does not match its metadata's checksum: the receiver refuses.
class CorruptReader final : public SnapshotReader {
 public:
  CorruptReader() {
    metadata_.set_index(9);
    metadata_.set_size_bytes(1000);
    metadata_.set_crc32c(12345);  // wrong on purpose
  }
  const pb::SnapshotMetadata& metadata() const override { return metadata_; }
  std::size_t read(char* buffer, std::size_t n) override {
    const std::size_t count = std::min(n, 1000 - offset_);
    std::memset(buffer, 'q', count);
    offset_ += count;
    return count;
  }

 private:
  pb::SnapshotMetadata metadata_;
  std::size_t offset_ = 0;
};

TEST(HttpTransport, CorruptSnapshotIsRejected) {
  Endpoint a, b;
  a.transport->set_peer(2, b.address());
  pb::Message request;
  request.set_from(1);
  request.set_to(2);
  std::promise<bool> delivered;
  a.transport->send_snapshot(std::move(request), std::make_unique<CorruptReader>(),
                             [&](bool ok) { delivered.set_value(ok); });
  EXPECT_FALSE(delivered.get_future().get());
  EXPECT_FALSE(b.collector.wait_for_snapshot(200ms));
  EXPECT_FALSE(b.collector.store().latest().has_value());
}

TEST(HttpTransport, GarbageAndBadRequestsAreRejectedAndServingContinues) {
  Endpoint a, b;
  const std::string address = b.address();
  using system_test::http_call;
  using system_test::raw_exchange;
  EXPECT_EQ(http_call(address, "POST", "/raft/messages", "not a protobuf \xff\xfe").status, 400);
  EXPECT_EQ(http_call(address, "GET", "/raft/messages").status, 405);
  EXPECT_EQ(http_call(address, "POST", "/nope", "").status, 404);
  EXPECT_EQ(http_call(address, "GET", "/raft/health").status, 200);
  raw_exchange(address, std::string(5000, '\x01'), 200ms);
  raw_exchange(address, "POST /raft/messages HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", 200ms);
  a.transport->set_peer(2, address);
  a.transport->send({heartbeat(1, 2, 5)});
  ASSERT_TRUE(b.collector.wait_for(1));
  EXPECT_GE(b.transport->stats().rejected_requests, 3u);
}

TEST(HttpTransport, StopIsPromptWithPeersDown) {
  Endpoint a;
  a.transport->set_peer(2, "127.0.0.1:1");
  a.transport->send({heartbeat(1, 2, 1)});
  const auto start = std::chrono::steady_clock::now();
  a.transport->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace raft::transport
