// The in-process transport: the Transport contract without sockets (asynchronous
// delivery in order, drops, cluster isolation, verified snapshots, clean stop) and
// the fault hooks tests rely on.
#include "src/transport/in_process_transport.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/transport/test_support.h"

namespace raft::transport {
namespace {

using namespace std::chrono_literals;
using testing::Collector;
using testing::DoneProbe;
using testing::heartbeat;
using testing::metadata_for;
using testing::pattern;

struct Cluster {
  explicit Cluster(std::size_t n, InProcessNetworkOptions options = {})
      : network(InProcessNetwork::create(options)) {
    collectors.resize(n + 1);
    for (NodeId id = 1; id <= n; ++id) {
      collectors[id] = std::make_unique<Collector>();
      transports.push_back(network->create_transport(id));
      transports.back()->start(collectors[id].get());
      for (NodeId peer = 1; peer <= n; ++peer) {
        if (peer != id) transports.back()->set_peer(peer, "n" + std::to_string(peer));
      }
    }
  }
  Transport& t(NodeId id) { return *transports[id - 1]; }
  Collector& c(NodeId id) { return *collectors[id]; }

  std::shared_ptr<InProcessNetwork> network;
  std::vector<std::unique_ptr<Collector>> collectors;  // outlive the transports
  std::vector<std::shared_ptr<Transport>> transports;
};

TEST(InProcessTransport, DeliversInOrderOnItsOwnThread) {
  Cluster cluster(3);
  for (Term t = 1; t <= 500; ++t) {
    cluster.t(1).send({heartbeat(1, 2, t), heartbeat(1, 3, t)});
    cluster.t(2).send({heartbeat(2, 3, t)});
  }
  cluster.network->wait_idle();
  ASSERT_EQ(cluster.c(2).messages().size(), 500u);
  ASSERT_EQ(cluster.c(3).messages().size(), 1000u);
  Term last_from_1 = 0, last_from_2 = 0;
  for (const pb::Message& m : cluster.c(3).messages()) {
    Term& last = m.from() == 1 ? last_from_1 : last_from_2;
    EXPECT_EQ(m.term(), last + 1);
    last = m.term();
    EXPECT_EQ(m.cluster_id(), 1u);
  }
  for (std::thread::id id : cluster.c(2).threads()) EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_EQ(cluster.t(1).stats().messages_sent, 1000u);
  EXPECT_EQ(cluster.network->stats().messages_sent, 1500u);
}

TEST(InProcessTransport, UnknownPeersAndFullQueuesDrop) {
  InProcessNetworkOptions options;
  options.max_queued_messages = 10;
  Cluster cluster(2, options);
  cluster.t(1).send({heartbeat(1, 7, 1)});
  EXPECT_EQ(cluster.t(1).stats().messages_dropped, 1u);
  // A receiver that is slow to return lets the queue fill.
  std::vector<pb::Message> flood;
  for (Term t = 1; t <= 1000; ++t) flood.push_back(heartbeat(1, 2, t));
  cluster.t(1).send(std::move(flood));
  cluster.network->wait_idle();
  EXPECT_EQ(cluster.c(2).messages().size(), 10u);
  EXPECT_EQ(cluster.t(1).stats().messages_dropped, 991u);
}

TEST(InProcessTransport, CutLinksAndIsolation) {
  Cluster cluster(3);
  cluster.network->cut_one_way(1, 2);
  cluster.t(1).send({heartbeat(1, 2, 1), heartbeat(1, 3, 1)});
  cluster.t(2).send({heartbeat(2, 1, 1)});
  cluster.network->wait_idle();
  EXPECT_TRUE(cluster.c(2).messages().empty());
  EXPECT_EQ(cluster.c(3).messages().size(), 1u);
  EXPECT_EQ(cluster.c(1).messages().size(), 1u) << "the other direction still works";

  cluster.network->heal(1, 2);
  cluster.network->isolate(3);
  cluster.t(1).send({heartbeat(1, 2, 2), heartbeat(1, 3, 2)});
  cluster.t(3).send({heartbeat(3, 1, 2)});
  cluster.network->wait_idle();
  EXPECT_EQ(cluster.c(2).messages().size(), 1u);
  EXPECT_EQ(cluster.c(3).messages().size(), 1u);
  EXPECT_EQ(cluster.c(1).messages().size(), 1u);

  cluster.network->heal_all();
  cluster.network->cut(1, 3);
  cluster.t(3).send({heartbeat(3, 1, 3), heartbeat(3, 2, 3)});
  cluster.network->wait_idle();
  EXPECT_EQ(cluster.c(1).messages().size(), 1u);
  EXPECT_EQ(cluster.c(2).messages().size(), 2u);
}

TEST(InProcessTransport, DropFilter) {
  Cluster cluster(2);
  cluster.network->set_drop_filter([](const pb::Message& m) { return m.term() % 2 == 0; });
  for (Term t = 1; t <= 10; ++t) cluster.t(1).send({heartbeat(1, 2, t)});
  cluster.network->wait_idle();
  ASSERT_EQ(cluster.c(2).messages().size(), 5u);
  for (const pb::Message& m : cluster.c(2).messages()) EXPECT_EQ(m.term() % 2, 1u);
  cluster.network->set_drop_filter(nullptr);
  cluster.t(1).send({heartbeat(1, 2, 12)});
  cluster.network->wait_idle();
  EXPECT_EQ(cluster.c(2).messages().size(), 6u);
}

TEST(InProcessTransport, ForeignClusterIsRejected) {
  auto network = InProcessNetwork::create();
  Collector a, b;
  auto ta = network->create_transport(1, /*cluster_id=*/1);
  auto tb = network->create_transport(2, /*cluster_id=*/2);
  ta->start(&a);
  tb->start(&b);
  ta->set_peer(2, "");
  ta->send({heartbeat(1, 2, 1)});
  network->wait_idle();
  EXPECT_TRUE(b.messages().empty());
  EXPECT_EQ(tb->stats().rejected_requests, 1u);
  EXPECT_EQ(ta->stats().messages_dropped, 1u);
}

TEST(InProcessTransport, SnapshotsAreVerified) {
  InProcessNetworkOptions options;
  options.snapshot_chunk_bytes = 4096;
  Cluster cluster(2, options);
  const std::string data = pattern(100000);
  const pb::SnapshotMetadata good = metadata_for(12, 3, data);
  DoneProbe delivered;
  cluster.t(1).send_snapshot(testing::snapshot_request(1, 2, good),
                             std::make_unique<testing::StringSnapshotReader>(good, data),
                             delivered.callback());
  EXPECT_EQ(delivered.wait(), std::optional<bool>(true));
  ASSERT_EQ(cluster.c(2).snapshots().size(), 1u);
  EXPECT_EQ(cluster.c(2).snapshots()[0].snapshot_request().metadata().index(), 12u);
  EXPECT_EQ(cluster.c(2).store.latest_data(), data);

  pb::SnapshotMetadata bad = metadata_for(13, 3, data);
  bad.set_crc32c(bad.crc32c() ^ 0x10);
  DoneProbe rejected;
  cluster.t(1).send_snapshot(testing::snapshot_request(1, 2, bad),
                             std::make_unique<testing::StringSnapshotReader>(bad, data),
                             rejected.callback());
  EXPECT_EQ(rejected.wait(), std::optional<bool>(false));
  EXPECT_EQ(cluster.c(2).snapshots().size(), 1u);
  EXPECT_EQ(cluster.c(2).store.latest()->index(), 12u);
  EXPECT_EQ(cluster.c(2).store.open_writers, 0);

  cluster.network->cut(1, 2);
  DoneProbe cut;
  cluster.t(1).send_snapshot(testing::snapshot_request(1, 2, good),
                             std::make_unique<testing::StringSnapshotReader>(good, data),
                             cut.callback());
  EXPECT_EQ(cut.wait(), std::optional<bool>(false));
}

TEST(InProcessTransport, StopEndsHandlerCallsAndReportsPendingSnapshots) {
  Cluster cluster(2);
  std::atomic<bool> sending{true};
  std::thread sender([&] {
    for (Term t = 1; sending; ++t) cluster.t(1).send({heartbeat(1, 2, t)});
  });
  ASSERT_TRUE(cluster.c(2).wait_for_messages(100));
  cluster.t(2).stop();
  const std::size_t calls = cluster.c(2).calls();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(cluster.c(2).calls(), calls) << "no handler call after stop()";
  sending = false;
  sender.join();
  cluster.network->wait_idle();  // what was still queued for node 2 is dropped

  // A snapshot from a stopped transport, or to a stopped node, fails.
  const std::string data = pattern(1000);
  const pb::SnapshotMetadata metadata = metadata_for(5, 1, data);
  DoneProbe to_stopped;
  cluster.t(1).send_snapshot(testing::snapshot_request(1, 2, metadata),
                             std::make_unique<testing::StringSnapshotReader>(metadata, data),
                             to_stopped.callback());
  EXPECT_EQ(to_stopped.wait(), std::optional<bool>(false));
  DoneProbe from_stopped;
  cluster.t(2).send_snapshot(testing::snapshot_request(2, 1, metadata),
                             std::make_unique<testing::StringSnapshotReader>(metadata, data),
                             from_stopped.callback());
  EXPECT_EQ(from_stopped.wait(0ms), std::optional<bool>(false));
  EXPECT_THROW(cluster.t(2).start(&cluster.c(2)), std::logic_error);

  // A node id can be attached again by a new transport (a restarted node).
  Collector restarted;
  auto again = cluster.network->create_transport(2);
  again->start(&restarted);
  cluster.t(1).send({heartbeat(1, 2, 1)});
  cluster.network->wait_idle();
  EXPECT_EQ(restarted.messages().size(), 1u);
  again->stop();
}

}  // namespace
}  // namespace raft::transport
