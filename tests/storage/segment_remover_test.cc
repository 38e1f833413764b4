// How the durable log gets rid of the segments a compaction made obsolete: renamed
// out of the segments' names first, shrunk in synced steps, unlinked, off the
// writer's thread; and what recovery does with what a crash left behind.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/storage/durable_log.h"
#include "src/storage/fault_injection_env.h"
#include "src/storage/segment.h"
#include "src/storage/segment_remover.h"
#include "tests/storage/recording_env.h"
#include "tests/storage/test_util.h"

namespace raft::storage {
namespace {

using testing::RecordingEnv;
using testing::append_write;
using testing::make_entry;
using testing::make_point;

using testing::kWalDir;

class SegmentRemoverTest : public ::testing::Test {
 protected:
  DurableLogOptions options(std::uint64_t removal_step_bytes) {
    DurableLogOptions o;
    o.dir = kWalDir;
    o.env = env_;
    o.max_segment_bytes = 4096;
    o.removal_step_bytes = removal_step_bytes;
    return o;
  }
  // 120 entries of 100 bytes: about four segments of 4 KiB.
  std::shared_ptr<DurableLog> open_filled(std::uint64_t removal_step_bytes) {
    auto log = testing::open_log(options(removal_step_bytes));
    for (Index i = 1; i <= 120; ++i) EXPECT_TRUE(log->write(append_write({make_entry(i, 1, 100)})).ok());
    return log;
  }
  std::vector<std::string> files() { return env_->inner().list(kWalDir).value(); }
  // The closed segments wholly at or below `index`, oldest first.
  std::vector<SegmentName> closed_segments_up_to(Index index) {
    std::vector<SegmentName> out;
    for (const std::string& name : files()) {
      std::optional<SegmentName> parsed = parse_segment_file_name(name);
      if (parsed && !parsed->open && parsed->last_index <= index) out.push_back(*parsed);
    }
    return out;
  }

