// Reassembling a streamed snapshot: order, restarts, checksum and size verification
// before the node hears of it, refusals, stalled transfers.
#include "src/transport/snapshot_assembler.h"

#include <gtest/gtest.h>

#include "tests/transport/test_support.h"

namespace raft::transport {
namespace {

using Clock = SnapshotAssembler::Clock;
using testing::Collector;
using testing::metadata_for;
using testing::pattern;

struct Fixture {
  explicit Fixture(std::size_t max_in_progress = 4)
      : assembler(SnapshotAssemblerOptions{max_in_progress, std::chrono::milliseconds(1000)},
                  Logger([this](std::string_view line) { log.emplace_back(line); })) {}

  // The chunk of `data` at [offset, offset + n), as the sender builds it.
  pb::Message chunk(NodeId from, const pb::SnapshotMetadata& metadata, const std::string& data,
                    std::size_t offset, std::size_t n) {
    pb::Message m = testing::snapshot_request(from, 9, metadata);
    m.set_cluster_id(1);
    pb::SnapshotRequest& request = *m.mutable_snapshot_request();
    request.set_offset(offset);
    request.set_data(data.substr(offset, n));
    request.set_done(offset + n == data.size());
    return m;
  }

  unsigned send(pb::Message m, Clock::time_point at = Clock::now()) {
    return assembler.accept(std::move(m), collector, at).status;
  }

  std::vector<std::string> log;
  Collector collector;
  SnapshotAssembler assembler;
};

TEST(SnapshotAssembler, InOrderChunksCommitAndReachTheNode) {
  Fixture f;
  const std::string data = pattern(10000);
  const pb::SnapshotMetadata metadata = metadata_for(42, 3, data);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 4000)), 204u);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 4000, 4000)), 204u);
  EXPECT_TRUE(f.collector.snapshots().empty()) << "nothing reaches the node before the last chunk";
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 8000, 2000)), 200u);
  ASSERT_EQ(f.collector.snapshots().size(), 1u);
  const pb::Message received = f.collector.snapshots()[0];
  EXPECT_EQ(received.from(), 1u);
  EXPECT_TRUE(received.snapshot_request().data().empty());
  EXPECT_EQ(received.snapshot_request().metadata().index(), 42u);
  EXPECT_EQ(received.snapshot_request().metadata().crc32c(), metadata.crc32c());
  EXPECT_EQ(f.collector.store.latest_data(), data);
  EXPECT_EQ(f.assembler.in_progress(), 0u);
}

TEST(SnapshotAssembler, WrongChecksumIsRejectedAndNothingKept) {
  Fixture f;
  const std::string data = pattern(5000);
  pb::SnapshotMetadata metadata = metadata_for(7, 1, data);
  metadata.set_crc32c(metadata.crc32c() ^ 1);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 204u);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 3000, 2000)), 400u);
  EXPECT_TRUE(f.collector.snapshots().empty());
  EXPECT_FALSE(f.collector.store.latest().has_value());
  EXPECT_EQ(f.collector.store.open_writers, 0) << "the writer is aborted";
  ASSERT_FALSE(f.log.empty());
  EXPECT_NE(f.log.back().find("checksum"), std::string::npos);
}

TEST(SnapshotAssembler, DamagedChunkIsCaughtByTheChecksum) {
  Fixture f;
  const std::string data = pattern(5000);
  const pb::SnapshotMetadata metadata = metadata_for(7, 1, data);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 204u);
  pb::Message last = f.chunk(1, metadata, data, 3000, 2000);
  (*last.mutable_snapshot_request()->mutable_data())[17] ^= 0x20;  // one flipped bit in flight
  EXPECT_EQ(f.send(std::move(last)), 400u);
  EXPECT_FALSE(f.collector.store.latest().has_value());
}

TEST(SnapshotAssembler, OutOfOrderChunkIsA409AndAbandonsTheTransfer) {
  Fixture f;
  const std::string data = pattern(9000);
  const pb::SnapshotMetadata metadata = metadata_for(5, 1, data);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 3000, 3000)), 409u) << "no transfer started";
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 204u);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 6000, 3000)), 409u) << "a gap";
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 3000, 3000)), 409u) << "the transfer was abandoned";
  EXPECT_EQ(f.collector.store.open_writers, 0);
  // Starting over works.
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 204u);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 3000, 3000)), 204u);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 6000, 3000)), 200u);
  EXPECT_EQ(f.collector.store.latest_data(), data);
}

