// Tests of the simulator's own parts: the disk's crash model, the command encoding,
// the network's partition shapes, and the whole run's determinism (a seed replays
// event for event, which is what makes a failing seed worth reporting).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <string>

#include "src/core/confchange.h"
#include "tests/sim/cluster.h"
#include "tests/sim/disk.h"
#include "tests/sim/kv.h"
#include "tests/sim/membership.h"
#include "tests/sim/network.h"
#include "tests/sim/snapshot.h"

namespace raft::sim {
namespace {

pb::Entry entry(core::Index index, core::Term term) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data("x" + std::to_string(index));
  return e;
}

std::vector<pb::Entry> entries(core::Index first, core::Index last, core::Term term) {
  std::vector<pb::Entry> out;
  for (core::Index i = first; i <= last; ++i) out.push_back(entry(i, term));
  return out;
}

pb::HardState hard_state(core::Term term, core::NodeId vote) {
  pb::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  return hs;
}

TEST(SimDisk, WritesAreVisibleAtOnceAndDurableAfterSync) {
  SimDisk disk{pb::Configuration()};
  const std::uint64_t sequence = disk.write(std::nullopt, entries(1, 3, 1), hard_state(1, 2));
  EXPECT_EQ(disk.written().last_index(), 3u);
  EXPECT_EQ(disk.durable().last_index(), 0u);
  disk.sync_to(sequence);
  EXPECT_EQ(disk.durable().last_index(), 3u);
  EXPECT_EQ(disk.durable().hard_state().vote(), 2u);
  EXPECT_FALSE(disk.has_unsynced());
}

TEST(SimDisk, CrashKeepsSyncedStateAndAPrefixOfEachFile) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    SimDisk disk{pb::Configuration()};
    disk.sync_to(disk.write(std::nullopt, entries(1, 2, 1), hard_state(1, 1)));
    disk.write(std::nullopt, entries(3, 5, 2), hard_state(2, 0));
    disk.write(std::nullopt, entries(6, 6, 2), hard_state(2, 3));
    disk.write(std::nullopt, entries(4, 4, 3), hard_state(3, 0));  // overwrites 4.. with term 3
    core::Rng rng(seed);
    disk.crash(rng, 1'000'000);
    const core::MemoryLogStorage& log = disk.written();
    // The synced part always survives.
    ASSERT_GE(log.last_index(), 2u);
    EXPECT_EQ(log.term(2), 1u);
    // The log is a prefix of the write sequence: terms never decrease along it, and
    // index 6 never survives without 3..5.
    core::Term previous = 0;
    for (core::Index i = 1; i <= log.last_index(); ++i) {
      ASSERT_GE(*log.term(i), previous);
      previous = *log.term(i);
    }
    if (log.last_index() == 6) {
      EXPECT_EQ(log.term(5), 2u);
    }
    const pb::HardState hs = disk.written().hard_state();
    EXPECT_GE(hs.term(), 1u);
    EXPECT_EQ(disk.durable().last_index(), log.last_index());
  }
}

pb::SnapshotMetadata point(core::Index index, core::Term term) {
  pb::SnapshotMetadata metadata;
  metadata.set_index(index);
  metadata.set_term(term);
  return metadata;
}

TEST(SimDisk, CompactsOnlyADurablePrefixOfBothLogs) {
  SimDisk disk{pb::Configuration()};
  disk.sync_to(disk.write(std::nullopt, entries(1, 4, 1), std::nullopt));
  disk.write(std::nullopt, entries(5, 6, 1), std::nullopt);  // not synced
  EXPECT_FALSE(disk.compact(point(5, 1))) << "index 5 is not durable yet";
  EXPECT_FALSE(disk.compact(point(3, 2))) << "index 3 has term 1";
  ASSERT_TRUE(disk.compact(point(3, 1)));
  for (const core::MemoryLogStorage* log : {&disk.written(), &disk.durable()}) {
    EXPECT_EQ(log->first_index(), 4u);
    EXPECT_EQ(log->term(3), 1u);
  }
  EXPECT_FALSE(disk.compact(point(3, 1))) << "already compacted there";
  // A write issued before the compaction and synced after it keeps only its new part.
  disk.sync_to(disk.written_sequence());
  EXPECT_EQ(disk.durable().first_index(), 4u);
  EXPECT_EQ(disk.durable().last_index(), 6u);
}

