// Per-follower flow control (progress.h): the Inflights ring and the Progress state
// machine (probe, replicate, snapshot). The paper's nextIndex and matchIndex (Figure 2,
// "Volatile state on leaders") live here, with the invariant 0 <= match < next.
#include "src/core/progress.h"

#include <gtest/gtest.h>

#include <deque>

#include "src/core/rng.h"

namespace raft::core {
namespace {

TEST(Inflights, AddFreeFull) {
  Inflights inflights(4);
  EXPECT_EQ(inflights.count(), 0u);
  EXPECT_FALSE(inflights.full());
  for (Index i = 1; i <= 4; ++i) inflights.add(i * 10);
  EXPECT_TRUE(inflights.full());
  EXPECT_EQ(inflights.count(), 4u);
  inflights.free_up_to(5);  // below the oldest: nothing
  EXPECT_EQ(inflights.count(), 4u);
  inflights.free_up_to(25);  // frees 10 and 20
  EXPECT_EQ(inflights.count(), 2u);
  EXPECT_FALSE(inflights.full());
  inflights.free_up_to(20);  // already freed: nothing
  EXPECT_EQ(inflights.count(), 2u);
  inflights.free_up_to(1000);
  EXPECT_EQ(inflights.count(), 0u);
  inflights.add(50);
  inflights.clear();
  EXPECT_EQ(inflights.count(), 0u);
}

// The ring wraps around: after freeing from the front, new appends reuse the slots.
TEST(Inflights, WrapAround) {
  Inflights inflights(3);
  inflights.add(1);
  inflights.add(2);
  inflights.add(3);
  inflights.free_up_to(2);
  inflights.add(4);  // wraps to slot 0
  inflights.add(5);  // slot 1
  EXPECT_TRUE(inflights.full());
  inflights.free_up_to(3);
  EXPECT_EQ(inflights.count(), 2u);
  inflights.free_up_to(4);
  EXPECT_EQ(inflights.count(), 1u);
  inflights.add(6);
  inflights.add(7);
  EXPECT_TRUE(inflights.full());
  inflights.free_up_to(6);
  EXPECT_EQ(inflights.count(), 1u);
  inflights.free_up_to(7);
  EXPECT_EQ(inflights.count(), 0u);
}

// Against a reference FIFO, over long random runs that wrap many times and grow the
// ring lazily (capacities chosen so growth happens mid-run, with the window part-full).
TEST(Inflights, MatchesReferenceFifo) {
  for (std::uint32_t capacity : {1u, 2u, 3u, 5u, 8u, 13u, 100u}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(::testing::Message() << "capacity " << capacity << " seed " << seed);
      Rng rng(seed);
      Inflights inflights(capacity);
      std::deque<Index> model;
      Index next = 1;
      for (int step = 0; step < 2000; ++step) {
        if (!inflights.full() && rng.chance(3, 5)) {
          next += rng.below(3);  // last indexes are non-decreasing
          inflights.add(next);
          model.push_back(next);
        } else {
          const Index upto =
              model.empty() ? next : model.front() + rng.below(next - model.front() + 1);
          inflights.free_up_to(upto);
          while (!model.empty() && model.front() <= upto) model.pop_front();
        }
        ASSERT_EQ(inflights.count(), model.size()) << "step " << step;
        ASSERT_EQ(inflights.full(), model.size() == capacity) << "step " << step;
      }
    }
  }
}

// Figure 2: "nextIndex ... initialized to leader last log index + 1; matchIndex ...
// initialized to 0". A new Progress probes.
TEST(Progress, StartsProbingAtNextIndex) {
  Progress progress(11, 4, false);
  EXPECT_EQ(progress.state(), ProgressState::kProbe);
  EXPECT_EQ(progress.next_index(), 11u);
  EXPECT_EQ(progress.match_index(), 0u);
  EXPECT_FALSE(progress.paused());
}

// Probe mode: one append at a time; an answer (or a heartbeat response, in case the
// probe was lost) allows the next.
TEST(Progress, ProbeSendsOneAtATime) {
  Progress progress(11, 4, false);
  progress.on_append_sent(12, true);
  EXPECT_TRUE(progress.paused());
  EXPECT_EQ(progress.next_index(), 11u) << "probe mode does not advance next optimistically";
  progress.on_heartbeat_response(false);
  EXPECT_FALSE(progress.paused());
  progress.on_append_sent(12, true);
  EXPECT_TRUE(progress.on_ack(12));
  EXPECT_EQ(progress.match_index(), 12u);
  EXPECT_EQ(progress.next_index(), 13u);
  EXPECT_FALSE(progress.paused());
}

// "If AppendEntries fails because of log inconsistency: decrement nextIndex and retry"
// (Figure 2), by as much as the hint allows, never below match + 1. Only the answer to
// the outstanding probe counts.
TEST(Progress, ProbeRejection) {
  Progress progress(11, 4, false);
  progress.on_append_sent(10, false);
  EXPECT_FALSE(progress.on_reject(/*rejected=*/7, /*hint_next=*/3))
      << "stale: not the current probe (prev 10)";
  EXPECT_EQ(progress.next_index(), 11u);
  EXPECT_TRUE(progress.paused());
  EXPECT_TRUE(progress.on_reject(10, 4));
  EXPECT_EQ(progress.next_index(), 4u);
  EXPECT_FALSE(progress.paused());
  // A hint past the rejected index cannot move next beyond it.
  progress.on_append_sent(3, false);
  EXPECT_TRUE(progress.on_reject(3, 9));
  EXPECT_EQ(progress.next_index(), 3u);

  // Never below match + 1.
  Progress matched(11, 4, false);
  matched.on_ack(5);
  matched.become_probe();
  EXPECT_EQ(matched.next_index(), 6u);
  matched.on_append_sent(5, false);
  EXPECT_TRUE(matched.on_reject(5, 1));
  EXPECT_EQ(matched.next_index(), 6u);
}

// Replicate mode streams: next advances optimistically and each append takes a slot
// of the window; a full window pauses; acknowledgements free slots.
TEST(Progress, ReplicatePipelinesWithinWindow) {
  Progress progress(11, 3, false);
  progress.on_ack(10);
  progress.become_replicate();
  EXPECT_EQ(progress.state(), ProgressState::kReplicate);
  EXPECT_EQ(progress.next_index(), 11u);
  progress.on_append_sent(12, true);
  progress.on_append_sent(15, true);
  EXPECT_EQ(progress.next_index(), 16u);
  EXPECT_FALSE(progress.paused());
  progress.on_append_sent(15, false);  // an empty append (commit only) takes no slot
  EXPECT_FALSE(progress.paused());
  progress.on_append_sent(20, true);
  EXPECT_TRUE(progress.paused());
  EXPECT_EQ(progress.inflights().count(), 3u);
  EXPECT_FALSE(progress.on_ack(9)) << "stale";
  EXPECT_TRUE(progress.paused());
  EXPECT_TRUE(progress.on_ack(13));
  EXPECT_EQ(progress.match_index(), 13u);
  EXPECT_EQ(progress.next_index(), 21u) << "acks never move next back";
  EXPECT_EQ(progress.inflights().count(), 2u);
  EXPECT_FALSE(progress.paused());
}

// A heartbeat response proves the follower reachable; if every append of a full
// window was lost, nothing would ever be sent again, so it frees one slot.
TEST(Progress, HeartbeatResponseOpensAFullWindow) {
  Progress progress(11, 2, false);
  progress.on_ack(10);
  progress.become_replicate();
  progress.on_append_sent(11, true);
  progress.on_heartbeat_response(false);
  EXPECT_EQ(progress.inflights().count(), 1u) << "a window that is not full is left alone";
  progress.on_append_sent(12, true);
  ASSERT_TRUE(progress.paused());
  progress.on_heartbeat_response(false);
  EXPECT_FALSE(progress.paused());
  EXPECT_EQ(progress.inflights().count(), 1u);
  EXPECT_EQ(progress.next_index(), 13u);
}

// A leader that coalesces appends sends nothing partial while one is in flight, so a
// single lost append would hold everything back: any non-empty window frees a slot.
TEST(Progress, HeartbeatResponseFreesASlotWhenCoalescing) {
  Progress progress(11, 4, false);
  progress.on_ack(10);
  progress.become_replicate();
  progress.on_heartbeat_response(true);
  EXPECT_EQ(progress.inflights().count(), 0u) << "nothing in flight, nothing to free";
  progress.on_append_sent(11, true);
  progress.on_append_sent(12, true);
  progress.on_heartbeat_response(true);
  EXPECT_EQ(progress.inflights().count(), 1u);
  progress.on_heartbeat_response(true);
  EXPECT_EQ(progress.inflights().count(), 0u);
  EXPECT_EQ(progress.next_index(), 13u) << "freeing a slot does not move next back";
}

// A rejection in replicate mode of something past match falls back to probe from the
// hint; one of an index at or below match is a stale reply and changes nothing.
TEST(Progress, ReplicateRejectionFallsBackToProbe) {
  Progress progress(11, 8, false);
  progress.on_ack(10);
  progress.become_replicate();
  progress.on_append_sent(15, true);
  progress.on_append_sent(20, true);
  EXPECT_FALSE(progress.on_reject(/*rejected=*/9, /*hint_next=*/5));
  EXPECT_EQ(progress.state(), ProgressState::kReplicate);
  EXPECT_EQ(progress.next_index(), 21u);
  EXPECT_TRUE(progress.on_reject(15, 13));
  EXPECT_EQ(progress.state(), ProgressState::kProbe);
  EXPECT_EQ(progress.next_index(), 13u);
  EXPECT_EQ(progress.inflights().count(), 0u);
  EXPECT_FALSE(progress.paused());
  EXPECT_EQ(progress.match_index(), 10u);
}

// Snapshot mode: appends pause until the snapshot is acknowledged; after it, probing
// resumes past the snapshot; if it failed, from match + 1.
TEST(Progress, SnapshotPausesAndResumes) {
  Progress progress(11, 4, false);
  progress.on_ack(3);
  progress.become_snapshot(50);
  EXPECT_EQ(progress.state(), ProgressState::kSnapshot);
  EXPECT_EQ(progress.pending_snapshot(), 50u);
  EXPECT_TRUE(progress.paused());
  progress.on_heartbeat_response(false);
  EXPECT_TRUE(progress.paused()) << "a heartbeat does not unpause a snapshot";
  progress.become_probe();
  EXPECT_EQ(progress.state(), ProgressState::kProbe);
  EXPECT_EQ(progress.next_index(), 51u);
  EXPECT_EQ(progress.pending_snapshot(), 0u);
  EXPECT_FALSE(progress.paused());

  Progress failed(11, 4, false);
  failed.on_ack(3);
  failed.become_snapshot(50);
  failed.on_snapshot_failed();
  EXPECT_EQ(failed.state(), ProgressState::kProbe);
  EXPECT_EQ(failed.next_index(), 4u);
  EXPECT_FALSE(failed.paused());
}

// become_replicate and become_probe restart from match + 1 and empty the window.
TEST(Progress, TransitionsResetWindow) {
  Progress progress(11, 2, false);
  progress.on_ack(10);
  progress.become_replicate();
  progress.on_append_sent(11, true);
  progress.on_append_sent(12, true);
  EXPECT_TRUE(progress.paused());
  progress.become_probe();
  EXPECT_EQ(progress.next_index(), 11u);
  EXPECT_FALSE(progress.paused());
  progress.become_replicate();
  EXPECT_EQ(progress.inflights().count(), 0u);
  EXPECT_FALSE(progress.paused());
}

}  // namespace
}  // namespace raft::core
