// The LogStorage conformance suite: the same contract checked against every
// implementation (the in-memory reference and the durable log, on the fault Env and
// on real files). Each implementation is wrapped in a small adapter that offers the
// write side a Ready asks for; `reopen()` closes and recovers the durable ones, so
// every check also runs against recovered state.
#include <gtest/gtest.h>

#include "src/core/memory_storage.h"
#include "src/storage/durable_log.h"
#include "src/storage/fault_injection_env.h"
#include "tests/storage/test_util.h"

namespace raft::storage {
namespace {

using testing::make_entries;
using testing::make_entry;
using testing::make_hard_state;
using testing::make_point;

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual const LogStorage& storage() = 0;
  virtual void append(const std::vector<pb::Entry>& entries) = 0;
  virtual void set_hard_state(const pb::HardState& state) = 0;
  virtual void compact(const pb::SnapshotMetadata& point) = 0;
  virtual void install(const pb::SnapshotMetadata& point) = 0;
  virtual void reopen() = 0;
};

class MemoryAdapter final : public Adapter {
 public:
  const LogStorage& storage() override { return log_; }
  void append(const std::vector<pb::Entry>& entries) override { log_.append(entries); }
  void set_hard_state(const pb::HardState& state) override { log_.set_hard_state(state); }
  void compact(const pb::SnapshotMetadata& point) override { log_.compact(point); }
  void install(const pb::SnapshotMetadata& point) override { log_.install_snapshot(point); }
  void reopen() override {}

 private:
  core::MemoryLogStorage log_;
};

class DurableAdapter : public Adapter {
 public:
  const LogStorage& storage() override { return *log_; }
  void append(const std::vector<pb::Entry>& entries) override {
    ASSERT_TRUE(log_->write(testing::append_write(entries)).ok());
  }
  void set_hard_state(const pb::HardState& state) override {
    LogWrite write;
    write.hard_state = state;
    ASSERT_TRUE(log_->write(write).ok());
  }
  void compact(const pb::SnapshotMetadata& point) override {
    log_->compact(point);
    ASSERT_TRUE(log_->flush().ok());
  }
  void install(const pb::SnapshotMetadata& point) override {
    LogWrite write;
    write.snapshot = point;
    ASSERT_TRUE(log_->write(write).ok());
  }
  void reopen() override {
    log_.reset();
    log_ = testing::open_log(options_);
    ASSERT_TRUE(log_);
  }

 protected:
  void start(DurableLogOptions options) {
    options_ = std::move(options);
    options_.max_segment_bytes = 2048;  // many segments
    options_.max_cache_bytes = 600;     // many disk reads
    log_ = testing::open_log(options_);
  }

 private:
  DurableLogOptions options_;
  std::shared_ptr<DurableLog> log_;
};

class DurableFaultEnvAdapter final : public DurableAdapter {
 public:
  DurableFaultEnvAdapter() {
    DurableLogOptions o;
    o.dir = "/log";
    o.env = std::make_shared<FaultInjectionEnv>();
    start(o);
  }
};

// The temporary directory is a base constructed before (and destroyed after) the log.
struct TempDirHolder {
  testing::TempDir dir;
};

class DurablePosixAdapter final : private TempDirHolder, public DurableAdapter {
 public:
  DurablePosixAdapter() {
    DurableLogOptions o;
    o.dir = dir.path() + "/log";
    start(o);
  }
};

template <typename T>
class LogStorageConformance : public ::testing::Test {
 protected:
  T adapter_;
  const LogStorage& log() { return adapter_.storage(); }

  // Runs `check` now and again after a reopen.
  template <typename F>
  void check_twice(F check) {
    check();
    adapter_.reopen();
    check();
  }
  std::vector<pb::Entry> read(Index lo, Index hi, std::uint64_t max_bytes = testing::kNoLimitBytes) {
    std::vector<pb::Entry> out;
    log().entries(lo, hi, max_bytes, &out);
    return out;
  }
};

using Implementations = ::testing::Types<MemoryAdapter, DurableFaultEnvAdapter, DurablePosixAdapter>;
TYPED_TEST_SUITE(LogStorageConformance, Implementations);

TYPED_TEST(LogStorageConformance, EmptyLog) {
  this->check_twice([&] {
    EXPECT_EQ(this->log().first_index(), 1u);
    EXPECT_EQ(this->log().last_index(), 0u);
    EXPECT_EQ(this->log().term(0), 0u);
    EXPECT_FALSE(this->log().term(1));
    EXPECT_EQ(this->log().hard_state().term(), 0u);
    EXPECT_EQ(this->log().hard_state().vote(), 0u);
    EXPECT_EQ(this->log().snapshot_metadata().index(), 0u);
  });
}

TYPED_TEST(LogStorageConformance, AppendedEntriesReadBackExactly) {
  const auto entries = make_entries(1, 20, 3, 50);
  this->adapter_.append(entries);
  this->check_twice([&] {
    EXPECT_EQ(this->log().last_index(), 20u);
    const auto got = this->read(1, 21);
    ASSERT_EQ(got.size(), 20u);
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].SerializeAsString(), entries[i].SerializeAsString()) << i;
    }
  });
}

