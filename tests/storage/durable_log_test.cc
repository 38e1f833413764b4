// DurableLog: writing, reading back, segments, truncation, compaction, recovery and
// I/O failures, mostly on the fault-injecting in-memory Env.
#include <atomic>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "src/storage/durable_log.h"
#include "src/storage/fault_injection_env.h"
#include "src/storage/segment.h"
#include "tests/storage/recording_env.h"
#include "tests/storage/test_util.h"

namespace raft::storage {
namespace {

using testing::all_entries;
using testing::append_write;
using testing::make_entries;
using testing::make_entry;
using testing::make_hard_state;
using testing::make_point;

using testing::kWalDir;

class DurableLogTest : public ::testing::Test {
 protected:
  DurableLogOptions options(std::uint64_t max_segment_bytes = 1 << 20) {
    DurableLogOptions o;
    o.dir = kWalDir;
    o.env = env_;
    o.max_segment_bytes = max_segment_bytes;
    return o;
  }
  std::shared_ptr<DurableLog> open(std::uint64_t max_segment_bytes = 1 << 20) {
    return testing::open_log(options(max_segment_bytes));
  }
  std::vector<std::string> segment_files() {
    std::vector<std::string> out;
    const std::vector<std::string> names = env_->list(kWalDir).value();
    for (const std::string& name : names) {
      if (parse_segment_file_name(name)) out.push_back(name);
    }
    return out;
  }
  std::string open_segment_path() {
    for (const std::string& name : segment_files()) {
      if (parse_segment_file_name(name)->open) return std::string(kWalDir) + "/" + name;
    }
    return "";
  }

  std::shared_ptr<FaultInjectionEnv> env_ = std::make_shared<FaultInjectionEnv>();
};

TEST_F(DurableLogTest, NewLogIsEmpty) {
  auto log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 0u);
  EXPECT_EQ(log->term(0), 0u);
  EXPECT_FALSE(log->term(1));
  EXPECT_EQ(log->hard_state().term(), 0u);
  EXPECT_EQ(segment_files(), std::vector<std::string>{"wal-0000000001.open"});
}

TEST_F(DurableLogTest, AppendIsVisibleAndReportsDurableIndex) {
  auto log = open();
  Result<Index> durable = log->write(append_write(make_entries(1, 3, 1)));
  ASSERT_TRUE(durable.ok());
  EXPECT_EQ(durable.value(), 3u);
  EXPECT_EQ(log->durable_index(), 3u);
  EXPECT_EQ(log->last_index(), 3u);
  EXPECT_EQ(log->term(2), 1u);
  const auto entries = all_entries(*log);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].data(), make_entry(2, 1).data());
}

TEST_F(DurableLogTest, EverythingSurvivesReopen) {
  {
    auto log = open();
    log->write(append_write(make_entries(1, 10, 2)));
    LogWrite hs;
    hs.hard_state = make_hard_state(3, 2, 7);
    ASSERT_TRUE(log->write(hs).ok());
  }
  auto log = open();
  EXPECT_EQ(log->last_index(), 10u);
  EXPECT_EQ(log->hard_state().term(), 3u);
  EXPECT_EQ(log->hard_state().vote(), 2u);
  EXPECT_EQ(log->hard_state().commit(), 7u);
  EXPECT_EQ(all_entries(*log).back().data(), make_entry(10, 2).data());
}

TEST_F(DurableLogTest, SyncedWritesSurviveACrash) {
  {
    auto log = open();
    ASSERT_TRUE(log->write(append_write(make_entries(1, 5, 1))).ok());
    LogWrite vote;
    vote.hard_state = make_hard_state(2, 9, 0);
    ASSERT_TRUE(log->write(vote).ok());
    env_->crash();  // before close: nothing more is synced
  }
  auto log = open();
  EXPECT_EQ(log->last_index(), 5u);
  EXPECT_EQ(log->hard_state().vote(), 9u) << "a vote must never be forgotten";
}

TEST_F(DurableLogTest, UnsyncedWriteMayBeLostButNeverHalfApplied) {
  {
    auto log = open();
    ASSERT_TRUE(log->write(append_write(make_entries(1, 5, 1))).ok());
    LogWrite lazy = append_write(make_entries(6, 8, 1));
    lazy.sync = false;
    ASSERT_TRUE(log->write(lazy).ok());
    env_->crash();
  }
  auto log = open();
  EXPECT_EQ(log->last_index(), 5u);
}

