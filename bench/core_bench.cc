// Micro-benchmarks of the consensus core's hot paths (Google Benchmark). Figures,
// never pass/fail: run `build/release/bench/core_bench` and compare before/after a
// change that claims speed.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "src/core/memory_storage.h"
#include "src/core/quorum.h"
#include "src/core/raft_log.h"
#include "tests/core/test_cluster.h"

namespace raft::core {
namespace {

// Propose -> commit -> apply on an in-process 3-node cluster, messages delivered in
// memory, `batch` commands of 100 bytes per proposal. Items = commands committed.
void BM_ProposeCommit3Nodes(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  testing::TestCluster cluster(3, /*seed=*/1);
  const NodeId leader = cluster.elect();
  const std::vector<std::string> commands(batch, std::string(100, 'x'));
  for (auto _ : state) {
    const ProposeResult result = cluster.node(leader).propose(commands);
    if (!result.ok()) state.SkipWithError("propose failed");
    cluster.stabilize();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}
BENCHMARK(BM_ProposeCommit3Nodes)->Arg(1)->Arg(16)->Arg(256);

// Appending to the unstable log and marking it durable, as a follower does.
void BM_LogAppendAndStable(benchmark::State& state) {
  MemoryLogStorage storage;
  RaftLog log(storage);
  pb::Entry prototype;
  prototype.set_term(1);
  prototype.set_data(std::string(100, 'x'));
  for (auto _ : state) {
    std::vector<pb::Entry> entries(1, prototype);
    entries[0].set_index(log.last_index() + 1);
    log.append(std::move(entries));
    std::vector<pb::Entry> handed_out = log.take_unpersisted();
    storage.append(handed_out);
    log.stable_to(handed_out.back().index(), 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LogAppendAndStable);

// Term lookups and slices from a durable log of 100k entries.
void BM_LogLookup(benchmark::State& state) {
  MemoryLogStorage storage;
  std::vector<pb::Entry> entries;
  for (Index i = 1; i <= 100000; ++i) {
    pb::Entry& e = entries.emplace_back();
    e.set_term(1 + i / 1000);
    e.set_index(i);
    e.set_data(std::string(100, 'x'));
  }
  storage.append(entries);
  RaftLog log(storage);
  Index i = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(log.term(i));
    auto slice = log.slice(i, std::min<Index>(i + 64, 100001), 1 << 20);
    benchmark::DoNotOptimize(slice);
    i = i % 99000 + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LogLookup);

void BM_QuorumCommittedIndex(benchmark::State& state) {
  std::vector<NodeId> voters;
  for (NodeId id = 1; id <= static_cast<NodeId>(state.range(0)); ++id) voters.push_back(id);
  const MajorityQuorum quorum(voters);
  for (auto _ : state) {
    benchmark::DoNotOptimize(quorum.committed_index([](NodeId id) { return std::optional<Index>(id * 7); }));
  }
}
BENCHMARK(BM_QuorumCommittedIndex)->Arg(3)->Arg(5)->Arg(7);

}  // namespace
}  // namespace raft::core

BENCHMARK_MAIN();