  std::shared_ptr<RecordingEnv> env_ = std::make_shared<RecordingEnv>();
};

TEST_F(SegmentRemoverTest, AnObsoleteSegmentIsRenamedShrunkInSyncedStepsAndUnlinked) {
  auto log = open_filled(500);
  const std::vector<SegmentName> doomed = closed_segments_up_to(100);
  ASSERT_GE(doomed.size(), 2u);
  const std::uint64_t first_bytes =
      env_->inner().contents(std::string(kWalDir) + "/" + segment_file_name(doomed[0])).size();
  env_->clear();

  log->compact(make_point(100, 1));
  ASSERT_TRUE(log->flush().ok());

  // Everything after the compaction record's sync, for the oldest segment.
  const std::string removing = SegmentRemover::removing_file_name(doomed[0].seq);
  std::vector<std::string> expected = {"rename " + segment_file_name(doomed[0]) + " " + removing, "sync_dir"};
  for (std::uint64_t size = first_bytes; size > 500;) {
    size -= 500;
    expected.push_back("truncate " + removing + " " + std::to_string(size));
    expected.push_back("sync_data " + removing);
  }
  expected.push_back("remove " + removing);
  const std::vector<std::string> calls = env_->calls();
  auto start = std::find(calls.begin(), calls.end(), expected.front());
  ASSERT_NE(start, calls.end()) << "no rename of " << segment_file_name(doomed[0]);
  ASSERT_GE(static_cast<std::size_t>(calls.end() - start), expected.size());
  EXPECT_EQ(std::vector<std::string>(start, start + static_cast<std::ptrdiff_t>(expected.size())), expected);

  // The next one goes the same way, after it: oldest first, one at a time.
  const std::string next = "rename " + segment_file_name(doomed[1]) + " " +
                           SegmentRemover::removing_file_name(doomed[1].seq);
  EXPECT_NE(std::find(start + static_cast<std::ptrdiff_t>(expected.size()), calls.end(), next), calls.end());

  EXPECT_EQ(log->stats().segments_removed, doomed.size());
  for (const std::string& name : files()) {
    EXPECT_FALSE(SegmentRemover::is_removing_file_name(name)) << name;
    std::optional<SegmentName> parsed = parse_segment_file_name(name);
    ASSERT_TRUE(parsed) << name;
    EXPECT_TRUE(parsed->open || parsed->last_index > 100) << name;
  }
  EXPECT_EQ(log->first_index(), 101u);
  EXPECT_EQ(testing::all_entries(*log).size(), 20u);
}

// Step 0, or a file of at most four steps: one unlink under the segment's own name.
TEST_F(SegmentRemoverTest, SmallSegmentsAndStepZeroAreUnlinkedAtOnce) {
  for (const std::uint64_t step : {std::uint64_t{0}, std::uint64_t{2000}}) {
    SCOPED_TRACE("step " + std::to_string(step));
    env_ = std::make_shared<RecordingEnv>();
    auto log = open_filled(step);
    const std::vector<SegmentName> doomed = closed_segments_up_to(100);
    ASSERT_GE(doomed.size(), 1u);
    env_->clear();
    log->compact(make_point(100, 1));
    ASSERT_TRUE(log->flush().ok());
    std::vector<std::string> removes;
    for (const std::string& call : env_->calls()) {
      EXPECT_FALSE(call.starts_with("truncate") || call.starts_with("rename")) << call;
      if (call.starts_with("remove")) removes.push_back(call);
    }
    std::vector<std::string> expected;
    for (const SegmentName& name : doomed) expected.push_back("remove " + segment_file_name(name));
    EXPECT_EQ(removes, expected);
    EXPECT_EQ(log->stats().segments_removed, doomed.size());
  }
}

TEST_F(SegmentRemoverTest, RecoveryRemovesWhatACrashMidRemovalLeft) {
  {
    auto log = open_filled(500);
    log->close();
  }
  // A crash between a rename and the unlink leaves a half-shrunk file under the
  // removing name: never read as a segment, removed at the next open.
  const std::string leftover = SegmentRemover::removing_file_name(0);
  env_->inner().set_contents(std::string(kWalDir) + "/" + leftover, std::string(1500, 'x'));
  auto log = testing::open_log(options(500));
  ASSERT_NE(log, nullptr);
  const std::vector<std::string>& removed = log->recovery().removed_segments;
  EXPECT_NE(std::find(removed.begin(), removed.end(), leftover), removed.end());
  for (const std::string& name : files()) EXPECT_NE(name, leftover);
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 120u);
}

TEST_F(SegmentRemoverTest, ACrashAtAnyStepOfARemovalLosesNothing) {
  // The ops of the whole run: fill, compact, remove.
  std::uint64_t fill_ops = 0;
  std::uint64_t total_ops = 0;
  {
    auto log = open_filled(500);
    fill_ops = env_->inner().mutating_ops();
    log->compact(make_point(100, 1));
    ASSERT_TRUE(log->flush().ok());
    total_ops = env_->inner().mutating_ops();
  }
  ASSERT_GT(total_ops, fill_ops + 8) << "the removal should take several steps";
  for (std::uint64_t crash_at = fill_ops; crash_at <= total_ops; ++crash_at) {
    env_ = std::make_shared<RecordingEnv>();
    {
      auto log = open_filled(500);
      ASSERT_EQ(env_->inner().mutating_ops(), fill_ops);
      env_->inner().freeze_after_ops(crash_at - fill_ops);
      log->compact(make_point(100, 1));
      (void)log->flush();
      env_->inner().crash();
    }
    Result<std::shared_ptr<DurableLog>> reopened = DurableLog::open(options(500));
    ASSERT_TRUE(reopened.ok()) << "crash at op " << crash_at << ": " << reopened.error().message;
    DurableLog& log = *reopened.value();
    EXPECT_TRUE(log.first_index() == 1 || log.first_index() == 101) << "crash at op " << crash_at;
    EXPECT_EQ(log.last_index(), 120u) << "crash at op " << crash_at;
    EXPECT_EQ(testing::all_entries(log).size(), 121 - log.first_index()) << "crash at op " << crash_at;
    for (const std::string& name : files()) {
      EXPECT_FALSE(SegmentRemover::is_removing_file_name(name)) << "crash at op " << crash_at << ": " << name;
    }
  }
}

TEST(SegmentRemoverRealFileSystemTest, ShrinksAndRemovesObsoleteSegmentsOnDisk) {
  testing::TempDir dir;
  DurableLogOptions o;
  o.dir = dir.path() + "/wal";
  o.max_segment_bytes = 64 << 10;
  o.removal_step_bytes = 4 << 10;  // 16 synced steps per full segment
  {
    auto log = testing::open_log(o);
    for (Index i = 1; i <= 300; ++i) ASSERT_TRUE(log->write(append_write({make_entry(i, 1, 500)})).ok());
    log->compact(make_point(250, 1));
    ASSERT_TRUE(log->flush().ok());
    EXPECT_GE(log->stats().segments_removed, 1u);
    for (const auto& file : std::filesystem::directory_iterator(o.dir)) {
      const std::string name = file.path().filename().string();
      EXPECT_FALSE(SegmentRemover::is_removing_file_name(name)) << name;
      std::optional<SegmentName> parsed = parse_segment_file_name(name);
      ASSERT_TRUE(parsed) << name;
      EXPECT_TRUE(parsed->open || parsed->last_index > 250) << name;
    }
  }
  auto log = testing::open_log(o);
  EXPECT_TRUE(log->recovery().removed_segments.empty());
  EXPECT_EQ(log->first_index(), 251u);
  EXPECT_EQ(log->last_index(), 300u);
}

}  // namespace
}  // namespace raft::storage