TEST_F(DurableLogTest, AppendOverlappingTruncatesSuffix) {
  auto log = open();
  log->write(append_write(make_entries(1, 10, 1)));
  ASSERT_TRUE(log->write(append_write(make_entries(6, 7, 2))).ok());
  EXPECT_EQ(log->last_index(), 7u);
  EXPECT_EQ(log->term(5), 1u);
  EXPECT_EQ(log->term(6), 2u);
  EXPECT_FALSE(log->term(8));
}

TEST_F(DurableLogTest, TruncationSurvivesReopenAndCrash) {
  {
    auto log = open();
    log->write(append_write(make_entries(1, 10, 1)));
    log->write(append_write(make_entries(4, 5, 3)));
    env_->crash();
  }
  auto log = open();
  EXPECT_EQ(log->last_index(), 5u);
  EXPECT_EQ(log->term(4), 3u);
  EXPECT_EQ(log->term(3), 1u);
}

TEST_F(DurableLogTest, AppendWithGapFailsThatWriteOnly) {
  auto log = open();
  log->write(append_write(make_entries(1, 3, 1)));
  Result<Index> bad = log->write(append_write(make_entries(5, 6, 1)));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(log->status().ok());
  EXPECT_TRUE(log->write(append_write(make_entries(4, 4, 1))).ok());
}

TEST_F(DurableLogTest, NonConsecutiveEntriesAreRefused) {
  auto log = open();
  std::vector<pb::Entry> entries = {make_entry(1, 1), make_entry(3, 1)};
  EXPECT_FALSE(log->write(append_write(entries)).ok());
  EXPECT_EQ(log->last_index(), 0u);
}

TEST_F(DurableLogTest, SegmentsRollAtMaxSegmentBytes) {
  auto log = open(4096);
  for (Index i = 1; i <= 100; ++i) ASSERT_TRUE(log->write(append_write({make_entry(i, 1, 200)})).ok());
  const auto files = segment_files();
  EXPECT_GT(files.size(), 4u);
  int open_count = 0;
  Index expected_first = 1;
  for (const std::string& file : files) {
    const SegmentName name = *parse_segment_file_name(file);
    if (name.open) {
      ++open_count;
      continue;
    }
    EXPECT_EQ(name.first_index, expected_first) << file;
    expected_first = name.last_index + 1;
    EXPECT_LE(env_->contents(std::string(kWalDir) + "/" + file).size(), 4096u) << file;
  }
  EXPECT_EQ(open_count, 1);
  log.reset();
  log = open(4096);
  ASSERT_EQ(log->last_index(), 100u);
  const auto entries = all_entries(*log);
  for (Index i = 1; i <= 100; ++i) EXPECT_EQ(entries[i - 1].data(), make_entry(i, 1, 200).data());
}

TEST_F(DurableLogTest, OversizedBatchGetsItsOwnSegment) {
  auto log = open(1024);
  ASSERT_TRUE(log->write(append_write(make_entries(1, 3, 1, 2000))).ok());
  ASSERT_TRUE(log->write(append_write(make_entries(4, 4, 1, 10))).ok());
  log.reset();
  log = open(1024);
  EXPECT_EQ(log->last_index(), 4u);
}

TEST_F(DurableLogTest, TruncationAcrossClosedSegmentsSurvivesReopen) {
  {
    auto log = open(2048);
    log->write(append_write(make_entries(1, 60, 1, 100)));
    for (Index i = 61; i <= 80; ++i) log->write(append_write({make_entry(i, 1, 100)}));
    ASSERT_GT(segment_files().size(), 2u);
    ASSERT_TRUE(log->write(append_write(make_entries(10, 12, 5, 100))).ok());
    EXPECT_EQ(log->last_index(), 12u);
  }
  auto log = open(2048);
  EXPECT_EQ(log->last_index(), 12u);
  EXPECT_EQ(log->term(9), 1u);
  EXPECT_EQ(log->term(10), 5u);
  const auto entries = all_entries(*log);
  EXPECT_EQ(entries.size(), 12u);
}

TEST_F(DurableLogTest, CompactDropsPrefixAndRemovesOldSegments) {
  auto log = open(2048);
  for (Index i = 1; i <= 100; ++i) log->write(append_write({make_entry(i, 1, 100)}));
  const std::size_t before = segment_files().size();
  log->compact(make_point(90, 1));
  ASSERT_TRUE(log->flush().ok());
  EXPECT_EQ(log->first_index(), 91u);
  EXPECT_EQ(log->snapshot_metadata().index(), 90u);
  EXPECT_EQ(log->term(90), 1u);
  EXPECT_FALSE(log->term(89));
  EXPECT_LT(segment_files().size(), before);
  log.reset();
  log = open(2048);
  EXPECT_EQ(log->first_index(), 91u);
  EXPECT_EQ(log->last_index(), 100u);
  EXPECT_EQ(all_entries(*log).front().index(), 91u);
}

