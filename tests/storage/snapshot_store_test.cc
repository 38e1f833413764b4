// FileSnapshotStore: streaming write and read, atomic commit, retention, checksums,
// crash safety and I/O errors.
#include <algorithm>

#include <gtest/gtest.h>

#include "src/storage/fault_injection_env.h"
#include "src/storage/snapshot_store.h"
#include "src/util/crc32c.h"
#include "tests/storage/recording_env.h"
#include "tests/storage/test_util.h"

namespace raft::storage {
namespace {

constexpr const char* kSnapshotDir = "/snapshots";

pb::SnapshotMetadata metadata(Index index, Term term) {
  pb::SnapshotMetadata m;
  m.set_index(index);
  m.set_term(term);
  m.mutable_configuration()->add_voters(1);
  m.mutable_configuration()->add_voters(2);
  return m;
}

std::string data_of(std::size_t bytes, char seed) {
  std::string out(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<char>(seed + i % 251);
  return out;
}

std::string read_all(SnapshotReader& reader) {
  std::string out;
  char buf[1000];
  while (std::size_t n = reader.read(buf, sizeof buf)) out.append(buf, n);
  return out;
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  std::shared_ptr<FileSnapshotStore> open(std::size_t retain = 2) {
    FileSnapshotStoreOptions o;
    o.dir = kSnapshotDir;
    o.env = env_;
    o.retain_snapshots = retain;
    Result<std::shared_ptr<FileSnapshotStore>> store = FileSnapshotStore::open(o);
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? store.value() : nullptr;
  }
  pb::SnapshotMetadata put(FileSnapshotStore& store, Index index, const std::string& data) {
    auto writer = store.create(metadata(index, 1));
    for (std::size_t at = 0; at < data.size(); at += 777) {
      writer->write(data.data() + at, std::min<std::size_t>(777, data.size() - at));
    }
    return writer->commit();
  }
  std::vector<std::string> files() { return env_->list(kSnapshotDir).value(); }

  std::shared_ptr<FaultInjectionEnv> env_ = std::make_shared<FaultInjectionEnv>();
};

TEST_F(SnapshotStoreTest, EmptyStoreHasNoLatest) {
  auto store = open();
  EXPECT_FALSE(store->latest());
  EXPECT_EQ(store->open_latest(), nullptr);
}

TEST_F(SnapshotStoreTest, WrittenSnapshotReadsBackWithMetadata) {
  auto store = open();
  const std::string data = data_of(100000, 'a');
  const pb::SnapshotMetadata committed = put(*store, 10, data);
  EXPECT_EQ(committed.size_bytes(), data.size());
  EXPECT_EQ(committed.crc32c(), util::crc32c(data));
  ASSERT_TRUE(store->latest());
  EXPECT_EQ(store->latest()->index(), 10u);
  auto reader = store->open_latest();
  EXPECT_EQ(reader->metadata().configuration().voters_size(), 2);
  EXPECT_EQ(read_all(*reader), data);
}

TEST_F(SnapshotStoreTest, EmptySnapshotIsValid) {
  auto store = open();
  put(*store, 3, "");
  auto reader = store->open_latest();
  EXPECT_EQ(read_all(*reader), "");
}

TEST_F(SnapshotStoreTest, SurvivesReopen) {
  put(*open(), 10, data_of(5000, 'x'));
  auto store = open();
  ASSERT_TRUE(store->latest());
  EXPECT_EQ(read_all(*store->open_latest()), data_of(5000, 'x'));
}

TEST_F(SnapshotStoreTest, CommittedSnapshotSurvivesCrash) {
  put(*open(), 10, data_of(5000, 'x'));
  env_->crash();
  auto store = open();
  ASSERT_TRUE(store->latest());
  EXPECT_EQ(store->latest()->index(), 10u);
}

TEST_F(SnapshotStoreTest, UncommittedSnapshotIsInvisibleAndRemovedAtOpen) {
  auto store = open();
  put(*store, 5, "old");
  auto writer = store->create(metadata(9, 1));
  writer->write("partial", 7);
  EXPECT_EQ(store->latest()->index(), 5u);
  env_->crash();  // the writer "died" mid-snapshot
  auto reopened = open();
  EXPECT_EQ(reopened->latest()->index(), 5u);
  for (const std::string& name : files()) EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
  // The dead process's writer goes only now (destroyed earlier, it would clean up
  // after itself, which a crashed process cannot); its files are not the survivors'.
  writer.reset();
  EXPECT_EQ(reopened->latest()->index(), 5u);
}

TEST_F(SnapshotStoreTest, AbandonedWriterLeavesNothing) {
  auto store = open();
  {
    auto writer = store->create(metadata(9, 1));
    writer->write("abc", 3);
  }
  EXPECT_FALSE(store->latest());
  EXPECT_TRUE(files().empty());
}

TEST_F(SnapshotStoreTest, OldSnapshotsBeyondRetentionAreRemovedAfterCommit) {
  auto store = open(2);
  put(*store, 10, "a");
  put(*store, 20, "b");
  put(*store, 30, "c");
  const auto list = store->list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].metadata.index(), 20u);
  EXPECT_EQ(list[1].metadata.index(), 30u);
  EXPECT_EQ(files().size(), 2u);
}

std::shared_ptr<FileSnapshotStore> open_recorded(std::shared_ptr<testing::RecordingEnv> env, std::uint64_t step) {
  FileSnapshotStoreOptions o;
  o.dir = kSnapshotDir;
  o.env = std::move(env);
  o.retain_snapshots = 1;
  o.removal_step_bytes = step;
  return FileSnapshotStore::open(o).value();
}

TEST_F(SnapshotStoreTest, AnOldSnapshotIsRenamedThenShrunkInSyncedStepsThenUnlinked) {
  auto env = std::make_shared<testing::RecordingEnv>();
  auto store = open_recorded(env, 1000);
  put(*store, 10, data_of(4500, 'a'));
  const std::string old_name = store->list().front().file_name;
  const std::uint64_t old_bytes =
      env->inner().contents(std::string(kSnapshotDir) + "/" + old_name).size();
  env->clear();
  put(*store, 20, data_of(10, 'b'));

  const std::string removing = old_name.substr(0, old_name.size() - 5) + ".snap.removing";
  std::vector<std::string> expected = {"rename " + old_name + " " + removing, "sync_dir"};
  for (std::uint64_t size = old_bytes; size > 1000;) {
    size -= 1000;
    expected.push_back("truncate " + removing + " " + std::to_string(size));
    expected.push_back("sync_data " + removing);
  }
  expected.push_back("remove " + removing);
  expected.push_back("sync_dir");
  const std::vector<std::string> calls = env->calls();
  auto start = std::find(calls.begin(), calls.end(), expected.front());
  ASSERT_NE(start, calls.end()) << "no rename of " << old_name;
  EXPECT_EQ(std::vector<std::string>(start, calls.end()), expected);
  ASSERT_EQ(env->inner().list(kSnapshotDir).value().size(), 1u);
  EXPECT_EQ(store->latest()->index(), 20u);
}

TEST_F(SnapshotStoreTest, ASnapshotBeingReadIsUnlinkedWholeAndReadsToTheEnd) {
  auto env = std::make_shared<testing::RecordingEnv>();
  auto store = open_recorded(env, 1000);
  const std::string data = data_of(4500, 'a');
  put(*store, 10, data);
  auto reader = store->open_latest();  // a follower's snapshot stream, say
  env->clear();
  put(*store, 20, data_of(10, 'b'));  // pushes index 10 out of retention
  for (const std::string& call : env->calls()) EXPECT_FALSE(call.starts_with("truncate")) << call;
  EXPECT_EQ(read_all(*reader), data);  // throws if the data were cut or changed
  EXPECT_EQ(env->inner().list(kSnapshotDir).value().size(), 1u);
}

TEST_F(SnapshotStoreTest, ASnapshotHalfRemovedByACrashIsRemovedAtOpen) {
  auto store = open();
  put(*store, 5, "kept");
  env_->set_contents(std::string(kSnapshotDir) + "/" + snapshot_file_name(3, 1) + ".removing",
                     "half");
  auto reopened = open();
  EXPECT_EQ(reopened->latest()->index(), 5u);
  for (const std::string& name : files()) EXPECT_EQ(name.find(".removing"), std::string::npos) << name;
}

TEST_F(SnapshotStoreTest, ExpectedSizeAndChecksumAreVerified) {
  auto store = open();
  pb::SnapshotMetadata expected = metadata(7, 2);
  expected.set_size_bytes(3);
  expected.set_crc32c(util::crc32c("abd", 3));
  auto writer = store->create(expected);
  writer->write("abc", 3);
  EXPECT_THROW(writer->commit(), std::runtime_error);
  EXPECT_FALSE(store->latest());
  EXPECT_TRUE(files().empty());
}

TEST_F(SnapshotStoreTest, MatchingExpectedChecksumCommits) {
  auto store = open();
  pb::SnapshotMetadata expected = metadata(7, 2);
  expected.set_size_bytes(3);
  expected.set_crc32c(util::crc32c("abc", 3));
  auto writer = store->create(expected);
  writer->write("abc", 3);
  EXPECT_EQ(writer->commit().index(), 7u);
}

TEST_F(SnapshotStoreTest, DamagedDataIsFoundByTheReader) {
  auto store = open();
  put(*store, 10, data_of(3000, 'q'));
  const std::string path = std::string(kSnapshotDir) + "/" + snapshot_file_name(10, 1);
  std::string bytes = env_->contents(path);
  bytes[1234] ^= 4;
  env_->set_contents(path, bytes);
  auto reader = store->open_latest();
  EXPECT_THROW(read_all(*reader), std::runtime_error);
  EXPECT_FALSE(verify_snapshot(*env_, kSnapshotDir, store->list().back()).ok());
}

TEST_F(SnapshotStoreTest, DamagedMetadataStopsOpenNamingTheFile) {
  put(*open(), 10, data_of(300, 'q'));
  const std::string path = std::string(kSnapshotDir) + "/" + snapshot_file_name(10, 1);
  std::string bytes = env_->contents(path);
  for (std::size_t pos = 300; pos < bytes.size(); ++pos) {
    std::string damaged = bytes;
    damaged[pos] ^= 1;
    env_->set_contents(path, damaged);
    FileSnapshotStoreOptions o;
    o.dir = kSnapshotDir;
    o.env = env_;
    Result<std::shared_ptr<FileSnapshotStore>> store = FileSnapshotStore::open(o);
    ASSERT_FALSE(store.ok()) << "flip at " << pos;
    EXPECT_NE(store.error().message.find(path), std::string::npos) << store.error().message;
  }
}

TEST_F(SnapshotStoreTest, FailedSyncLeavesTheOldSnapshot) {
  auto store = open();
  put(*store, 10, "old");
  env_->set_fail_syncs(true);
  auto writer = store->create(metadata(20, 1));
  writer->write("new", 3);
  EXPECT_THROW(writer->commit(), std::runtime_error);
  EXPECT_EQ(store->latest()->index(), 10u);
  env_->set_fail_syncs(false);
  EXPECT_EQ(read_all(*store->open_latest()), "old");
}

TEST_F(SnapshotStoreTest, FullDiskFailsTheWrite) {
  auto store = open();
  env_->set_capacity_bytes(1000);
  auto writer = store->create(metadata(20, 1));
  const std::string data = data_of(5000, 'z');
  EXPECT_THROW(writer->write(data.data(), data.size()), std::runtime_error);
  EXPECT_FALSE(store->latest());
}

TEST_F(SnapshotStoreTest, WorksOnTheRealFileSystem) {
  testing::TempDir dir;
  FileSnapshotStoreOptions o;
  o.dir = dir.path() + "/snap";
  auto store = FileSnapshotStore::open(o).value();
  const std::string data = data_of(1 << 20, 'r');
  auto writer = store->create(metadata(42, 3));
  writer->write(data.data(), data.size());
  writer->commit();
  auto reopened = FileSnapshotStore::open(o).value();
  EXPECT_EQ(read_all(*reopened->open_latest()), data);
}

}  // namespace
}  // namespace raft::storage
