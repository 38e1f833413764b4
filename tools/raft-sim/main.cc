// raft-sim: the command-line face of the deterministic cluster simulator.
//
//   raft-sim --seed 42 [--trace]     replay one seed (and print its event trace)
//   raft-sim --seeds 1..5000         sweep a range: one line per failing seed, then a
//                                    tally (seeds, simulated ticks, events, client
//                                    operations, wall time)
// Every failure prints its seed and the first violated property with the node, term
// and index involved; `raft-sim --seed N --trace` replays it event by event.
// raft-sim-planted is the same tool over the core built with planted bugs; it adds
// --planted BUG (see src/core/planted_bugs.h).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "tests/sim/cluster.h"
#include "tests/sim/config.h"

namespace {

using raft::sim::RunResult;
using raft::sim::SimConfig;

struct Range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

std::optional<Range> parse_range(const std::string& text) {
  const auto dots = text.find("..");
  try {
    if (dots == std::string::npos) {
      const std::uint64_t one = std::stoull(text);
      return Range{one, one};
    }
    Range r{std::stoull(text.substr(0, dots)), std::stoull(text.substr(dots + 2))};
    if (r.last < r.first) return std::nullopt;
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<raft::core::PlantedBug> parse_bug(const std::string& name) {
  using raft::core::PlantedBug;
  for (PlantedBug bug :
       {PlantedBug::kNone, PlantedBug::kVoteWithoutLogCheck, PlantedBug::kCommitOldTermByCounting,
        PlantedBug::kVoteBeforePersist, PlantedBug::kAppendWithoutPrevCheck,
        PlantedBug::kLeaderIgnoresHigherTerm, PlantedBug::kReadIndexWithoutHeartbeat,
        PlantedBug::kLeaseWithoutCheckQuorum, PlantedBug::kConfChangeWhileInFlight,
        PlantedBug::kSnapshotMatchIgnoresTerm, PlantedBug::kCommitStoredBeforeInstall,
        PlantedBug::kLeaseDuringTransfer}) {
    if (name == raft::core::to_string(bug)) return bug;
  }
  return std::nullopt;
}

struct Overrides {
  std::uint64_t ticks = 0;
  int nodes = 0;
  std::optional<std::uint64_t> snapshot_interval;
  std::optional<std::uint64_t> transfer_mtbf;
  std::vector<std::string> ignored;
  raft::core::PlantedBug bug = raft::core::PlantedBug::kNone;
};

SimConfig config_for(std::uint64_t seed, const Overrides& o) {
  SimConfig config = SimConfig::from_seed(seed);
  if (o.ticks != 0) config.safety_ticks = o.ticks;
  if (o.nodes != 0) config.node_count = o.nodes;
  if (o.snapshot_interval) config.runtime.snapshot_interval = *o.snapshot_interval;
  if (o.transfer_mtbf) config.membership.transfer_mtbf_ticks = *o.transfer_mtbf;
  config.core.planted_bug = o.bug;
  config.ignored_properties.insert(o.ignored.begin(), o.ignored.end());
  config.derive_bounds();
  return config;
}

void print_stats(const raft::sim::RunStats& s) {
  std::printf(
      "  %llu ticks, %llu events, %llu messages (%llu delivered, %llu lost), %llu crashes, %llu "
      "partitions, "
      "%llu pauses, %llu strikes, %llu leaders (max term %llu), commit index %llu, %llu client ops "
      "ok + %llu unknown (%llu reads without the log), %llu membership changes (+%llu refused), "
      "%llu snapshots taken, %llu installed, %llu leadership transfers, linearizability %llu "
      "steps%s\n",
      static_cast<unsigned long long>(s.simulated_ticks), static_cast<unsigned long long>(s.events),
      static_cast<unsigned long long>(s.messages_sent),
      static_cast<unsigned long long>(s.messages_delivered),
      static_cast<unsigned long long>(s.messages_dropped),
      static_cast<unsigned long long>(s.crashes), static_cast<unsigned long long>(s.partitions),
      static_cast<unsigned long long>(s.pauses), static_cast<unsigned long long>(s.strikes),
      static_cast<unsigned long long>(s.leaders_elected),
      static_cast<unsigned long long>(s.max_term),
      static_cast<unsigned long long>(s.final_commit_index),
      static_cast<unsigned long long>(s.client_ops_ok),
      static_cast<unsigned long long>(s.client_ops_unknown),
      static_cast<unsigned long long>(s.reads_without_log),
      static_cast<unsigned long long>(s.conf_changes),
      static_cast<unsigned long long>(s.conf_changes_refused),
      static_cast<unsigned long long>(s.snapshots_taken),
      static_cast<unsigned long long>(s.snapshots_installed),
      static_cast<unsigned long long>(s.transfers),
      static_cast<unsigned long long>(s.linearizability_steps),
      s.linearizability_gave_up ? " (gave up)" : "");
}

std::string replay_command(std::uint64_t seed, const Overrides& o) {
  std::string out = "raft-sim";
  if (o.bug != raft::core::PlantedBug::kNone)
    out += "-planted --planted " + std::string(raft::core::to_string(o.bug));
  out += " --seed " + std::to_string(seed);
  if (o.ticks != 0) out += " --ticks " + std::to_string(o.ticks);
  if (o.nodes != 0) out += " --nodes " + std::to_string(o.nodes);
  if (o.snapshot_interval) out += " --snapshot-interval " + std::to_string(*o.snapshot_interval);
  if (o.transfer_mtbf) out += " --transfer-mtbf " + std::to_string(*o.transfer_mtbf);
  for (const std::string& property : o.ignored) out += " --ignore '" + property + "'";
  return out + " --trace";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"raft-sim: deterministic Raft cluster simulator (docs/simulator.md)"};
  std::optional<std::uint64_t> seed;
  std::string seeds;
  bool trace = false;
  bool verbose = false;
  bool expect_failure = false;
  std::string planted;
  Overrides overrides;
  app.add_option("--seed", seed, "Run one seed");
  app.add_option("--seeds", seeds, "Sweep a range of seeds, A..B");
  app.add_flag("--trace", trace, "Print the event trace (with --seed)");
  app.add_flag("-v,--verbose", verbose, "One line per seed in a sweep, passing or not");
  app.add_option("--ticks", overrides.ticks, "Override the safety phase length, in ticks");
  app.add_option("--nodes", overrides.nodes, "Override the cluster size")->check(CLI::Range(1, 9));
  app.add_option("--snapshot-interval", overrides.snapshot_interval,
                 "Override the entries applied between two snapshots of a node (0: none, and "
                 "no log is compacted)");
  app.add_option("--transfer-mtbf", overrides.transfer_mtbf,
                 "Override the mean ticks between two leadership transfers asked of the leader "
                 "(0: none)");
  app.add_option("--ignore", overrides.ignored,
                 "Do not report violations of this property (repeatable), e.g. --ignore 'Durable "
                 "Before Promise'");
  app.add_flag("--expect-failure", expect_failure,
               "Succeed only if some seed fails (for checking that planted bugs are caught)");
#ifdef RAFT_SIM_PLANTED
  app.add_option("--planted", planted, "Switch on a planted bug, e.g. vote-before-persist");
#endif
  CLI11_PARSE(app, argc, argv);

  if (!planted.empty()) {
    const auto bug = parse_bug(planted);
    if (!bug) {
      std::fprintf(stderr, "unknown planted bug '%s' (see src/core/planted_bugs.h)\n",
                   planted.c_str());
      return 2;
    }
    overrides.bug = *bug;
  }
  if (seed.has_value() == !seeds.empty()) {
    std::fprintf(stderr, "give exactly one of --seed N or --seeds A..B\n");
    return 2;
  }

  if (seed) {
    const SimConfig config = config_for(*seed, overrides);
    std::printf("seed %llu: %s\n", static_cast<unsigned long long>(*seed),
                config.describe().c_str());
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    const RunResult result = raft::sim::run_simulation(config, trace ? stdout : nullptr);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (result.ok()) {
      std::printf("seed %llu: ok (%.3fs)\n", static_cast<unsigned long long>(*seed), wall);
    } else {
      std::printf("seed %llu: FAIL %s\n", static_cast<unsigned long long>(*seed),
                  result.violation->describe().c_str());
    }
    print_stats(result.stats);
    return result.ok() != expect_failure ? 0 : 1;
  }

  const std::optional<Range> range = parse_range(seeds);
  if (!range) {
    std::fprintf(stderr, "bad --seeds '%s': expected A..B with A <= B\n", seeds.c_str());
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t runs = 0, failures = 0, ticks = 0, events = 0, ops = 0, unknown = 0, gave_up = 0;
  std::uint64_t reads = 0, conf_changes = 0, snapshots = 0, installs = 0, transfers = 0;
  for (std::uint64_t s = range->first; s <= range->last; ++s) {
    const RunResult result = raft::sim::run_simulation(config_for(s, overrides));
    ++runs;
    ticks += result.stats.simulated_ticks;
    events += result.stats.events;
    ops += result.stats.client_ops_ok;
    unknown += result.stats.client_ops_unknown;
    reads += result.stats.reads_without_log;
    conf_changes += result.stats.conf_changes;
    snapshots += result.stats.snapshots_taken;
    installs += result.stats.snapshots_installed;
    transfers += result.stats.transfers;
    if (result.stats.linearizability_gave_up) ++gave_up;
    if (!result.ok()) {
      ++failures;
      std::printf("seed %llu FAIL %s\n  replay: %s\n", static_cast<unsigned long long>(s),
                  result.violation->describe().c_str(), replay_command(s, overrides).c_str());
      std::fflush(stdout);
    } else if (verbose) {
      std::printf("seed %llu ok: %llu ticks, %llu events, %llu ops\n",
                  static_cast<unsigned long long>(s),
                  static_cast<unsigned long long>(result.stats.simulated_ticks),
                  static_cast<unsigned long long>(result.stats.events),
                  static_cast<unsigned long long>(result.stats.client_ops_ok));
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "seeds %llu..%llu: %llu run, %llu failed | %llu simulated ticks | %llu events | %llu client "
      "ops ok (%llu reads without the log) + %llu unknown | %llu membership changes | "
      "%llu snapshots (%llu installed from a leader) | %llu leadership transfers | "
      "linearizability gave up on %llu | wall %.1fs\n",
      static_cast<unsigned long long>(range->first), static_cast<unsigned long long>(range->last),
      static_cast<unsigned long long>(runs), static_cast<unsigned long long>(failures),
      static_cast<unsigned long long>(ticks), static_cast<unsigned long long>(events),
      static_cast<unsigned long long>(ops), static_cast<unsigned long long>(reads),
      static_cast<unsigned long long>(unknown), static_cast<unsigned long long>(conf_changes),
      static_cast<unsigned long long>(snapshots), static_cast<unsigned long long>(installs),
      static_cast<unsigned long long>(transfers), static_cast<unsigned long long>(gave_up), wall);
  return (failures == 0) != expect_failure ? 0 : 1;
}