TEST_F(DurableLogTest, CompactionCrashBeforeSegmentRemovalRecovers) {
  {
    auto log = open(2048);
    for (Index i = 1; i <= 100; ++i) log->write(append_write({make_entry(i, 1, 100)}));
    env_->set_fail_syncs(false);
    log->compact(make_point(90, 1));
    ASSERT_TRUE(log->flush().ok());
  }
  // Removals are durable only after sync_dir; crash and reopen still works whatever
  // the directory says.
  env_->crash();
  auto log = open(2048);
  EXPECT_EQ(log->first_index(), 91u);
  EXPECT_EQ(log->last_index(), 100u);
}

TEST_F(DurableLogTest, CompactionWithWrongTermIsRefused) {
  auto log = open();
  log->write(append_write(make_entries(1, 10, 2)));
  log->compact(make_point(5, 1));
  ASSERT_TRUE(log->flush().ok());
  EXPECT_EQ(log->first_index(), 1u);
}

TEST_F(DurableLogTest, CompactionOutsideTheLogIsIgnored) {
  auto log = open();
  log->write(append_write(make_entries(1, 10, 1)));
  log->compact(make_point(11, 1));
  log->compact(make_point(0, 0));
  ASSERT_TRUE(log->flush().ok());
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 10u);
}

TEST_F(DurableLogTest, InstallSnapshotReplacesTheLog) {
  {
    auto log = open(2048);
    for (Index i = 1; i <= 50; ++i) log->write(append_write({make_entry(i, 1, 100)}));
    LogWrite install;
    install.snapshot = make_point(30, 4);
    install.entries = make_entries(31, 32, 4);
    ASSERT_TRUE(log->write(install).ok());
    EXPECT_EQ(log->first_index(), 31u);
    EXPECT_EQ(log->last_index(), 32u);
    EXPECT_EQ(log->term(30), 4u);
  }
  EXPECT_EQ(segment_files().size(), 1u) << "segments before the install are obsolete";
  auto log = open(2048);
  EXPECT_EQ(log->first_index(), 31u);
  EXPECT_EQ(log->last_index(), 32u);
  EXPECT_EQ(log->snapshot_metadata().configuration().voters_size(), 1);
}

TEST_F(DurableLogTest, InstallSnapshotBehindTheLogDropsEverything) {
  auto log = open();
  log->write(append_write(make_entries(1, 20, 1)));
  LogWrite install;
  install.snapshot = make_point(10, 3);
  ASSERT_TRUE(log->write(install).ok());
  EXPECT_EQ(log->last_index(), 10u);
  EXPECT_FALSE(log->term(11));
  log.reset();
  log = open();
  EXPECT_EQ(log->last_index(), 10u);
  EXPECT_EQ(log->term(10), 3u);
}

TEST_F(DurableLogTest, BootstrapConfigurationAtIndexZero) {
  {
    auto log = open();
    LogWrite bootstrap;
    bootstrap.snapshot = make_point(0, 0);
    ASSERT_TRUE(log->write(bootstrap).ok());
  }
  auto log = open();
  EXPECT_EQ(log->snapshot_metadata().configuration().voters_size(), 1);
  EXPECT_EQ(log->last_index(), 0u);
}

TEST_F(DurableLogTest, EntriesRespectByteLimitButReturnAtLeastOne) {
  auto log = open();
  log->write(append_write(make_entries(1, 10, 1, 100)));
  const std::uint64_t one = make_entry(1, 1, 100).ByteSizeLong();
  std::vector<pb::Entry> out;
  log->entries(1, 11, 0, &out);
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  log->entries(1, 11, one * 3, &out);
  EXPECT_EQ(out.size(), 3u);
  out.clear();
  log->entries(1, 11, one * 3 + 1, &out);
  EXPECT_EQ(out.size(), 3u);
}

TEST_F(DurableLogTest, ReadsBeyondTheCacheComeFromDisk) {
  DurableLogOptions o = options();
  o.max_cache_bytes = 500;
  auto log = testing::open_log(o);
  log->write(append_write(make_entries(1, 50, 1, 100)));
  const auto entries = all_entries(*log);
  ASSERT_EQ(entries.size(), 50u);
  for (Index i = 1; i <= 50; ++i) EXPECT_EQ(entries[i - 1].data(), make_entry(i, 1, 100).data());
  EXPECT_GT(log->stats().disk_reads, 40u);
}

