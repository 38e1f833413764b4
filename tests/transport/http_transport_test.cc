// The HTTP transport end to end over loopback sockets on ephemeral ports: ordering,
// batching and streaming, large messages, stalled peers, reconnection, bounded queues, snapshot
// streaming with checksum verification, cluster isolation, and a prompt, clean stop.
#include "src/transport/http_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "src/transport/codec.h"
#include "tests/transport/test_support.h"

namespace raft::transport {
namespace {

using namespace std::chrono_literals;
using testing::Collector;
using testing::DoneProbe;
using testing::eventually;
using testing::heartbeat;
using testing::metadata_for;
using testing::pattern;

// Log lines, kept for assertions.
class LogCapture {
 public:
  LogFunction sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    };
  }
  bool contains(std::string_view needle) const {
    std::lock_guard lock(mutex_);
    return std::any_of(lines_.begin(), lines_.end(), [&](const std::string& line) {
      return line.find(needle) != std::string::npos;
    });
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

HttpTransportOptions options(std::uint64_t cluster_id = 1) {
  HttpTransportOptions o;
  o.listen_address = "127.0.0.1:0";
  o.cluster_id = cluster_id;
  o.snapshot_chunk_bytes = 64 << 10;
  return o;
}

// A node's transport and what it received. The collector outlives the transport.
struct Node {
  explicit Node(HttpTransportOptions o = options()) {
    o.log = log.sink();
    transport = std::make_unique<HttpTransport>(o);
    transport->start(&collector);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(transport->port()); }
  TransportStats stats() const { return transport->stats(); }

  LogCapture log;
  Collector collector;
  std::unique_ptr<HttpTransport> transport;
};

TEST(HttpTransport, TwoNodesExchangeBatchesInOrder) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  b.transport->set_peer(1, a.address());
  for (Term t = 1; t <= 200; ++t) {
    std::vector<pb::Message> batch;
    for (int i = 0; i < 10; ++i)
      batch.push_back(heartbeat(1, 2, (t - 1) * 10 + static_cast<Term>(i) + 1));
    batch.push_back(heartbeat(1, 3, 0));  // unknown peer: dropped, not blocking the rest
    a.transport->send(std::move(batch));
    b.transport->send({heartbeat(2, 1, t)});
  }
  ASSERT_TRUE(b.collector.wait_for_messages(2000));
  ASSERT_TRUE(a.collector.wait_for_messages(200));
  const auto at_b = b.collector.messages();
  for (std::size_t i = 0; i < at_b.size(); ++i) {
    ASSERT_EQ(at_b[i].term(), i + 1) << "out of order at " << i;
    EXPECT_EQ(at_b[i].cluster_id(), 1u);
  }
  const auto at_a = a.collector.messages();
  for (std::size_t i = 0; i < at_a.size(); ++i) ASSERT_EQ(at_a[i].term(), i + 1);
  // Senders count a batch once it is written, just before delivery.
  EXPECT_TRUE(eventually([&] { return a.stats().messages_sent == 2000; }));
  EXPECT_EQ(a.stats().messages_dropped, 200u);  // the ones to node 3
  EXPECT_GT(a.stats().bytes_sent, 0u);
  EXPECT_GT(b.stats().bytes_received, 0u);
  EXPECT_EQ(b.stats().rejected_requests, 0u);
}

TEST(HttpTransport, ThreeNodesEachKeepPerSenderOrder) {
  std::map<NodeId, std::unique_ptr<Node>> nodes;
  for (NodeId id : {1, 2, 3}) nodes[id] = std::make_unique<Node>();
  for (auto& [id, node] : nodes) {
    for (auto& [peer, other] : nodes) {
      if (peer != id) node->transport->set_peer(peer, other->address());
    }
  }
  constexpr Term kRounds = 300;
  std::vector<std::thread> senders;
  for (auto& [id, node] : nodes) {
    senders.emplace_back([&, id = id] {
      for (Term t = 1; t <= kRounds; ++t) {
        std::vector<pb::Message> batch;
        for (NodeId to : {1, 2, 3}) {
          if (to != id) batch.push_back(heartbeat(id, to, t));
        }
        nodes[id]->transport->send(std::move(batch));
      }
    });
  }
  for (std::thread& t : senders) t.join();
  for (auto& [id, node] : nodes) {
    ASSERT_TRUE(node->collector.wait_for_messages(2 * kRounds)) << "node " << id;
    std::map<NodeId, Term> last;
    for (const pb::Message& m : node->collector.messages()) {
      EXPECT_EQ(m.term(), last[m.from()] + 1) << "from " << m.from() << " at " << id;
      last[m.from()] = m.term();
    }
  }
}

TEST(HttpTransport, LargeBatchArrivesWhole) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  std::vector<pb::Message> batch;
  batch.push_back(testing::append(1, 2, 1, 8 << 20));  // larger than max_batch_bytes: goes alone
  for (Term t = 2; t <= 1000; ++t) batch.push_back(testing::append(1, 2, t, 4000));
  const std::string first_entry = batch[0].append_request().entries(0).data();
  a.transport->send(std::move(batch));
  ASSERT_TRUE(b.collector.wait_for_messages(1000, 10s));
  const auto received = b.collector.messages();
  EXPECT_EQ(received[0].append_request().entries(0).data(), first_entry);
  for (std::size_t i = 0; i < received.size(); ++i) EXPECT_EQ(received[i].term(), i + 1);
}