TYPED_TEST(LogStorageConformance, TermAnswersInsideTheLogOnly) {
  this->adapter_.append(make_entries(1, 3, 1));
  this->adapter_.append(make_entries(4, 6, 2));
  this->check_twice([&] {
    EXPECT_EQ(this->log().term(0), 0u);
    EXPECT_EQ(this->log().term(3), 1u);
    EXPECT_EQ(this->log().term(4), 2u);
    EXPECT_EQ(this->log().term(6), 2u);
    EXPECT_FALSE(this->log().term(7));
  });
}

TYPED_TEST(LogStorageConformance, EntriesReadsAHalfOpenRange) {
  this->adapter_.append(make_entries(1, 10, 1));
  this->check_twice([&] {
    const auto got = this->read(3, 7);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got.front().index(), 3u);
    EXPECT_EQ(got.back().index(), 6u);
    EXPECT_TRUE(this->read(5, 5).empty());
  });
}

TYPED_TEST(LogStorageConformance, EntriesAppendsToOut) {
  this->adapter_.append(make_entries(1, 4, 1));
  std::vector<pb::Entry> out = {make_entry(99, 9)};
  this->log().entries(1, 3, testing::kNoLimitBytes, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].index(), 99u);
  EXPECT_EQ(out[2].index(), 2u);
}

TYPED_TEST(LogStorageConformance, EntriesByteLimitStopsBeforePassingIt) {
  this->adapter_.append(make_entries(1, 10, 1, 100));
  const std::uint64_t each = make_entry(1, 1, 100).ByteSizeLong();
  this->check_twice([&] {
    EXPECT_EQ(this->read(1, 11, 0).size(), 1u) << "always at least one entry";
    EXPECT_EQ(this->read(1, 11, each).size(), 1u);
    EXPECT_EQ(this->read(1, 11, each * 2 - 1).size(), 1u);
    EXPECT_EQ(this->read(1, 11, each * 2).size(), 2u);
    EXPECT_EQ(this->read(1, 11, each * 10).size(), 10u);
    EXPECT_EQ(this->read(4, 11, each * 3).size(), 3u);
  });
}

TYPED_TEST(LogStorageConformance, AppendAtLastPlusOneExtends) {
  this->adapter_.append(make_entries(1, 5, 1));
  this->adapter_.append(make_entries(6, 8, 1));
  this->check_twice([&] { EXPECT_EQ(this->log().last_index(), 8u); });
}

TYPED_TEST(LogStorageConformance, AppendOverlappingReplacesTheSuffix) {
  this->adapter_.append(make_entries(1, 10, 1));
  this->adapter_.append(make_entries(4, 6, 2, 30));
  this->check_twice([&] {
    EXPECT_EQ(this->log().last_index(), 6u);
    EXPECT_EQ(this->log().term(3), 1u);
    EXPECT_EQ(this->log().term(4), 2u);
    EXPECT_FALSE(this->log().term(7));
    const auto got = this->read(4, 7);
    EXPECT_EQ(got[0].data(), make_entry(4, 2, 30).data());
  });
}

TYPED_TEST(LogStorageConformance, AppendReplacingTheWholeLog) {
  this->adapter_.append(make_entries(1, 5, 1));
  this->adapter_.append(make_entries(1, 2, 7));
  this->check_twice([&] {
    EXPECT_EQ(this->log().last_index(), 2u);
    EXPECT_EQ(this->log().term(1), 7u);
  });
}

TYPED_TEST(LogStorageConformance, RepeatedTruncationsKeepTheNewest) {
  this->adapter_.append(make_entries(1, 30, 1, 80));
  this->adapter_.append(make_entries(20, 25, 2, 80));
  this->adapter_.append(make_entries(10, 12, 3, 80));
  this->adapter_.append(make_entries(13, 40, 3, 80));
  this->check_twice([&] {
    EXPECT_EQ(this->log().last_index(), 40u);
    EXPECT_EQ(this->log().term(9), 1u);
    EXPECT_EQ(this->log().term(10), 3u);
    EXPECT_EQ(this->log().term(22), 3u);
    const auto got = this->read(1, 41);
    ASSERT_EQ(got.size(), 40u);
    for (Index i = 1; i <= 40; ++i) EXPECT_EQ(got[i - 1].index(), i);
  });
}

