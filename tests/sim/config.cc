#include "tests/sim/config.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>

#include "src/core/rng.h"

namespace raft::sim {
namespace {

template <typename T>
T pick(core::Rng& rng, std::initializer_list<T> choices) {
  return *(choices.begin() + rng.below(choices.size()));
}

}  // namespace

SimConfig SimConfig::from_seed(std::uint64_t seed) {
  // A stream of its own, so adding a knob here never changes what the network or the
  // clients of an existing seed do... beyond what the knob itself changes.
  core::Rng rng(seed ^ 0x5eed'c0f1'9000'0001ULL);
  SimConfig c;
  c.seed = seed;
  c.node_count = rng.chance(1, 2) ? 3 : 5;

  core::Options& o = c.core;
  o.election_timeout_ticks = static_cast<int>(rng.between(4, 15));
  o.heartbeat_interval_ticks =
      static_cast<int>(rng.between(1, std::max<std::uint64_t>(1, o.election_timeout_ticks / 4)));
  o.max_inflight_appends = pick<std::uint32_t>(rng, {1, 2, 4, 16, 256});
  o.max_append_bytes = pick<std::uint64_t>(rng, {64, 256, 4096, 1 << 20});
  o.max_uncommitted_bytes = pick<std::uint64_t>(rng, {256, 4096, 64 << 20});
  o.max_committed_bytes_per_ready = pick<std::uint64_t>(rng, {64, 1024, 16 << 20});
  o.pre_vote = rng.chance(1, 2);
  o.check_quorum = rng.chance(1, 2);

  c.runtime.max_batch_commands = static_cast<int>(rng.between(1, 8));
  c.runtime.batch_delay_ms = rng.chance(1, 2) ? 0 : rng.between(1, 10);
  c.runtime.max_tick_drift_ms = pick<Time>(rng, {0, 0, 2, 5});

  const Time election_ms = static_cast<Time>(o.election_timeout_ticks) * kMsPerTick;
  NetworkConfig& n = c.network;
  n.drop_ppm = pick<std::uint32_t>(rng, {0, 10'000, 50'000, 150'000});
  n.duplicate_ppm = pick<std::uint32_t>(rng, {0, 10'000, 50'000});
  n.min_delay_ms = rng.between(1, 5);
  // A round trip must fit well inside an election timeout, or no leader survives.
  n.max_delay_ms =
      std::min<Time>(election_ms / 4, n.min_delay_ms + pick<Time>(rng, {2, 10, 40, 100}));
  n.spike_ppm = pick<std::uint32_t>(rng, {0, 5'000, 30'000});
  n.spike_max_ms = rng.between(election_ms / 2, 3 * election_ms);

  DiskConfig& d = c.disk;
  d.min_sync_ms = rng.between(1, 3);
  d.max_sync_ms = d.min_sync_ms + pick<Time>(rng, {1, 10, 40});
  d.torn_write_ppm = pick<std::uint32_t>(rng, {0, 500'000, 1'000'000});

  FaultConfig& f = c.faults;
  f.crash_mtbf_ticks = pick<std::uint64_t>(rng, {0, 1000, 300, 100, 40});
  f.max_down_ticks = rng.between(1, 6) * static_cast<std::uint64_t>(o.election_timeout_ticks);
  f.partition_mtbf_ticks = pick<std::uint64_t>(rng, {0, 1000, 300, 100});
  f.max_partition_ticks = rng.between(1, 10) * static_cast<std::uint64_t>(o.election_timeout_ticks);
  f.pause_mtbf_ticks = pick<std::uint64_t>(rng, {0, 1000, 300});
  f.max_pause_ticks = rng.between(1, 3) * static_cast<std::uint64_t>(o.election_timeout_ticks);
  f.strike_new_leader_ppm = pick<std::uint32_t>(rng, {0, 300'000, 600'000, 900'000});
  f.crash_after_vote_ppm = pick<std::uint32_t>(rng, {0, 0, 100'000, 300'000});

  ClientConfig& cl = c.client;
  cl.clients = static_cast<int>(rng.between(2, 5));
  cl.keys = static_cast<int>(rng.between(1, 4));
  cl.max_think_ms = pick<Time>(rng, {20, 100, 400});
  cl.attempt_timeout_ms = rng.between(3, 6) * election_ms;
  cl.max_backoff_ms = rng.between(10, 200);

  c.safety_ticks = rng.between(1000, 3000);

  // Drawn last, so the knobs above keep their values for every seed.
  cl.read_log_weight = static_cast<int>(rng.between(0, 2));
  cl.read_index_weight = static_cast<int>(rng.between(0, 2));
  cl.read_lease_weight = static_cast<int>(rng.between(0, 2));
  if (cl.read_log_weight + cl.read_index_weight + cl.read_lease_weight == 0) cl.read_log_weight = 1;
  cl.follower_read_ppm = pick<std::uint32_t>(rng, {0, 300'000, 700'000});

  MembershipConfig& m = c.membership;
  m.change_mtbf_ticks = pick<std::uint64_t>(rng, {0, 0, 300, 100, 40});
  m.spare_nodes = m.change_mtbf_ticks == 0 ? 0 : static_cast<int>(rng.between(1, 2));
  m.burst_ppm = pick<std::uint32_t>(rng, {0, 100'000, 300'000});
  m.min_voters = 3;
  m.max_voters = 5;
  m.remove_voters = o.pre_vote || o.check_quorum;
  o.coalesce_appends = rng.chance(3, 4);
  o.narrow_read_rounds = rng.chance(3, 4);
  o.read_round_widen_ticks = static_cast<int>(rng.between(1, 3));
  c.runtime.snapshot_interval = pick<std::uint64_t>(rng, {0, 0, 3, 10, 50});
  c.runtime.snapshot_trailing_entries = pick<std::uint64_t>(rng, {0, 1, 5, 20});
  f.crash_after_install_ppm = pick<std::uint32_t>(rng, {0, 300'000, 600'000});
  m.transfer_mtbf_ticks = pick<std::uint64_t>(rng, {0, 300, 100, 40});
  f.deafen_after_handover_ppm = pick<std::uint32_t>(rng, {300'000, 600'000, 900'000});
  c.derive_bounds();
  return c;
}

void SimConfig::derive_bounds() {
  // After healing: elect a leader (a few election timeouts, more when PreVote is off
  // and restarted nodes disrupt), then each client may first wait out one attempt
  // timeout on a request lost with a crashed node, then completes drain_ops more.
  const std::uint64_t election = static_cast<std::uint64_t>(core.election_timeout_ticks);
  const std::uint64_t attempt = client.attempt_timeout_ms / kMsPerTick;
  liveness_bound_ticks = 20 * election + 3 * attempt + 50;
}

std::string SimConfig::describe() const {
  char buffer[768];
  std::snprintf(
      buffer, sizeof buffer,
      "n=%d ticks=%llu et=%d hb=%d prevote=%d checkquorum=%d inflight=%u coalesce=%d "
      "narrow_reads=%d/%d append_bytes=%llu "
      "batch=%d/%llums drop=%.1f%% dup=%.1f%% delay=%llu..%llums spike=%.1f%% sync=%llu..%llums "
      "torn=%.0f%% crash_mtbf=%llu partition_mtbf=%llu pause_mtbf=%llu strike=%.0f%% "
      "vote_crash=%.0f%% clients=%d keys=%d reads=log:%d/index:%d/lease:%d follower_reads=%.0f%% "
      "spares=%d conf_mtbf=%llu conf_burst=%.0f%% snapshots=%llu/%llu install_crash=%.0f%% "
      "transfer_mtbf=%llu deafen=%.0f%%",
      node_count, static_cast<unsigned long long>(safety_ticks), core.election_timeout_ticks,
      core.heartbeat_interval_ticks, core.pre_vote ? 1 : 0, core.check_quorum ? 1 : 0,
      core.max_inflight_appends, core.coalesce_appends ? 1 : 0, core.narrow_read_rounds ? 1 : 0,
      core.read_round_widen_ticks, static_cast<unsigned long long>(core.max_append_bytes),
      runtime.max_batch_commands, static_cast<unsigned long long>(runtime.batch_delay_ms),
      network.drop_ppm / 1e4, network.duplicate_ppm / 1e4,
      static_cast<unsigned long long>(network.min_delay_ms),
      static_cast<unsigned long long>(network.max_delay_ms), network.spike_ppm / 1e4,
      static_cast<unsigned long long>(disk.min_sync_ms),
      static_cast<unsigned long long>(disk.max_sync_ms), disk.torn_write_ppm / 1e4,
      static_cast<unsigned long long>(faults.crash_mtbf_ticks),
      static_cast<unsigned long long>(faults.partition_mtbf_ticks),
      static_cast<unsigned long long>(faults.pause_mtbf_ticks), faults.strike_new_leader_ppm / 1e4,
      faults.crash_after_vote_ppm / 1e4, client.clients, client.keys, client.read_log_weight,
      client.read_index_weight, client.read_lease_weight, client.follower_read_ppm / 1e4,
      membership.spare_nodes, static_cast<unsigned long long>(membership.change_mtbf_ticks),
      membership.burst_ppm / 1e4, static_cast<unsigned long long>(runtime.snapshot_interval),
      static_cast<unsigned long long>(runtime.snapshot_trailing_entries),
      faults.crash_after_install_ppm / 1e4,
      static_cast<unsigned long long>(membership.transfer_mtbf_ticks),
      faults.deafen_after_handover_ppm / 1e4);
  std::string out = buffer;
  if (core.planted_bug != core::PlantedBug::kNone) {
    out += " planted=";
    out += core::to_string(core.planted_bug);
  }
  return out;
}

}  // namespace raft::sim