TEST(SnapshotAssembler, RestartAtOffsetZeroReplacesTheTransfer) {
  Fixture f;
  const std::string old_data = pattern(6000, 1);
  const std::string new_data = pattern(4000, 2);
  const pb::SnapshotMetadata old_metadata = metadata_for(5, 1, old_data);
  const pb::SnapshotMetadata new_metadata = metadata_for(8, 1, new_data);
  EXPECT_EQ(f.send(f.chunk(1, old_metadata, old_data, 0, 3000)), 204u);
  // The same sender starts a newer snapshot: the old one is dropped.
  EXPECT_EQ(f.send(f.chunk(1, new_metadata, new_data, 0, 2000)), 204u);
  EXPECT_EQ(f.assembler.in_progress(), 1u);
  EXPECT_EQ(f.send(f.chunk(1, old_metadata, old_data, 3000, 3000)), 409u);
  EXPECT_EQ(f.send(f.chunk(1, new_metadata, new_data, 2000, 2000)), 200u);
  EXPECT_EQ(f.collector.store.latest_data(), new_data);
}

TEST(SnapshotAssembler, ChangedMetadataMidStreamIsRejected) {
  Fixture f;
  const std::string data = pattern(6000);
  const pb::SnapshotMetadata metadata = metadata_for(5, 1, data);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 204u);
  pb::SnapshotMetadata other = metadata;
  other.set_term(2);
  EXPECT_EQ(f.send(f.chunk(1, other, data, 3000, 3000)), 400u);
}

TEST(SnapshotAssembler, RefusedByTheNodeOrTooManyIs503) {
  Fixture f(/*max_in_progress=*/2);
  const std::string data = pattern(6000);
  const pb::SnapshotMetadata metadata = metadata_for(5, 1, data);
  f.collector.refuse_snapshots = true;
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 503u);
  f.collector.refuse_snapshots = false;
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 204u);
  EXPECT_EQ(f.send(f.chunk(2, metadata, data, 0, 3000)), 204u);
  EXPECT_EQ(f.send(f.chunk(3, metadata, data, 0, 3000)), 503u);
}

TEST(SnapshotAssembler, WriterFailuresAre500) {
  Fixture f;
  const std::string data = pattern(6000);
  const pb::SnapshotMetadata metadata = metadata_for(5, 1, data);
  f.collector.store.fail_writes = true;
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 500u);
  f.collector.store.fail_writes = false;
  f.collector.store.fail_commits = true;
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000)), 204u);
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 3000, 3000)), 500u);
  EXPECT_TRUE(f.collector.snapshots().empty());
  EXPECT_EQ(f.collector.store.open_writers, 0);
}

TEST(SnapshotAssembler, TransfersEndWithTheirConnection) {
  Fixture f;
  const std::string data = pattern(6000);
  const pb::SnapshotMetadata metadata = metadata_for(5, 1, data);
  EXPECT_EQ(
      f.assembler.accept(f.chunk(1, metadata, data, 0, 3000), f.collector, Clock::now(), 7).status,
      204u);
  EXPECT_EQ(
      f.assembler.accept(f.chunk(2, metadata, data, 0, 3000), f.collector, Clock::now(), 8).status,
      204u);
  f.assembler.abandon(7);
  EXPECT_EQ(f.assembler.in_progress(), 1u);
  EXPECT_EQ(f.collector.store.open_writers, 1);
  EXPECT_EQ(f.assembler.accept(f.chunk(2, metadata, data, 3000, 3000), f.collector, Clock::now(), 8)
                .status,
            200u);
}

TEST(SnapshotAssembler, StalledTransfersExpire) {
  Fixture f;
  const std::string data = pattern(6000);
  const pb::SnapshotMetadata metadata = metadata_for(5, 1, data);
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 0, 3000), start), 204u);
  EXPECT_EQ(f.assembler.in_progress(), 1u);
  // Any later chunk, from anyone, sweeps transfers idle for over a second.
  EXPECT_EQ(f.send(f.chunk(1, metadata, data, 3000, 3000), start + std::chrono::seconds(2)), 409u);
  EXPECT_EQ(f.assembler.in_progress(), 0u);
  EXPECT_EQ(f.collector.store.open_writers, 0);
}

}  // namespace
}  // namespace raft::transport