TEST(HttpTransport, ManySmallSendsAreBatchedAndPipelined) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  constexpr Term kMessages = 5000;  // under max_queued_messages: none may be dropped
  for (Term t = 1; t <= kMessages; ++t) a.transport->send({heartbeat(1, 2, t)});
  ASSERT_TRUE(b.collector.wait_for_messages(kMessages, 10s));
  const auto received = b.collector.messages();
  for (std::size_t i = 0; i < received.size(); ++i) ASSERT_EQ(received[i].term(), i + 1);
  // Whatever queued while a request was on the wire went out together.
  EXPECT_LT(b.collector.deliveries(), kMessages);
}

TEST(HttpTransport, BatchesStreamWithoutWaitingForAnswers) {
  // A peer that reads and never answers still gets every batch, as chunks of one
  // request: nothing waits for an answer.
  testing::SilentServer silent;
  Node a;
  a.transport->set_peer(2, "127.0.0.1:" + std::to_string(silent.port()));
  for (Term t = 1; t <= 10; ++t) {
    a.transport->send({heartbeat(1, 2, t)});
    std::this_thread::sleep_for(20ms);  // each send is its own batch
  }
  const auto count = [&](std::string_view needle) {
    const std::string bytes = silent.received();
    std::size_t n = 0;
    for (std::size_t at = bytes.find(needle); at != std::string::npos;
         at = bytes.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_TRUE(eventually([&] { return a.stats().messages_sent == 10; }));
  EXPECT_EQ(count("POST /raft/stream HTTP/1.1"), 1u);
  EXPECT_EQ(count("Transfer-Encoding: chunked"), 1u);
  // Each chunk is a whole MessageBatch: its size line, then the cluster id field.
  const std::string one = encode_batch(1, {heartbeat(1, 2, 5)});
  EXPECT_EQ(count("\r\n" + (std::ostringstream() << std::hex << one.size()).str() + "\r\n\x08\x01"),
            10u);
}

// A peer that accepts nothing and reads nothing: connections complete in the
// backlog, unaccepted, and a write stalls once the socket buffers are full.
class DeafPeer {
 public:
  DeafPeer() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_, 8) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    address_ = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }
  ~DeafPeer() { ::close(fd_); }
  const std::string& address() const { return address_; }

 private:
  int fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  std::string address_;
};

TEST(HttpTransport, StalledPeerBreaksTheConnection) {
  // Once the socket buffers are full the write makes no progress, and the watchdog
  // breaks the connection.
  DeafPeer deaf;
  HttpTransportOptions o = options();
  o.write_timeout = 200ms;
  Node a(o);
  a.transport->set_peer(2, deaf.address());
  std::vector<pb::Message> big;
  for (Term t = 1; t <= 40; ++t) big.push_back(testing::append(1, 2, t, 1 << 20));
  a.transport->send(std::move(big));
  EXPECT_TRUE(eventually([&] { return a.log.contains("no progress"); }, 5s));
  EXPECT_GT(a.stats().messages_dropped, 0u);
}

