// The core's log (raft_log.h): durable entries in storage, unstable ones in memory,
// and the commit and apply cursors. These tests play the caller's part by hand:
// persist what take_unpersisted() hands out, then report it with stable_to().
#include "src/core/raft_log.h"

#include <gtest/gtest.h>

#include "src/core/memory_storage.h"
#include "tests/core/core_test_util.h"

namespace raft::core {
namespace {

using testing::log_of_terms;
using testing::make_entry;
using testing::make_hard_state;
using testing::terms_of;

google::protobuf::RepeatedPtrField<pb::Entry> repeated(const std::vector<pb::Entry>& entries) {
  google::protobuf::RepeatedPtrField<pb::Entry> out;
  for (const pb::Entry& entry : entries) *out.Add() = entry;
  return out;
}

std::vector<Term> all_terms(const RaftLog& log) {
  std::vector<Term> out;
  for (Index i = log.first_index(); i <= log.last_index(); ++i)
    out.push_back(log.term(i).value_or(99));
  return out;
}

// Entries first..last of term `term`, each with 100 bytes of data.
std::vector<pb::Entry> entries_of_100_bytes(Index first, Index last, Term term) {
  std::vector<pb::Entry> out;
  for (Index i = first; i <= last; ++i) out.push_back(make_entry(i, term, std::string(100, 'd')));
  return out;
}

// Entries 1..3 (term 1) durable in storage and 4..last (term 2) unstable in the log,
// 100 bytes of data each: `entry_bytes` is the encoded size of one.
struct StoredAndUnstable {
  explicit StoredAndUnstable(Index last) : log(stored(storage)) { log.append(entries_of_100_bytes(4, last, 2)); }
  static MemoryLogStorage& stored(MemoryLogStorage& s) {
    s.append(entries_of_100_bytes(1, 3, 1));
    return s;
  }
  MemoryLogStorage storage;
  RaftLog log;
  const std::uint64_t entry_bytes = entries_of_100_bytes(1, 1, 1)[0].ByteSizeLong();
};

// Hands out what is unpersisted, writes it to storage and reports it durable.
void persist(RaftLog& log, MemoryLogStorage& storage) {
  const std::vector<pb::Entry> entries = log.take_unpersisted();
  storage.append(entries);
  if (!entries.empty()) log.stable_to(entries.back().index(), entries.back().term());
}

TEST(RaftLog, TermLookupsAcrossStorageAndUnstable) {
  MemoryLogStorage storage;
  storage.append(log_of_terms({1, 1, 2}));
  RaftLog log(storage);
  log.append(log_of_terms({3, 3}, 4));
  EXPECT_EQ(log.first_index(), 1u);
  EXPECT_EQ(log.last_index(), 5u);
  EXPECT_EQ(log.last_term(), 3u);
  EXPECT_EQ(log.persisted_index(), 3u);
  EXPECT_EQ(log.term(0), Term{0}) << "the empty prefix has term 0";
  EXPECT_EQ(log.term(3), Term{2}) << "storage";
  EXPECT_EQ(log.term(4), Term{3}) << "unstable";
  EXPECT_EQ(log.term(6), std::nullopt) << "beyond the end";
  EXPECT_TRUE(log.match_term(5, 3));
  EXPECT_FALSE(log.match_term(5, 2));
  EXPECT_FALSE(log.match_term(6, 0));

  // After compaction: the snapshot index answers with the snapshot's term.
  pb::SnapshotMetadata snapshot;
  snapshot.set_index(2);
  snapshot.set_term(1);
  storage.compact(snapshot);
  EXPECT_EQ(log.first_index(), 3u);
  EXPECT_EQ(log.term(1), std::nullopt);
  EXPECT_EQ(log.term(2), Term{1});
  EXPECT_EQ(log.term(3), Term{2});
}

// §5.4.1's "more up-to-date": later last term, or same last term and at least as long.
TEST(RaftLog, IsUpToDate) {
  MemoryLogStorage storage;
  storage.append(log_of_terms({1, 2, 2}));
  RaftLog log(storage);
  EXPECT_TRUE(log.is_up_to_date(3, 1));
  EXPECT_TRUE(log.is_up_to_date(2, 3));
  EXPECT_TRUE(log.is_up_to_date(2, 4));
  EXPECT_FALSE(log.is_up_to_date(2, 2));
  EXPECT_FALSE(log.is_up_to_date(1, 10));
}

// §5.3: append after a matching prev entry; skip entries already held; truncate at
// the first conflict, in the unstable part ...
TEST(RaftLog, MaybeAppendTruncatesUnstableConflict) {
  MemoryLogStorage storage;
  storage.append(log_of_terms({1, 1}));
  RaftLog log(storage);
  log.append(log_of_terms({1, 1, 1}, 3));
  EXPECT_EQ(log.maybe_append(3, 2, repeated({make_entry(4, 2)})), std::nullopt)
      << "prev term mismatch";
  EXPECT_EQ(log.maybe_append(6, 1, repeated({make_entry(7, 2)})), std::nullopt) << "prev missing";
  EXPECT_EQ(log.last_index(), 5u);

  // Overlapping, all held: nothing changes, the answer is the last new index.
  EXPECT_EQ(log.maybe_append(1, 1, repeated(log_of_terms({1, 1}, 2))), Index{3});
  EXPECT_EQ(all_terms(log), (std::vector<Term>{1, 1, 1, 1, 1}));

  EXPECT_EQ(
      log.maybe_append(3, 1, repeated({make_entry(4, 2), make_entry(5, 2), make_entry(6, 2)})),
      Index{6});
  EXPECT_EQ(all_terms(log), (std::vector<Term>{1, 1, 1, 2, 2, 2}));
  const std::vector<pb::Entry> handed = log.take_unpersisted();
  ASSERT_EQ(handed.size(), 4u);
  EXPECT_EQ(handed.front().index(), 3u);
}

// ... and below the persisted offset: the durable entries are replaced by unstable
// ones, and the next hand-out starts at the conflict so the caller truncates there.
TEST(RaftLog, MaybeAppendTruncatesBelowPersistedOffset) {
  MemoryLogStorage storage;
  storage.append(log_of_terms({1, 1, 1, 1}));
  RaftLog log(storage);
  ASSERT_EQ(log.persisted_index(), 4u);
  EXPECT_EQ(log.maybe_append(1, 1, repeated({make_entry(2, 3)})), Index{2});
  EXPECT_EQ(log.last_index(), 2u);
  EXPECT_EQ(log.term(2), Term{3});
  EXPECT_EQ(log.term(3), std::nullopt) << "stale storage entries are never read";
  EXPECT_EQ(log.persisted_index(), 1u);
  const std::vector<pb::Entry> handed = log.take_unpersisted();
  ASSERT_EQ(handed.size(), 1u);
  EXPECT_EQ(handed[0].index(), 2u);
  storage.append(handed);
  log.stable_to(2, 3);
  EXPECT_EQ(log.persisted_index(), 2u);
  EXPECT_EQ(all_terms(log), (std::vector<Term>{1, 3}));
}

// The stored commit index is a hint written without its own fsync: after a crash it
// may be ahead of the entries that survived, so it is clamped to the log.
TEST(RaftLog, CommitIsClampedToTheLog) {
  MemoryLogStorage storage;
  storage.append(log_of_terms({1, 1, 1}));
  storage.set_hard_state(make_hard_state(1, kNoNode, 10));
  RaftLog log(storage);
  EXPECT_EQ(log.committed(), 3u) << "a commit hint ahead of the surviving log is clamped";
}

// stable_to ignores a report about entries that have since been replaced: only
// the replacement, once persisted, is durable.
TEST(RaftLog, StableToIgnoresReplacedEntries) {
  MemoryLogStorage storage;
  RaftLog log(storage);
  log.append(log_of_terms({1, 1, 1}));
  const std::vector<pb::Entry> first = log.take_unpersisted();  // 1..3, term 1
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(log.maybe_append(1, 1, repeated({make_entry(2, 2)})), Index{2});  // replaces 2 and 3
  storage.append(first);
  log.stable_to(3, 1);  // the first Ready is durable, but its entry 3 is gone
  EXPECT_EQ(log.persisted_index(), 0u);
  EXPECT_EQ(log.last_index(), 2u);
  const std::vector<pb::Entry> second = log.take_unpersisted();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].term(), 2u);
  log.stable_to(2, 1);  // a report with the old term at the same index
  EXPECT_EQ(log.persisted_index(), 0u);
  storage.append(second);
  log.stable_to(2, 2);
  EXPECT_EQ(log.persisted_index(), 2u);
  EXPECT_FALSE(log.has_unpersisted());
  EXPECT_EQ(all_terms(log), (std::vector<Term>{1, 2}));
}