TEST_F(DurableLogTest, DiskReadOfDamagedEntryThrowsNamingTheFile) {
  DurableLogOptions o = options();
  o.max_cache_bytes = 0;
  auto log = testing::open_log(o);
  log->write(append_write(make_entries(1, 5, 1, 100)));
  const std::string path = open_segment_path();
  std::string bytes = env_->contents(path);
  bytes[bytes.find(make_entry(3, 1, 100).data())] ^= 1;
  env_->set_contents(path, bytes);
  std::vector<pb::Entry> out;
  try {
    log->entries(3, 4, testing::kNoLimitBytes, &out);
    FAIL() << "expected StorageError";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("wal-0000000001.open"), std::string::npos) << e.what();
  }
}

TEST_F(DurableLogTest, GroupCommitSharesSyncs) {
  auto log = open(64 << 20);
  const std::uint64_t syncs_before = env_->sync_count();
  constexpr int kWriters = 32;
  constexpr int kPerWriter = 50;
  std::mutex order;  // indexes must be submitted in order
  Index next = 1;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerWriter; ++i) {
        std::promise<Result<Index>> done;
        {
          std::lock_guard lock(order);
          log->write_async(append_write({make_entry(next, 1)}), [&done](const Result<Index>& r) { done.set_value(r); });
          ++next;
        }
        if (!done.get_future().get().ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log->last_index(), static_cast<Index>(kWriters * kPerWriter));
  const std::uint64_t syncs = env_->sync_count() - syncs_before;
  EXPECT_LT(syncs, static_cast<std::uint64_t>(kWriters * kPerWriter));
  EXPECT_EQ(log->stats().writes, static_cast<std::uint64_t>(kWriters * kPerWriter));
}

TEST_F(DurableLogTest, EverySegmentSyncIsTimedInTheSyncHistogram) {
  auto log = open();
  EXPECT_EQ(log->sync_latency().count, 0u);
  for (Index i = 1; i <= 10; ++i) ASSERT_TRUE(log->write(append_write({make_entry(i, 1)})).ok());
  const LatencySnapshot synced = log->sync_latency();
  EXPECT_GE(synced.count, 10u);
  EXPECT_EQ(synced.count, log->stats().syncs);
  EXPECT_GE(synced.sum_seconds, 0.0);
  EXPECT_GT(synced.quantile_ms(0.5), 0.0);

  env_->set_fail_syncs(true);
  ASSERT_FALSE(log->write(append_write({make_entry(11, 1)})).ok());
  EXPECT_EQ(log->sync_latency().count, synced.count) << "a failed sync is an error, not a latency";
}

TEST_F(DurableLogTest, CallbacksRunInSubmissionOrder) {
  auto log = open();
  std::vector<Index> seen;
  std::mutex mu;
  for (Index i = 1; i <= 200; ++i) {
    log->write_async(append_write({make_entry(i, 1)}), [&, i](const Result<Index>& r) {
      ASSERT_TRUE(r.ok());
      EXPECT_GE(r.value(), i);
      std::lock_guard lock(mu);
      seen.push_back(i);
    });
  }
  ASSERT_TRUE(log->flush().ok());
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 200u);
  for (Index i = 1; i <= 200; ++i) EXPECT_EQ(seen[i - 1], i);
}

TEST_F(DurableLogTest, FailedSyncIsStickyAndNeverAcknowledged) {
  auto log = open();
  ASSERT_TRUE(log->write(append_write(make_entries(1, 3, 1))).ok());
  env_->set_fail_syncs(true);
  Result<Index> failed = log->write(append_write(make_entries(4, 4, 1)));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kStorage);
  EXPECT_NE(failed.error().message.find("EIO"), std::string::npos) << failed.error().message;
  EXPECT_EQ(log->last_index(), 3u) << "an unsynced write is never made visible";
  env_->set_fail_syncs(false);  // the disk "recovers": the log must not
  Result<Index> after = log->write(append_write(make_entries(4, 4, 1)));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().message, failed.error().message);
  EXPECT_FALSE(log->status().ok());
  EXPECT_EQ(log->durable_index(), 3u);
}

TEST_F(DurableLogTest, FailedWriteIsSticky) {
  auto log = open();
  env_->set_fail_writes(true);
  Result<Index> failed = log->write(append_write(make_entries(1, 1, 1)));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("EIO"), std::string::npos);
  env_->set_fail_writes(false);
  EXPECT_FALSE(log->write(append_write(make_entries(1, 1, 1))).ok());
  EXPECT_FALSE(log->flush().ok());
}