TEST(HttpTransport, PeerDownThenUpReconnects) {
  Node a;
  auto b = std::make_unique<Node>();
  const std::uint16_t port = b->transport->port();
  a.transport->set_peer(2, b->address());
  a.transport->send({heartbeat(1, 2, 1)});
  ASSERT_TRUE(b->collector.wait_for_messages(1));

  b.reset();  // the peer goes down
  for (Term t = 2; t <= 5; ++t) {
    a.transport->send({heartbeat(1, 2, t)});
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(eventually([&] { return a.stats().messages_dropped >= 1; }));

  // ...and comes back on the same address.
  HttpTransportOptions o = options();
  o.listen_address = "127.0.0.1:" + std::to_string(port);
  Node b2(o);
  Term t = 100;
  EXPECT_TRUE(eventually(
      [&] {
        a.transport->send({heartbeat(1, 2, ++t)});
        return !b2.collector.messages().empty();
      },
      5s));
  // Later messages are delivered in order from then on.
  a.transport->send({heartbeat(1, 2, 1000), heartbeat(1, 2, 1001)});
  ASSERT_TRUE(eventually([&] {
    return !b2.collector.messages().empty() && b2.collector.messages().back().term() == 1001;
  }));
  EXPECT_TRUE(a.log.contains("cannot reach node 2"));
}

TEST(HttpTransport, QueueIsBoundedAndDropsWhenThePeerIsUnreachable) {
  HttpTransportOptions o = options();
  o.max_queued_messages = 100;
  Node a(o);
  a.transport->set_peer(2, "127.0.0.1:" + std::to_string(testing::unused_port()));
  std::vector<pb::Message> flood;
  for (Term t = 1; t <= 1000; ++t) flood.push_back(heartbeat(1, 2, t));
  a.transport->send(std::move(flood));
  EXPECT_GE(a.stats().messages_dropped, 900u) << "beyond the bound, dropped at once";
  // The rest goes when the connection attempt fails.
  EXPECT_TRUE(eventually([&] { return a.stats().messages_dropped == 1000; }));
  EXPECT_EQ(a.stats().messages_sent, 0u);
}

TEST(HttpTransport, QueueBytesAreBoundedToo) {
  HttpTransportOptions o = options();
  o.max_queued_bytes = 100 << 10;
  Node a(o);
  a.transport->set_peer(2, "127.0.0.1:" + std::to_string(testing::unused_port()));
  std::vector<pb::Message> flood;
  for (Term t = 1; t <= 100; ++t) flood.push_back(testing::append(1, 2, t, 10 << 10));
  a.transport->send(std::move(flood));
  EXPECT_GE(a.stats().messages_dropped, 90u);
}

TEST(HttpTransport, OversizedMessageIsDroppedAtTheSender) {
  HttpTransportOptions o = options();
  o.max_body_bytes = 1 << 20;
  Node a(o), b(o);
  a.transport->set_peer(2, b.address());
  a.transport->send({testing::append(1, 2, 1, 2 << 20), heartbeat(1, 2, 2)});
  ASSERT_TRUE(b.collector.wait_for_messages(1));
  EXPECT_EQ(b.collector.messages()[0].term(), 2u);
  EXPECT_EQ(a.stats().messages_dropped, 1u);
  EXPECT_EQ(b.stats().rejected_requests, 0u);
}

TEST(HttpTransport, SnapshotRequestGivenToSendIsDropped) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  a.transport->send(
      {testing::snapshot_request(1, 2, metadata_for(5, 1, "data")), heartbeat(1, 2, 1)});
  ASSERT_TRUE(b.collector.wait_for_messages(1));
  EXPECT_EQ(b.collector.messages().size(), 1u);
  EXPECT_TRUE(b.collector.messages()[0].has_heartbeat_request());
  EXPECT_EQ(a.stats().messages_dropped, 1u);
}