TEST(SimDisk, KeepsTheSnapshotStoresNewestAndAnInstallAsAPrefixOfTheLog) {
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    SimDisk disk{pb::Configuration()};
    disk.sync_to(disk.write(std::nullopt, entries(1, 3, 1), hard_state(1, 0)));
    disk.save_snapshot(SimSnapshot{point(9, 2), {{"k", "v"}}});
    disk.save_snapshot(SimSnapshot{point(7, 2), {}});  // older: ignored
    // A follower installs the snapshot at 9 and appends after it, unsynced.
    disk.write(point(9, 2), entries(10, 11, 2), hard_state(2, 0));
    EXPECT_EQ(disk.written().first_index(), 10u);
    EXPECT_EQ(disk.written().last_index(), 11u);
    core::Rng rng(seed);
    disk.crash(rng, 1'000'000);
    ASSERT_TRUE(disk.snapshot().has_value());
    EXPECT_EQ(disk.snapshot()->metadata.index(), 9u) << "the store's snapshot is durable";
    EXPECT_EQ(disk.snapshot()->data.at("k"), "v");
    const core::MemoryLogStorage& log = disk.written();
    // Either the old log, or the snapshot and a prefix of what followed it.
    if (log.snapshot_metadata().index() == 0) {
      EXPECT_EQ(log.last_index(), 3u);
    } else {
      EXPECT_EQ(log.snapshot_metadata().index(), 9u);
      EXPECT_GE(log.last_index(), 9u);
      EXPECT_LE(log.last_index(), 11u);
    }
  }
}

TEST(SimSnapshot, DataRoundTripsAndGarbageIsRefused) {
  SimSnapshot snapshot{point(5, 2), {{"a", "1"}, {"b|:", "x:y"}, {"", ""}}};
  SimSnapshot decoded;
  ASSERT_TRUE(decode_snapshot_data(encode_snapshot_data(snapshot), &decoded));
  EXPECT_EQ(decoded.data, snapshot.data);
  for (const char* garbage : {"", "x", "3:", "1:1", "1:21:a", "1:11:a1:b+"}) {
    EXPECT_FALSE(decode_snapshot_data(garbage, &decoded)) << garbage;
  }
}

TEST(Kv, CommandsRoundTrip) {
  Command c{CommandKind::kCas, "k1", "c2.7", "c1.3"};
  const auto decoded = decode(encode(c));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->kind, CommandKind::kCas);
  EXPECT_EQ(decoded->key, "k1");
  EXPECT_EQ(decoded->value, "c2.7");
  EXPECT_EQ(decoded->expected, "c1.3");
  EXPECT_FALSE(decode("garbage").has_value());
}

TEST(Kv, CompareAndSetOnlyWritesOnMatch) {
  KvStore kv;
  EXPECT_FALSE(kv.apply({CommandKind::kCas, "k", "b", "a"}).applied);
  kv.apply({CommandKind::kPut, "k", "a", ""});
  EXPECT_TRUE(kv.apply({CommandKind::kCas, "k", "b", "a"}).applied);
  EXPECT_EQ(kv.apply({CommandKind::kGet, "k", "", ""}).value, "b");
  EXPECT_TRUE(kv.apply({CommandKind::kDelete, "k", "", ""}).applied);
  EXPECT_FALSE(kv.apply({CommandKind::kDelete, "k", "", ""}).applied);
}