TEST_F(DurableLogTest, FullDiskFailsWhenTheNextSegmentCannotBeAllocated) {
  auto log = open(4096);
  env_->set_capacity_bytes(3 * 4096);
  Result<Index> result = Index{0};
  Index i = 1;
  for (; i < 1000; ++i) {
    result = log->write(append_write({make_entry(i, 1, 300)}));
    if (!result.ok()) break;
  }
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("ENOSPC"), std::string::npos) << result.error().message;
  EXPECT_EQ(log->last_index(), i - 1);
  // After the failure, everything acknowledged is still there on reopen.
  log.reset();
  env_->set_capacity_bytes(0);
  log = open(4096);
  EXPECT_EQ(log->last_index(), i - 1);
}

TEST_F(DurableLogTest, CloseFailsLaterWrites) {
  auto log = open();
  log->close();
  Result<Index> r = log->write(append_write(make_entries(1, 1, 1)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kShuttingDown);
}

TEST_F(DurableLogTest, LogStoreSubmitReportsStatus) {
  auto log = open();
  std::promise<Status> done;
  LogStore& store = *log;
  store.submit(append_write(make_entries(1, 2, 1)), [&](const Status& s) { done.set_value(s); });
  EXPECT_TRUE(done.get_future().get().ok());
  EXPECT_EQ(store.last_index(), 2u);
}

// try_write_here(): the write runs on the caller's thread when the log is idle.
struct WrittenHere {
  std::optional<Status> status;
  std::thread::id thread;
  std::function<void(const Status&)> callback() {
    return [this](const Status& s) {
      status = s;
      thread = std::this_thread::get_id();
    };
  }
};

// try_write_here() until the log takes the write: a write() or flush() returns once
// its callback ran, which may be a moment before the writer thread lets go.
bool write_here_once_idle(DurableLog& log, LogWrite& write, std::function<void(const Status&)>& done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!log.try_write_here(write, done)) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_F(DurableLogTest, WriteHereRunsOnTheCallersThreadAndIsDurable) {
  auto log = open();
  const std::uint64_t syncs_before = env_->sync_count();
  LogWrite write = append_write(make_entries(1, 3, 2));
  write.hard_state = make_hard_state(2, 1, 0);
  WrittenHere here;
  std::function<void(const Status&)> done = here.callback();
  ASSERT_TRUE(log->try_write_here(write, done));
  ASSERT_TRUE(here.status.has_value()) << "done is called before try_write_here returns";
  EXPECT_TRUE(here.status->ok());
  EXPECT_EQ(here.thread, std::this_thread::get_id());
  EXPECT_EQ(log->last_index(), 3u);
  EXPECT_EQ(log->durable_index(), 3u);
  EXPECT_EQ(log->hard_state().term(), 2u);
  EXPECT_EQ(env_->sync_count(), syncs_before + 1);
  EXPECT_EQ(log->stats().writes, 1u);
  // A later queued write goes after it, and both survive a crash.
  ASSERT_TRUE(log->write(append_write(make_entries(4, 5, 2))).ok());
  log.reset();
  env_->crash();
  log = open();
  EXPECT_EQ(log->last_index(), 5u);
  EXPECT_EQ(log->hard_state().term(), 2u);
}

TEST_F(DurableLogTest, WriteHereDeclinesWhileAnotherWriteIsPending) {
  auto log = open();
  env_->set_sync_delay(std::chrono::milliseconds(200));
  std::promise<Result<Index>> first;
  log->write_async(append_write(make_entries(1, 1, 1)), [&](const Result<Index>& r) { first.set_value(r); });
  // Queued or being written: either way the caller must not overtake it.
  LogWrite write = append_write(make_entries(2, 3, 1));
  WrittenHere here;
  std::function<void(const Status&)> done = here.callback();
  EXPECT_FALSE(log->try_write_here(write, done));
  EXPECT_FALSE(here.status.has_value());
  ASSERT_EQ(write.entries.size(), 2u) << "a declined write is left to the caller";
  ASSERT_TRUE(done) << "a declined callback is left to the caller";
  env_->set_sync_delay(std::chrono::microseconds(0));
  std::promise<Status> second;
  log->submit(std::move(write), [&](const Status& s) {
    done(s);
    second.set_value(s);
  });
  EXPECT_TRUE(first.get_future().get().ok());
  EXPECT_TRUE(second.get_future().get().ok());
  EXPECT_EQ(log->last_index(), 3u);
  ASSERT_TRUE(here.status.has_value());
  EXPECT_NE(here.thread, std::this_thread::get_id()) << "the declined write went through the writer";
}

TEST_F(DurableLogTest, WriteHereDeclinesAfterASlowSyncUntilOneIsFastAgain) {
  DurableLogOptions o = options();
  o.caller_write_max_sync = std::chrono::milliseconds(100);
  auto log = testing::open_log(o);
  env_->set_sync_delay(std::chrono::milliseconds(250));
  ASSERT_TRUE(log->write(append_write(make_entries(1, 1, 1))).ok());
  LogWrite write = append_write(make_entries(2, 2, 1));
  std::function<void(const Status&)> done = [](const Status&) {};
  EXPECT_FALSE(log->try_write_here(write, done)) << "the disk just stalled: keep the caller's thread free";
  env_->set_sync_delay(std::chrono::microseconds(0));
  ASSERT_TRUE(log->write(std::move(write)).ok());  // a fast sync, on the writer thread
  LogWrite next = append_write(make_entries(3, 3, 1));
  EXPECT_TRUE(write_here_once_idle(*log, next, done));
  EXPECT_EQ(log->last_index(), 3u);

  o.caller_write_max_sync = std::chrono::microseconds(0);
  log.reset();
  log = testing::open_log(o);
  LogWrite disabled = append_write(make_entries(4, 4, 1));
  EXPECT_FALSE(log->try_write_here(disabled, done)) << "zero turns writing on the caller's thread off";
}

TEST_F(DurableLogTest, WriteHereReportsFailuresAndDeclinesOnceClosed) {
  auto log = open();
  env_->set_fail_syncs(true);
  LogWrite write = append_write(make_entries(1, 1, 1));
  WrittenHere here;
  std::function<void(const Status&)> done = here.callback();
  ASSERT_TRUE(log->try_write_here(write, done));
  ASSERT_TRUE(here.status.has_value());
  EXPECT_FALSE(here.status->ok());
  EXPECT_EQ(log->last_index(), 0u) << "an unsynced write is never made visible";
  EXPECT_FALSE(log->status().ok()) << "the failure is sticky, as on the writer thread";
  log->close();
  LogWrite late = append_write(make_entries(1, 1, 1));
  EXPECT_FALSE(log->try_write_here(late, done));
}

// One submitter (as a node's loop is) mixes writes here with queued writes it does
// not wait for, while a reader reads: every write lands once, in submission order,
// and the callbacks keep that order across the caller, writer and completion threads.
TEST_F(DurableLogTest, WritesHereAndQueuedWritesKeepSubmissionOrder) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  DurableLogOptions o = options(64 << 20);
  o.caller_write_max_sync = std::chrono::minutes(1);  // a preempted sync must not turn it off
  auto log = testing::open_log(o);
  constexpr Index kWrites = 600;
  std::mutex mu;
  std::vector<Index> completed;  // under mu
  int failures = 0;              // under mu
  int written_here = 0;
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    while (reading) {
      const Index last = log->last_index();
      if (last > 0) {
        std::vector<pb::Entry> out;
        log->entries(last, last + 1, ~std::uint64_t{0}, &out);
        EXPECT_EQ(out.size(), 1u);
      }
    }
  });
  for (Index index = 1; index <= kWrites; ++index) {
    std::function<void(const Status&)> done = [&, index](const Status& s) {
      std::lock_guard lock(mu);
      if (!s.ok()) ++failures;
      completed.push_back(index);
    };
    LogWrite write = append_write({make_entry(index, 1)});
    if (index % 50 == 0) {
      // Once the queue has drained, the log is idle and takes the write here.
      ASSERT_TRUE(log->flush().ok());
      ASSERT_TRUE(write_here_once_idle(*log, write, done)) << "an idle log declined write " << index;
      ++written_here;
    } else if (rng() % 2 == 0 && log->try_write_here(write, done)) {
      ++written_here;
    } else {
      log->submit(std::move(write), std::move(done));
    }
  }
  ASSERT_TRUE(log->flush().ok());
  reading = false;
  reader.join();
  EXPECT_GE(written_here, static_cast<int>(kWrites / 50));
  EXPECT_LT(written_here, static_cast<int>(kWrites));
  std::lock_guard lock(mu);
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(completed.size(), kWrites);
  for (std::size_t i = 0; i < completed.size(); ++i) ASSERT_EQ(completed[i], i + 1) << "at position " << i;
  EXPECT_EQ(log->last_index(), kWrites);
  EXPECT_EQ(all_entries(*log).size(), kWrites);
}