TEST(HttpTransport, SnapshotStreamsInChunksAndIsVerified) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  const std::string data = pattern((3 << 20) + 12345);  // 3 MiB and a bit: ~50 chunks
  const pb::SnapshotMetadata metadata = metadata_for(42, 3, data);
  DoneProbe done;
  a.transport->send_snapshot(testing::snapshot_request(1, 2, metadata),
                             std::make_unique<testing::StringSnapshotReader>(metadata, data),
                             done.callback());
  EXPECT_EQ(done.wait(), std::optional<bool>(true));
  ASSERT_TRUE(b.collector.wait_for_snapshots(1));
  const pb::Message received = b.collector.snapshots()[0];
  EXPECT_EQ(received.from(), 1u);
  EXPECT_EQ(received.cluster_id(), 1u);
  EXPECT_EQ(received.snapshot_request().metadata().index(), 42u);
  EXPECT_EQ(received.snapshot_request().metadata().size_bytes(), data.size());
  EXPECT_EQ(received.snapshot_request().metadata().crc32c(), metadata.crc32c());
  EXPECT_EQ(b.collector.store.latest_data(), data);
  EXPECT_GT(a.stats().bytes_sent, data.size());
}

TEST(HttpTransport, EmptySnapshotStreams) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  const pb::SnapshotMetadata metadata = metadata_for(3, 1, "");
  DoneProbe done;
  a.transport->send_snapshot(testing::snapshot_request(1, 2, metadata),
                             std::make_unique<testing::StringSnapshotReader>(metadata, ""),
                             done.callback());
  EXPECT_EQ(done.wait(), std::optional<bool>(true));
  EXPECT_TRUE(b.collector.wait_for_snapshots(1));
}

TEST(HttpTransport, CorruptSnapshotIsRejectedBeforeInstall) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  const std::string data = pattern(300000);
  pb::SnapshotMetadata metadata = metadata_for(9, 2, data);
  metadata.set_crc32c(metadata.crc32c() + 1);  // the data does not match its checksum
  DoneProbe done;
  a.transport->send_snapshot(testing::snapshot_request(1, 2, metadata),
                             std::make_unique<testing::StringSnapshotReader>(metadata, data),
                             done.callback());
  EXPECT_EQ(done.wait(), std::optional<bool>(false));
  EXPECT_FALSE(b.collector.wait_for_snapshots(1, 100ms));
  EXPECT_FALSE(b.collector.store.latest().has_value());
  EXPECT_EQ(b.collector.store.open_writers, 0);
  EXPECT_GE(b.stats().rejected_requests, 1u);
  EXPECT_TRUE(b.log.contains("checksum mismatch"));
}

TEST(HttpTransport, SnapshotShorterThanItsMetadataFails) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  const std::string data = pattern(200000);
  pb::SnapshotMetadata metadata = metadata_for(9, 2, data);
  metadata.set_size_bytes(data.size() + 1000);
  DoneProbe done;
  a.transport->send_snapshot(testing::snapshot_request(1, 2, metadata),
                             std::make_unique<testing::StringSnapshotReader>(metadata, data),
                             done.callback());
  EXPECT_EQ(done.wait(), std::optional<bool>(false));
  EXPECT_FALSE(b.collector.store.latest().has_value());
  EXPECT_TRUE(eventually([&] { return b.collector.store.open_writers == 0; }))
      << "the half transfer is abandoned";
}

TEST(HttpTransport, SnapshotFailuresReportDoneFalse) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  const std::string data = pattern(100000);
  const pb::SnapshotMetadata metadata = metadata_for(9, 2, data);
  const auto send = [&](NodeId to) {
    DoneProbe done;
    a.transport->send_snapshot(testing::snapshot_request(1, to, metadata),
                               std::make_unique<testing::StringSnapshotReader>(metadata, data),
                               done.callback());
    return done.wait();
  };
  b.collector.refuse_snapshots = true;
  EXPECT_EQ(send(2), std::optional<bool>(false)) << "refused by the node";
  b.collector.refuse_snapshots = false;
  b.collector.store.fail_commits = true;
  EXPECT_EQ(send(2), std::optional<bool>(false)) << "the store failed";
  b.collector.store.fail_commits = false;
  EXPECT_EQ(send(3), std::optional<bool>(false)) << "unknown peer";
  EXPECT_EQ(send(2), std::optional<bool>(true));
  a.transport->set_peer(4, "127.0.0.1:" + std::to_string(testing::unused_port()));
  EXPECT_EQ(send(4), std::optional<bool>(false)) << "unreachable";
}