// Entries are handed out once, even across truncations of what was not handed out.
TEST(RaftLog, TakeUnpersistedHandsOutOnce) {
  MemoryLogStorage storage;
  RaftLog log(storage);
  log.append(log_of_terms({1, 1}));
  EXPECT_TRUE(log.has_unpersisted());
  EXPECT_EQ(log.take_unpersisted().size(), 2u);
  EXPECT_FALSE(log.has_unpersisted());
  EXPECT_TRUE(log.take_unpersisted().empty());
  log.append(log_of_terms({1}, 3));
  const std::vector<pb::Entry> more = log.take_unpersisted();
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].index(), 3u);
}

// Only committed AND durable entries are applied, each once, at most max_bytes at a
// time (at least one).
TEST(RaftLog, TakeCommittedOnlyDurableAndBoundedByBytes) {
  MemoryLogStorage storage;
  RaftLog log(storage);
  std::vector<pb::Entry> entries;
  for (Index i = 1; i <= 6; ++i) entries.push_back(make_entry(i, 1, std::string(100, 'x')));
  entries.push_back(make_entry(7, 1, std::string(1000, 'y')));
  log.append(std::vector<pb::Entry>(entries));
  log.commit_to(7);
  EXPECT_FALSE(log.has_committed_to_apply()) << "nothing durable yet";
  EXPECT_TRUE(log.take_committed(kNoLimit).empty());

  std::vector<pb::Entry> handed = log.take_unpersisted();
  storage.append(std::vector<pb::Entry>(handed.begin(), handed.begin() + 5));  // 1..5 durable
  log.stable_to(5, 1);
  ASSERT_TRUE(log.has_committed_to_apply());
  const std::uint64_t two = entries[0].ByteSizeLong() * 2;
  std::vector<pb::Entry> batch = log.take_committed(two);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].index(), 1u);
  batch = log.take_committed(two);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].index(), 3u);
  batch = log.take_committed(two);
  ASSERT_EQ(batch.size(), 1u) << "stops at the durable end";
  EXPECT_EQ(batch[0].index(), 5u);
  EXPECT_TRUE(log.take_committed(two).empty());
  EXPECT_EQ(log.applying(), 5u);

  storage.append(std::vector<pb::Entry>(handed.begin() + 5, handed.end()));
  log.stable_to(7, 1);
  batch = log.take_committed(two);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].index(), 6u);
  batch = log.take_committed(two);
  ASSERT_EQ(batch.size(), 1u) << "an entry larger than the limit still goes, alone";
  EXPECT_EQ(batch[0].index(), 7u);
  EXPECT_FALSE(log.has_committed_to_apply());

  log.applied_to(7);
  EXPECT_EQ(log.applied(), 7u);
}