TEST_F(DurableLogTest, MissingMiddleSegmentStopsRecoveryNamingIt) {
  {
    auto log = open(2048);
    for (Index i = 1; i <= 60; ++i) log->write(append_write({make_entry(i, 1, 100)}));
  }
  const auto files = segment_files();
  ASSERT_GE(files.size(), 3u);
  ASSERT_TRUE(env_->remove(std::string(kWalDir) + "/" + files[1]).ok());
  Result<std::shared_ptr<DurableLog>> log = DurableLog::open(options(2048));
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("segment 2 is missing"), std::string::npos) << log.error().message;
}

TEST_F(DurableLogTest, MissingFirstSegmentStopsRecovery) {
  {
    auto log = open(2048);
    for (Index i = 1; i <= 60; ++i) log->write(append_write({make_entry(i, 1, 100)}));
  }
  const auto files = segment_files();
  ASSERT_TRUE(env_->remove(std::string(kWalDir) + "/" + files[0]).ok());
  Result<std::shared_ptr<DurableLog>> log = DurableLog::open(options(2048));
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("missing"), std::string::npos) << log.error().message;
  EXPECT_NE(log.error().message.find(files[1]), std::string::npos) << log.error().message;
}

TEST_F(DurableLogTest, RenamedSegmentRangeIsCaught) {
  {
    auto log = open(2048);
    for (Index i = 1; i <= 60; ++i) log->write(append_write({make_entry(i, 1, 100)}));
  }
  const auto files = segment_files();
  SegmentName name = *parse_segment_file_name(files[0]);
  name.last_index += 1;
  ASSERT_TRUE(env_->rename(std::string(kWalDir) + "/" + files[0],
                           std::string(kWalDir) + "/" + segment_file_name(name))
                  .ok());
  Result<std::shared_ptr<DurableLog>> log = DurableLog::open(options(2048));
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("the name says"), std::string::npos) << log.error().message;
}