TEST(HttpTransport, ForeignClusterIsRejectedAndLogged) {
  Node a(options(7)), b(options(8));
  a.transport->set_peer(2, b.address());
  a.transport->send({heartbeat(1, 2, 1)});
  EXPECT_TRUE(eventually([&] { return b.stats().rejected_requests >= 1; }));
  EXPECT_TRUE(b.collector.messages().empty());
  // The counters move before the log lines are written: wait for those too.
  EXPECT_TRUE(eventually([&] { return b.log.contains("from another cluster"); }));
  EXPECT_TRUE(eventually([&] { return a.log.contains("403"); }));
  // A refused stream is retried with backoff, not in a loop: 25, 50, 100, 200 ms...
  const std::uint64_t refused = b.stats().rejected_requests;
  for (Term t = 2; t <= 50; ++t) {
    a.transport->send({heartbeat(1, 2, t)});
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_LE(b.stats().rejected_requests, refused + 6);
  EXPECT_TRUE(b.collector.messages().empty());

  // Nor can a snapshot cross clusters.
  const std::string data = pattern(1000);
  const pb::SnapshotMetadata metadata = metadata_for(9, 2, data);
  DoneProbe done;
  a.transport->send_snapshot(testing::snapshot_request(1, 2, metadata),
                             std::make_unique<testing::StringSnapshotReader>(metadata, data),
                             done.callback());
  EXPECT_EQ(done.wait(), std::optional<bool>(false));
  EXPECT_EQ(b.collector.calls(), 0u);
}

TEST(HttpTransport, MessagesForAnotherNodeIdAreRefused) {
  HttpTransportOptions o = options();
  o.local_id = 2;
  Node a, b(o);
  a.transport->set_peer(3, b.address());  // a's peer list says node 3 lives at b's address
  a.transport->set_peer(2, b.address());
  a.transport->send({heartbeat(1, 3, 1)});
  EXPECT_TRUE(eventually([&] { return b.stats().rejected_requests == 1; }));
  a.transport->send({heartbeat(1, 2, 2)});
  ASSERT_TRUE(b.collector.wait_for_messages(1));
  EXPECT_EQ(b.collector.messages().size(), 1u);
  EXPECT_EQ(b.collector.messages()[0].to(), 2u);
}

TEST(HttpTransport, PeerAddressChangesAndRemovals) {
  Node a, b, c;
  a.transport->set_peer(2, b.address());
  a.transport->send({heartbeat(1, 2, 1)});
  ASSERT_TRUE(b.collector.wait_for_messages(1));
  a.transport->set_peer(2, c.address());  // node 2 moved
  a.transport->send({heartbeat(1, 2, 2)});
  ASSERT_TRUE(c.collector.wait_for_messages(1));
  EXPECT_EQ(c.collector.messages()[0].term(), 2u);
  a.transport->remove_peer(2);
  const std::uint64_t dropped = a.stats().messages_dropped;
  a.transport->send({heartbeat(1, 2, 3)});
  EXPECT_EQ(a.stats().messages_dropped, dropped + 1);
  EXPECT_EQ(b.collector.messages().size(), 1u);
}

// A receiver that does not know a sender's address (a removed member's, once the
// receiver restarted without it) answers it at the address its stream gave
// (kSenderAddressHeader): the bound port by default, advertise_address when set.
TEST(HttpTransport, AnUnknownSenderIsAnsweredAtTheAddressItGives) {
  Node a, b, d;
  a.transport->set_peer(2, b.address());
  const std::uint64_t dropped = b.stats().messages_dropped;
  a.transport->send({heartbeat(1, 2, 1)});
  ASSERT_TRUE(b.collector.wait_for_messages(1));
  b.transport->send({heartbeat(2, 1, 2)});
  ASSERT_TRUE(a.collector.wait_for_messages(1)) << "b did not answer a";
  EXPECT_EQ(a.collector.messages()[0].term(), 2u);
  EXPECT_EQ(b.stats().messages_dropped, dropped);
  EXPECT_TRUE(b.log.contains("node 1 is not a known peer: answering it at " + a.address()));

  HttpTransportOptions elsewhere = options();
  elsewhere.local_id = 3;
  Node c(elsewhere);
  HttpTransportOptions advertised = options();
  advertised.advertise_address = d.address();  // c's peers are to reach it through d
  Node e(advertised);
  e.transport->set_peer(3, c.address());
  e.transport->send({heartbeat(5, 3, 1)});
  ASSERT_TRUE(c.collector.wait_for_messages(1));
  c.transport->send({heartbeat(3, 5, 7)});
  ASSERT_TRUE(d.collector.wait_for_messages(1));
  EXPECT_EQ(d.collector.messages()[0].term(), 7u);
  EXPECT_TRUE(e.collector.messages().empty());
}

// A peer inventing sender ids gets at most 16 learned addresses out of a receiver.
TEST(HttpTransport, LearnedAddressesAreBounded) {
  Node a, b;
  a.transport->set_peer(2, b.address());
  for (NodeId i = 0; i < 20; ++i) {
    a.transport->send({heartbeat(100 + i, 2, 1)});
    ASSERT_TRUE(b.collector.wait_for_messages(static_cast<std::size_t>(i) + 1));  // one batch each
  }
  const std::uint64_t dropped = b.stats().messages_dropped;
  for (NodeId i = 0; i < 20; ++i) b.transport->send({heartbeat(2, 100 + i, 1)});
  ASSERT_TRUE(a.collector.wait_for_messages(16));
  EXPECT_EQ(b.stats().messages_dropped, dropped + 4);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(a.collector.messages().size(), 16u);
}

// A given address is never replaced by what a sender says about itself.
TEST(HttpTransport, AGivenAddressWinsOverTheSendersOwn) {
  Node a, b, c;
  a.transport->set_peer(2, b.address());
  b.transport->set_peer(1, c.address());  // b was told 1 is at c's address
  a.transport->send({heartbeat(1, 2, 1)});
  ASSERT_TRUE(b.collector.wait_for_messages(1));
  b.transport->send({heartbeat(2, 1, 2)});
  ASSERT_TRUE(c.collector.wait_for_messages(1));
  EXPECT_TRUE(a.collector.messages().empty());
  EXPECT_FALSE(b.log.contains("not a known peer"));
}

TEST(HttpTransport, BadOptionsAndTakenPortsThrow) {
  HttpTransportOptions o = options();
  o.cluster_id = 0;
  Collector collector;
  EXPECT_THROW(HttpTransport(o).start(&collector), std::invalid_argument);
  o = options();
  o.listen_address = "no-port";
  EXPECT_THROW(HttpTransport(o).start(&collector), std::invalid_argument);
  o = options();
  o.advertise_address = "no-port";
  EXPECT_THROW(HttpTransport(o).start(&collector), std::invalid_argument);
  Node a;
  o = options();
  o.listen_address = a.address();
  EXPECT_THROW(HttpTransport(o).start(&collector), std::runtime_error);
  HttpTransport twice(options());
  twice.start(&collector);
  EXPECT_THROW(twice.start(&collector), std::logic_error);
}

// Counts handler calls and fails the test if one comes after `closed`.
class StrictHandler final : public TransportHandler {
 public:
  void on_messages(std::vector<pb::Message>&&) override {
    if (messages_thread != std::thread::id() && std::this_thread::get_id() != messages_thread) {
      ++wrong_thread_calls;
    }
    record();
  }
  std::unique_ptr<SnapshotWriter> on_snapshot_begin(const pb::Message& request) override {
    record();
    return store.create(request.snapshot_request().metadata());
  }
  void on_snapshot_received(pb::Message&&) override { record(); }
  void record() {
    ++calls;
    if (closed) ++late_calls;
    std::this_thread::sleep_for(1ms);  // widen the window for a late call
  }
  testing::TestSnapshotStore store;
  std::atomic<int> calls{0};
  std::atomic<int> late_calls{0};
  std::atomic<bool> closed{false};
  std::thread::id messages_thread;  // set before start(): where on_messages must run
  std::atomic<int> wrong_thread_calls{0};
};

TEST(HttpTransport, StopIsPromptAndNothingRunsAfterIt) {
  StrictHandler handler;
  auto b = std::make_unique<HttpTransport>(options());
  b->start(&handler);
  const std::string b_address = "127.0.0.1:" + std::to_string(b->port());

  // Traffic at b from two senders, one of them streaming a large snapshot.
  Node a;
  a.transport->set_peer(2, b_address);
  std::atomic<bool> sending{true};
  std::thread sender([&] {
    for (Term t = 1; sending; ++t) {
      a.transport->send({heartbeat(1, 2, t)});
      std::this_thread::sleep_for(1ms);
    }
  });
  const std::string data = pattern(8 << 20);
  const pb::SnapshotMetadata metadata = metadata_for(50, 2, data);
  DoneProbe done;
  a.transport->send_snapshot(testing::snapshot_request(1, 2, metadata),
                             std::make_unique<testing::StringSnapshotReader>(metadata, data),
                             done.callback());
  // b also sends, to a peer that is down and to one that is up.
  b->set_peer(1, a.address());
  b->set_peer(3, "127.0.0.1:" + std::to_string(testing::unused_port()));
  b->send({heartbeat(2, 1, 1), heartbeat(2, 3, 1)});
  ASSERT_TRUE(eventually([&] { return handler.calls >= 3; }));

  const auto start = std::chrono::steady_clock::now();
  b->stop();
  handler.closed = true;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(handler.late_calls, 0);
  EXPECT_EQ(handler.store.open_writers, 0) << "a half-received snapshot is abandoned";

  // After stop: calls are harmless no-ops.
  b->send({heartbeat(2, 1, 2)});
  b->set_peer(4, a.address());
  DoneProbe after;
  b->send_snapshot(testing::snapshot_request(2, 1, metadata),
                   std::make_unique<testing::StringSnapshotReader>(metadata, data),
                   after.callback());
  EXPECT_EQ(after.wait(0ms), std::optional<bool>(false)) << "reported at once";
  b->stop();
  b.reset();

  // The sender notices the peer is gone.
  EXPECT_EQ(done.wait(), std::optional<bool>(false));
  sending = false;
  sender.join();
}

// A Node lends its event loop: the transport must run every connection and handler
// call there, and stop() must wind them all down while the loop keeps running.
TEST(HttpTransport, RunsOnALentIoContextAndStopsWhileItRuns) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });

  HttpTransportOptions lent = options();
  lent.io_context = &io;
  StrictHandler handler;
  handler.messages_thread = loop.get_id();
  auto a = std::make_unique<HttpTransport>(lent);
  a->start(&handler);
  Node b;
  a->set_peer(2, b.address());
  b.transport->set_peer(1, "127.0.0.1:" + std::to_string(a->port()));

  // Both directions, and a snapshot that is still streaming when a stops.
  a->send({heartbeat(1, 2, 1)});
  ASSERT_TRUE(b.collector.wait_for_messages(1));
  std::atomic<bool> sending{true};
  std::thread sender([&] {
    for (Term t = 1; sending; ++t) {
      b.transport->send({heartbeat(2, 1, t)});
      std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(eventually([&] { return handler.calls >= 3; }));
  DeafPeer deaf;  // the snapshot stalls there, so it is in flight at stop()
  a->set_peer(3, deaf.address());
  const std::string data = pattern(16 << 20);
  const pb::SnapshotMetadata metadata = metadata_for(50, 2, data);
  DoneProbe done;
  a->send_snapshot(testing::snapshot_request(1, 3, metadata),
                   std::make_unique<testing::StringSnapshotReader>(metadata, data), done.callback());
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(done.wait(0ms), std::nullopt) << "the transfer should still be stalled";

  const auto start = std::chrono::steady_clock::now();
  a->stop();
  handler.closed = true;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(done.wait(0ms), std::optional<bool>(false)) << "a stopped transfer reports at once";
  std::this_thread::sleep_for(100ms);  // b keeps sending to the closed port
  EXPECT_EQ(handler.late_calls, 0);
  EXPECT_EQ(handler.wrong_thread_calls, 0) << "on_messages ran off the lent context's thread";
  // Nothing of a's is left on the loop: destroying it while the loop runs is safe
  // (under asan, a connection left behind would touch freed memory).
  a.reset();
  std::this_thread::sleep_for(50ms);

  sending = false;
  sender.join();
  work.reset();
  io.stop();
  loop.join();
}

TEST(HttpTransport, StopWithoutStartAndDestroyWithPeers) {
  {
    HttpTransport unused(options());
    unused.set_peer(2, "127.0.0.1:1");
    unused.send({heartbeat(1, 2, 1)});
    unused.stop();
  }
  {
    Node a;
    a.transport->set_peer(2, "127.0.0.1:" + std::to_string(testing::unused_port()));
    a.transport->send({heartbeat(1, 2, 1)});
    const auto start = std::chrono::steady_clock::now();
    a.transport.reset();  // destroyed without an explicit stop()
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  }
}

}  // namespace
}  // namespace raft::transport