TYPED_TEST(LogStorageConformance, CompactDropsThePrefix) {
  this->adapter_.append(make_entries(1, 10, 1));
  this->adapter_.append(make_entries(11, 20, 2));
  this->adapter_.compact(make_point(12, 2));
  this->check_twice([&] {
    EXPECT_EQ(this->log().first_index(), 13u);
    EXPECT_EQ(this->log().last_index(), 20u);
    EXPECT_EQ(this->log().term(12), 2u) << "the snapshot index answers with the snapshot term";
    EXPECT_FALSE(this->log().term(11));
    EXPECT_EQ(this->log().snapshot_metadata().index(), 12u);
    EXPECT_EQ(this->log().snapshot_metadata().configuration().voters_size(), 1);
    EXPECT_EQ(this->read(13, 21).size(), 8u);
  });
}

TYPED_TEST(LogStorageConformance, CompactToTheLastIndexLeavesNoEntries) {
  this->adapter_.append(make_entries(1, 10, 1));
  this->adapter_.compact(make_point(10, 1));
  this->check_twice([&] {
    EXPECT_EQ(this->log().first_index(), 11u);
    EXPECT_EQ(this->log().last_index(), 10u);
    EXPECT_EQ(this->log().term(10), 1u);
  });
}

TYPED_TEST(LogStorageConformance, AppendAfterCompaction) {
  this->adapter_.append(make_entries(1, 10, 1));
  this->adapter_.compact(make_point(8, 1));
  this->adapter_.append(make_entries(9, 15, 2));
  this->check_twice([&] {
    EXPECT_EQ(this->log().first_index(), 9u);
    EXPECT_EQ(this->log().last_index(), 15u);
    EXPECT_EQ(this->log().term(9), 2u);
  });
}

TYPED_TEST(LogStorageConformance, RepeatedCompactionsMoveForward) {
  for (Index i = 1; i <= 100; i += 10) this->adapter_.append(make_entries(i, i + 9, 1, 60));
  this->adapter_.compact(make_point(30, 1));
  this->adapter_.compact(make_point(60, 1));
  this->adapter_.compact(make_point(95, 1));
  this->check_twice([&] {
    EXPECT_EQ(this->log().first_index(), 96u);
    EXPECT_EQ(this->log().last_index(), 100u);
    EXPECT_EQ(this->read(96, 101).size(), 5u);
  });
}

TYPED_TEST(LogStorageConformance, InstallSnapshotReplacesEverything) {
  this->adapter_.append(make_entries(1, 10, 1));
  this->adapter_.install(make_point(50, 4));
  this->check_twice([&] {
    EXPECT_EQ(this->log().first_index(), 51u);
    EXPECT_EQ(this->log().last_index(), 50u);
    EXPECT_EQ(this->log().term(50), 4u);
    EXPECT_FALSE(this->log().term(10));
  });
  this->adapter_.append(make_entries(51, 52, 4));
  this->check_twice([&] { EXPECT_EQ(this->log().last_index(), 52u); });
}

TYPED_TEST(LogStorageConformance, HardStateIsKept) {
  this->adapter_.set_hard_state(make_hard_state(5, 3, 0));
  this->adapter_.append(make_entries(1, 4, 5));
  this->adapter_.set_hard_state(make_hard_state(6, 0, 4));
  this->check_twice([&] {
    const pb::HardState state = this->log().hard_state();
    EXPECT_EQ(state.term(), 6u);
    EXPECT_EQ(state.vote(), 0u);
    EXPECT_EQ(state.commit(), 4u);
  });
}

TYPED_TEST(LogStorageConformance, HardStateSurvivesCompactionOfItsSegment) {
  this->adapter_.set_hard_state(make_hard_state(9, 2, 0));
  for (Index i = 1; i <= 100; i += 10) this->adapter_.append(make_entries(i, i + 9, 9, 80));
  this->adapter_.compact(make_point(100, 9));
  this->check_twice([&] {
    EXPECT_EQ(this->log().hard_state().term(), 9u);
    EXPECT_EQ(this->log().hard_state().vote(), 2u);
  });
}

}  // namespace
}  // namespace raft::storage