TEST_F(DurableLogTest, CrashBetweenCloseAndNextSegmentRecovers) {
  {
    auto log = open(2048);
    for (Index i = 1; i <= 30; ++i) log->write(append_write({make_entry(i, 1, 100)}));
  }
  // Do by hand what a roll does before the crash: cut the open segment to its
  // records and rename it closed; the next open segment was never created.
  const std::string open_path = open_segment_path();
  const std::string bytes = env_->contents(open_path);
  const SegmentScan scan = scan_segment(bytes, true);
  SegmentName closed = *parse_segment_file_name(open_path.substr(std::string(kWalDir).size() + 1));
  closed.open = false;
  SegmentHeader header;
  std::string why;
  ASSERT_TRUE(decode_segment_header(scan.records[0].payload, &header, &why));
  closed.first_index = header.prev_last_index + 1;
  closed.last_index = 30;
  if (scan.records.size() > 1) {
    pb::Entry first;
    ASSERT_TRUE(decode_entry(scan.records[1].payload, &first));
    closed.first_index = first.index();
  }
  env_->set_contents(open_path, bytes.substr(0, scan.valid_bytes));
  ASSERT_TRUE(env_->rename(open_path, std::string(kWalDir) + "/" + segment_file_name(closed)).ok());
  auto log = open(2048);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->last_index(), 30u);
  ASSERT_TRUE(log->write(append_write({make_entry(31, 1)})).ok());
  log.reset();
  log = open(2048);
  EXPECT_EQ(log->last_index(), 31u);
}

// Zeros written ahead of the appends (DurableLogOptions::zero_ahead_bytes), read off
// a RecordingEnv's "write"/"zeros" lines, per segment file.
struct ZeroAheadTrace {
  struct File {
    std::uint64_t records_end = 0;  // end of the furthest record write
    std::uint64_t zeroed_end = 0;   // end of the furthest zeros write
  };
  std::map<std::string, File> files;
  int zero_writes = 0;
  int records_over_zeros = 0;    // record writes that ended inside zeroed space
  int records_past_zeros = 0;    // ... that did not (after the file's first zeros)
  std::vector<std::string> problems;

  explicit ZeroAheadTrace(const std::vector<std::string>& calls, std::uint64_t zero_ahead_bytes,
                          std::uint64_t max_segment_bytes) {
    for (const std::string& call : calls) {
      std::istringstream in(call);
      std::string kind, name;
      std::uint64_t offset = 0, length = 0;
      in >> kind >> name >> offset >> length;
      if (kind != "write" && kind != "zeros") continue;
      File& f = files[name];
      if (kind == "zeros") {
        ++zero_writes;
        if (offset < f.records_end) problems.push_back(call + ": over a record ending at " + std::to_string(f.records_end));
        const std::uint64_t want_end = std::min(f.records_end + zero_ahead_bytes, max_segment_bytes);
        if (offset + length != want_end) problems.push_back(call + ": does not end at " + std::to_string(want_end));
        f.zeroed_end = offset + length;
      } else {
        if (f.zeroed_end > 0) ++(offset + length <= f.zeroed_end ? records_over_zeros : records_past_zeros);
        f.records_end = std::max(f.records_end, offset + length);
      }
    }
  }
};

