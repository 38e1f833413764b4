// The README's first command: a 3-node Raft cluster running in one process on a
// deterministic in-memory network. It elects a leader, commits a few hundred
// commands, cuts the leader off, elects another, heals the partition, lets the old
// leader catch up, and checks that every node applied the same commands in the same
// order. Everything it prints comes from the real consensus core.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "tests/core/test_cluster.h"

namespace {

using raft::core::NodeId;
using raft::core::Role;
using raft::core::testing::TestCluster;

class Demo {
 public:
  explicit Demo(std::uint64_t seed) : seed_(seed), cluster_(3, seed) {}

  int run() {
    std::printf("raft demo: 3 nodes in one process, deterministic network (seed %llu)\n\n",
                static_cast<unsigned long long>(seed_));
    const NodeId first = wait_for_leader();
    commit_batch(first, 150);

    std::printf("\n-- t=%d: cutting leader n%llu off from the others\n", ticks_, id(first));
    cluster_.isolate(first);
    // The cut-off leader still believes it leads for a while and accepts these, but
    // can never commit them: they lack a majority, and the new leader overwrites them.
    for (int i = 0; i < 5; ++i) cluster_.propose(first, "lost write " + std::to_string(i));
    std::printf("-- t=%d: n%llu (cut off) accepted 5 writes it can never commit\n", ticks_, id(first));
    const NodeId second = wait_for_leader(first);
    commit_batch(second, 150);

    std::printf("\n-- t=%d: healing the partition\n", ticks_);
    cluster_.heal();
    run_ticks(30);
    commit_batch(cluster_.leader(), 100);
    run_ticks(10);
    return verify();
  }

 private:
  static unsigned long long id(NodeId n) { return static_cast<unsigned long long>(n); }

  void observe() {
    for (NodeId n : cluster_.ids()) {
      const auto& raft = cluster_.node(n);
      const auto state = std::make_pair(raft.role(), raft.term());
      auto it = seen_.find(n);
      if (it != seen_.end() && it->second == state) continue;
      seen_[n] = state;
      std::printf("t=%-4d n%llu is %-13s term %llu\n", ticks_, id(n), raft::core::to_string(raft.role()),
                  static_cast<unsigned long long>(raft.term()));
    }
  }

  void run_ticks(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      cluster_.tick_all();
      ++ticks_;
      cluster_.stabilize();
      observe();
    }
  }

  // Ticks until a leader other than `not_this` is known to a majority.
  NodeId wait_for_leader(NodeId not_this = 0) {
    for (int i = 0; i < 1000; ++i) {
      run_ticks(1);
      for (NodeId n : cluster_.ids()) {
        if (n != not_this && cluster_.node(n).role() == Role::kLeader) {
          std::printf("-- t=%d: n%llu leads term %llu\n", ticks_, id(n),
                      static_cast<unsigned long long>(cluster_.node(n).term()));
          return n;
        }
      }
    }
    std::fprintf(stderr, "demo: no leader elected\n");
    std::exit(1);
  }

  void commit_batch(NodeId leader, int count) {
    int accepted = 0;
    for (int i = 0; i < count; ++i) {
      const std::string command = "set x" + std::to_string(next_command_++);
      if (cluster_.propose(leader, command).ok()) ++accepted;
      if (i % 10 == 9) cluster_.stabilize();
    }
    cluster_.stabilize();
    run_ticks(2);
    std::printf("-- t=%d: n%llu accepted %d commands; commit index now %llu\n", ticks_, id(leader),
                accepted, static_cast<unsigned long long>(cluster_.node(leader).commit_index()));
  }

  int verify() {
    std::printf("\nresult:\n");
    const auto& reference = cluster_.applied(cluster_.ids().front());
    bool same = true;
    for (NodeId n : cluster_.ids()) {
      const auto& applied = cluster_.applied(n);
      std::printf("  n%llu applied %zu commands, term %llu, role %s\n", id(n), applied.size(),
                  static_cast<unsigned long long>(cluster_.node(n).term()),
                  raft::core::to_string(cluster_.node(n).role()));
      same = same && applied == reference;
      for (const std::string& command : applied) {
        if (command.rfind("lost write", 0) == 0) {
          std::printf("FAILED: an uncommitted write from the cut-off leader was applied\n");
          return 1;
        }
      }
    }
    if (!same || reference.size() < 300) {
      std::printf("FAILED: nodes disagree or too few commits\n");
      return 1;
    }
    std::printf("all nodes applied the same %zu commands in the same order\n", reference.size());
    return 0;
  }

  std::uint64_t seed_;
  TestCluster cluster_;
  std::map<NodeId, std::pair<Role, raft::core::Term>> seen_;
  int ticks_ = 0;
  int next_command_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 7;
  return Demo(seed).run();
}