// Commit never exceeds what is committed, even when more is durable.
TEST(RaftLog, TakeCommittedStopsAtCommit) {
  MemoryLogStorage storage;
  RaftLog log(storage);
  log.append(log_of_terms({1, 1, 1, 1}));
  persist(log, storage);
  log.commit_to(2);
  EXPECT_EQ(log.take_committed(kNoLimit).size(), 2u);
  log.commit_to(1);  // never backwards
  EXPECT_EQ(log.committed(), 2u);
  EXPECT_TRUE(log.take_committed(kNoLimit).empty());
}

// The follower's conflict hint: the largest index <= `index` whose term is <= `term`.
// On Figure 7's leader log.
TEST(RaftLog, FindConflictByTerm) {
  MemoryLogStorage storage;
  storage.append(log_of_terms({1, 1, 1, 4, 4, 5, 5}));
  RaftLog log(storage);
  log.append(log_of_terms({6, 6, 6}, 8));  // part unstable
  struct Case {
    Index index;
    Term term;
    Index want;
  };
  const Case cases[] = {
      {10, 6, 10}, {10, 7, 10}, {10, 5, 7}, {10, 4, 5}, {10, 3, 3}, {10, 1, 3},
      {10, 0, 0},  {15, 6, 10}, {5, 6, 5},  {5, 2, 3},  {0, 5, 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(log.find_conflict_by_term(c.index, c.term), c.want)
        << "index " << c.index << " term " << c.term;
  }
}

// unstable_tail_fits() agrees with slice() wherever it answers true, without reading
// storage: it answers false for a tail that starts there.
TEST(RaftLog, UnstableTailFitsAgreesWithSlice) {
  StoredAndUnstable split(6);
  const RaftLog& log = split.log;
  const std::uint64_t size = split.entry_bytes;
  EXPECT_TRUE(log.unstable_tail_fits(4, 3 * size));
  EXPECT_FALSE(log.unstable_tail_fits(4, 3 * size - 1));
  EXPECT_TRUE(log.unstable_tail_fits(5, 2 * size));
  EXPECT_TRUE(log.unstable_tail_fits(6, 1)) << "a single entry always fits, as in slice()";
  EXPECT_TRUE(log.unstable_tail_fits(7, 1)) << "nothing pending";
  EXPECT_FALSE(log.unstable_tail_fits(3, kNoLimit)) << "starts in storage";
  for (Index lo = 4; lo <= 7; ++lo) {
    for (std::uint64_t max_bytes : {std::uint64_t{1}, size, 2 * size, 3 * size, kNoLimit}) {
      if (!log.unstable_tail_fits(lo, max_bytes)) continue;
      const std::vector<pb::Entry> slice = *log.slice(lo, log.last_index() + 1, max_bytes);
      EXPECT_TRUE(slice.empty() || slice.back().index() == log.last_index()) << lo << " " << max_bytes;
    }
  }
}

// slice() reads across the storage/unstable boundary and respects max_bytes.
TEST(RaftLog, SliceAcrossBoundary) {
  StoredAndUnstable split(5);
  RaftLog& log = split.log;
  MemoryLogStorage& storage = split.storage;
  const std::uint64_t size = split.entry_bytes;
  auto indexes = [](const std::optional<std::vector<pb::Entry>>& entries) {
    std::vector<Index> out;
    for (const pb::Entry& entry : *entries) out.push_back(entry.index());
    return out;
  };
  EXPECT_EQ(indexes(log.slice(1, 6, kNoLimit)), (std::vector<Index>{1, 2, 3, 4, 5}));
  EXPECT_EQ(indexes(log.slice(1, 6, 2 * size)), (std::vector<Index>{1, 2}));
  EXPECT_EQ(indexes(log.slice(3, 6, 2 * size)), (std::vector<Index>{3, 4}));
  EXPECT_EQ(indexes(log.slice(4, 6, 1)), (std::vector<Index>{4}));
  EXPECT_EQ(indexes(log.slice(2, 3, kNoLimit)), (std::vector<Index>{2}));
  EXPECT_TRUE(log.slice(6, 6, kNoLimit)->empty());

  pb::SnapshotMetadata snapshot;
  snapshot.set_index(2);
  snapshot.set_term(1);
  storage.compact(snapshot);
  EXPECT_EQ(log.slice(1, 6, kNoLimit), std::nullopt) << "compacted away";
  EXPECT_EQ(indexes(log.slice(3, 6, kNoLimit)), (std::vector<Index>{3, 4, 5}));
}

}  // namespace
}  // namespace raft::core