DurableLogOptions zero_ahead_options(std::shared_ptr<Env> env, std::uint64_t zero_ahead_bytes) {
  DurableLogOptions o;
  o.dir = kWalDir;
  o.env = std::move(env);
  o.max_segment_bytes = 256 << 10;
  o.zero_ahead_bytes = zero_ahead_bytes;
  return o;
}

TEST(DurableLogZeroAheadTest, SmallBatchesLandOnZerosWrittenPastTheRecords) {
  auto env = std::make_shared<testing::RecordingEnv>();
  const DurableLogOptions o = zero_ahead_options(env, 64 << 10);
  {
    auto log = testing::open_log(o);
    env->record_writes(true);
    // 600 KB of 1 KB batches: three segments.
    for (Index i = 1; i <= 600; ++i) ASSERT_TRUE(log->write(append_write({make_entry(i, 1, 1000)})).ok());
  }
  const ZeroAheadTrace trace(env->calls(), o.zero_ahead_bytes, o.max_segment_bytes);
  for (const std::string& problem : trace.problems) ADD_FAILURE() << problem;
  EXPECT_GE(trace.files.size(), 3u);
  // A refill once half the run is used: a zeros write per 32 KiB of records, give or
  // take one per segment (none in a segment's last 32 KiB, one for its first batch).
  const int files = static_cast<int>(trace.files.size());
  EXPECT_GE(trace.zero_writes, 600'000 / (32 << 10) - files);
  EXPECT_LE(trace.zero_writes, 600'000 / (32 << 10) + files);
  // The first batch of each segment comes before its first zeros; each later one
  // lands on zeros, except where a segment ends (no zeros past max_segment_bytes).
  EXPECT_LE(trace.records_past_zeros, files);
  EXPECT_GT(trace.records_over_zeros, 500);

  auto log = testing::open_log(o);
  ASSERT_EQ(log->last_index(), 600u);
  const auto entries = all_entries(*log);
  for (Index i = 1; i <= 600; ++i) ASSERT_EQ(entries[i - 1].data(), make_entry(i, 1, 1000).data()) << i;
}

TEST(DurableLogZeroAheadTest, BigBatchesAreNotZeroedAhead) {
  auto env = std::make_shared<testing::RecordingEnv>();
  const DurableLogOptions o = zero_ahead_options(env, 64 << 10);
  auto log = testing::open_log(o);
  env->record_writes(true);
  // 40 KB batches: writing their own blocks costs less than zeroing them first.
  for (Index i = 1; i <= 200; i += 40) ASSERT_TRUE(log->write(append_write(make_entries(i, i + 39, 1, 1000))).ok());
  EXPECT_EQ(ZeroAheadTrace(env->calls(), o.zero_ahead_bytes, o.max_segment_bytes).zero_writes, 0);
  // A small batch after them is zeroed ahead again.
  ASSERT_TRUE(log->write(append_write({make_entry(201, 1, 1000)})).ok());
  const ZeroAheadTrace trace(env->calls(), o.zero_ahead_bytes, o.max_segment_bytes);
  EXPECT_EQ(trace.zero_writes, 1);
  for (const std::string& problem : trace.problems) ADD_FAILURE() << problem;
}

TEST(DurableLogZeroAheadTest, OffWritesNoZeros) {
  auto env = std::make_shared<testing::RecordingEnv>();
  auto log = testing::open_log(zero_ahead_options(env, 0));
  env->record_writes(true);
  for (Index i = 1; i <= 100; ++i) ASSERT_TRUE(log->write(append_write({make_entry(i, 1, 1000)})).ok());
  EXPECT_EQ(ZeroAheadTrace(env->calls(), 0, 256 << 10).zero_writes, 0);
}

TEST_F(DurableLogTest, WorksOnTheRealFileSystem) {
  testing::TempDir dir;
  DurableLogOptions o;
  o.dir = dir.path() + "/wal";
  o.max_segment_bytes = 64 << 10;
  {
    auto log = testing::open_log(o);
    for (Index i = 1; i <= 300; ++i) ASSERT_TRUE(log->write(append_write({make_entry(i, 1, 500)})).ok());
    LogWrite hs;
    hs.hard_state = make_hard_state(4, 1, 200);
    log->write(hs);
    log->compact(make_point(150, 1));
    ASSERT_TRUE(log->flush().ok());
  }
  auto log = testing::open_log(o);
  EXPECT_EQ(log->first_index(), 151u);
  EXPECT_EQ(log->last_index(), 300u);
  EXPECT_EQ(log->hard_state().commit(), 200u);
  const auto entries = all_entries(*log);
  EXPECT_EQ(entries.back().data(), make_entry(300, 1, 500).data());
}

}  // namespace
}  // namespace raft::storage