TEST(SimNetwork, MajorityMinorityCutsEveryCrossLinkBothWays) {
  NetworkConfig config;
  SimNetwork network(5, config, 7);
  network.partition(PartitionKind::kMajorityMinority);
  int cut = 0;
  for (core::NodeId a = 1; a <= 5; ++a) {
    for (core::NodeId b = 1; b <= 5; ++b) {
      if (a != b && !network.linked(a, b)) {
        ++cut;
        EXPECT_FALSE(network.linked(b, a));
      }
    }
  }
  EXPECT_EQ(cut, 2 * 2 * 3);  // {2 nodes} x {3 nodes}, both directions
  network.heal();
  EXPECT_TRUE(network.linked(1, 2));
}

std::string traced_run(std::uint64_t seed) {
  std::FILE* file = std::tmpfile();
  SimConfig config = SimConfig::from_seed(seed);
  config.safety_ticks = 300;
  config.derive_bounds();
  run_simulation(config, file);
  std::rewind(file);
  std::string out;
  char buffer[4096];
  std::size_t read;
  while ((read = std::fread(buffer, 1, sizeof buffer, file)) > 0) out.append(buffer, read);
  std::fclose(file);
  return out;
}

TEST(Simulation, ASeedReplaysEventForEvent) {
  for (std::uint64_t seed : {3u, 4u}) {
    const std::string first = traced_run(seed);
    EXPECT_GT(first.size(), 1000u);
    EXPECT_EQ(first, traced_run(seed)) << "seed " << seed;
  }
}

TEST(Simulation, DifferentSeedsDiffer) {
  EXPECT_NE(traced_run(5), traced_run(6));
}

TEST(Simulation, SmallSweepPassesAndDoesWork) {
  RunStats total;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const RunResult result = run_simulation(SimConfig::from_seed(seed));
    ASSERT_TRUE(result.ok()) << "seed " << seed << ": " << result.violation->describe();
    total.client_ops_ok += result.stats.client_ops_ok;
    total.crashes += result.stats.crashes;
    total.leaders_elected += result.stats.leaders_elected;
    total.conf_changes += result.stats.conf_changes;
    total.reads_without_log += result.stats.reads_without_log;
    total.snapshots_taken += result.stats.snapshots_taken;
    total.snapshots_installed += result.stats.snapshots_installed;
    total.transfers += result.stats.transfers;
    EXPECT_FALSE(result.stats.linearizability_gave_up) << "seed " << seed;
  }
  // The runs exercised the system: operations committed, nodes crashed, leaders changed.
  EXPECT_GT(total.client_ops_ok, 1000u);
  EXPECT_GT(total.crashes, 10u);
  EXPECT_GT(total.leaders_elected, 40u);
  // Membership changed, and reads were served by ReadIndex and lease.
  EXPECT_GT(total.conf_changes, 20u);
  EXPECT_GT(total.reads_without_log, 1000u);
  // Logs were compacted behind snapshots, and leaders sent some to followers.
  EXPECT_GT(total.snapshots_taken, 1000u);
  EXPECT_GT(total.snapshots_installed, 10u);
  // The operator handed leadership over.
  EXPECT_GT(total.transfers, 20u);
}

// A walk of the membership schedule over the configurations it produces: every
// change is valid, the voters stay within bounds, and only ids of simulated nodes
// appear. Without remove_voters nobody ever leaves the configuration.
TEST(MembershipSchedule, ChangesAreValidAndKeepTheBounds) {
  for (const bool remove : {true, false}) {
    MembershipConfig config;
    config.spare_nodes = 2;
    config.change_mtbf_ticks = 10;
    config.remove_voters = remove;
    MembershipSchedule schedule(config, 5, 42);
    pb::Configuration current;
    for (core::NodeId id = 1; id <= 3; ++id) current.add_voters(id);
    std::set<std::string> kinds;
    for (int step = 0; step < 2000; ++step) {
      const auto change = schedule.pick(current);
      ASSERT_TRUE(change.has_value()) << core::describe(current);
      std::string kind = change->description;  // without the node ids
      kind.erase(std::remove_if(kind.begin(), kind.end(), [](char c) { return std::isdigit(c); }),
                 kind.end());
      kinds.insert(kind);
      const core::ConfChangeResult next = core::apply_conf_change(current, change->change);
      ASSERT_TRUE(next.configuration.has_value()) << change->description << ": " << next.error;
      current = *next.configuration;
      if (core::is_joint(current)) {
        EXPECT_TRUE(current.auto_leave());
        current = *core::apply_conf_change(current, pb::ConfChange()).configuration;
      }
      EXPECT_GE(current.voters_size(), config.min_voters) << change->description;
      EXPECT_LE(current.voters_size(), config.max_voters) << change->description;
      int members = 0;
      for (core::NodeId id = 1; id <= 5; ++id) members += is_member(current, id) ? 1 : 0;
      EXPECT_EQ(members, current.voters_size() + current.learners_size());
      if (!remove) {
        EXPECT_GE(members, 3);
      }
    }
    // Every kind shows up: single changes and joint ones.
    EXPECT_EQ(kinds.size(), remove ? 9u : 5u);
  }
}

// Heavy churn: a change every few ticks, bursts, spares, and every get served by
// ReadIndex or lease (half of them at followers), on top of each seed's faults.
TEST(Simulation, HeavyMembershipChurnWithReadsStaysSafeAndLive) {
  RunStats total;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    SimConfig config = SimConfig::from_seed(seed);
    config.membership.spare_nodes = 2;
    config.membership.change_mtbf_ticks = 15;
    config.membership.burst_ppm = 300'000;
    config.client.read_log_weight = 0;
    config.client.read_index_weight = 1;
    config.client.read_lease_weight = 1;
    config.client.follower_read_ppm = 500'000;
    config.safety_ticks = 800;
    config.derive_bounds();
    const RunResult result = run_simulation(config);
    ASSERT_TRUE(result.ok()) << "seed " << seed << ": " << result.violation->describe();
    total.conf_changes += result.stats.conf_changes;
    total.conf_changes_refused += result.stats.conf_changes_refused;
    total.reads_without_log += result.stats.reads_without_log;
  }
  EXPECT_GT(total.conf_changes, 100u);
  EXPECT_GT(total.conf_changes_refused, 10u);
  EXPECT_GT(total.reads_without_log, 500u);
}

}  // namespace
}  // namespace raft::sim

namespace raft::sim {
namespace {

// Found by Read Sees Committed: a leader paused for longer than an election timeout
// resumed with its lease still valid by its own tick count (its ticks had stopped),
// and served a lease read from a stale store while another leader had committed
// newer entries. A lease is only as good as the clock it is measured with: the
// runtime must deliver the ticks that elapsed during a stall before anything else.
// With that (catch_up_missed_ticks, the default) the seeds pass; without it they fail.
// The seeds were found before appends were coalesced, and need that schedule. (1460,
// one of the first two, no longer meets the stall once removed nodes learned of their
// removal, which changed the schedule of runs with membership changes; 3206 does.)
// They were found before snapshots and leadership transfers were simulated, and need
// a schedule without them.
TEST(Regression, LeaseReadAfterPauseNeedsTheMissedTicks) {
  for (std::uint64_t seed : {3206u, 3535u}) {
    SimConfig config = SimConfig::from_seed(seed);
    config.core.coalesce_appends = false;
    config.runtime.snapshot_interval = 0;
    config.membership.transfer_mtbf_ticks = 0;
    EXPECT_TRUE(run_simulation(config).ok()) << "seed " << seed;
    config.runtime.catch_up_missed_ticks = false;
    const RunResult result = run_simulation(config);
    ASSERT_FALSE(result.ok()) << "seed " << seed;
    EXPECT_EQ(result.violation->property, property::kReadSeesCommitted)
        << "seed " << seed << ": " << result.violation->describe();
  }
}

}  // namespace
}  // namespace raft::sim
