// Checkers of the replicated log: Leader Append-Only, Log Matching, and the commit
// checker (Leader Completeness, State Machine Safety of committed entries, Committed
// Is Durable, Committed Is Safe).
#include <algorithm>
#include <functional>
#include <stdexcept>
#include <unordered_map>

#include "src/core/confchange.h"
#include "tests/sim/checkers.h"

namespace raft::sim {
namespace {

std::string entry_name(core::Index index, core::Term term) {
  return "(" + std::to_string(index) + ", term " + std::to_string(term) + ")";
}

// Whether `log` holds the committed entry (index, term). A compacted entry is held:
// only committed entries are compacted (into a snapshot of applied state), and the
// State Machine Safety checks vouch that those are the committed ones.
bool holds(const core::MemoryLogStorage& log, core::Index index, core::Term term) {
  if (index < log.snapshot_metadata().index()) return true;
  const std::optional<core::Term> held = log.term(index);
  return held && *held == term;
}

// Leader Append-Only (Figure 3): a leader never overwrites or deletes entries in its
// log; it only appends new entries.
class LeaderAppendOnlyChecker final : public Checker {
 public:
  void before_write(const SimNode& node, const core::Ready& ready) override {
    const core::Raft& core = node.core();
    if (core.role() != core::Role::kLeader || ready.entries.empty()) return;
    const core::Index first = ready.entries.front().index();
    const core::Index last = node.disk().written().last_index();
    if (first <= last) {
      fail(property::kLeaderAppendOnly, node.id(), core.term(), first,
           "leader " + node_label(node.id()) + " of term " + std::to_string(core.term()) +
               " overwrote its log from index " + std::to_string(first) + " (its log ended at " +
               std::to_string(last) + ")");
    }
  }
  void after_event(const SimNode& node) override {
    const core::Raft& core = node.core();
    if (states_.size() <= node.id()) states_.resize(node.id() + 1);
    State& s = states_[node.id()];
    if (core.role() != core::Role::kLeader) {
      s.leading = false;
      return;
    }
    if (s.leading && s.term == core.term() && s.incarnation == node.incarnation() &&
        core.last_index() < s.last_index) {
      fail(property::kLeaderAppendOnly, node.id(), core.term(), core.last_index(),
           "leader " + node_label(node.id()) + "'s last index went back from " +
               std::to_string(s.last_index) + " to " + std::to_string(core.last_index()));
    }
    s = State{true, core.term(), node.incarnation(), core.last_index()};
  }

 private:
  struct State {
    bool leading = false;
    core::Term term = 0;
    std::uint64_t incarnation = 0;
    core::Index last_index = 0;
  };
  std::vector<State> states_;
};

// Log Matching (Figure 3): if two logs contain an entry with the same index and term,
// then the logs are identical in all entries up through the given index. Checked, by
// induction, as: every (index, term) ever written anywhere has one content and one
// predecessor term.
class LogMatchingChecker final : public Checker {
 public:
  void after_write(const SimNode& node, const core::Ready& ready) override {
    const core::MemoryLogStorage& log = node.disk().written();
    for (const pb::Entry& entry : ready.entries) {
      const core::Term previous = entry.index() <= 1 ? 0 : log.term(entry.index() - 1).value_or(0);
      const Record record{content_hash(entry), previous, node.id()};
      auto [it, inserted] = records_.emplace(Key{entry.index(), entry.term()}, record);
      if (inserted) continue;
      const Record& seen = it->second;
      if (seen.content != record.content) {
        fail(property::kLogMatching, node.id(), entry.term(), entry.index(),
             node_label(node.id()) + " holds entry " + entry_name(entry.index(), entry.term()) +
                 " with different content than " + node_label(seen.node) +
                 "'s entry of the same index and term");
        return;
      }
      if (seen.previous_term != record.previous_term) {
        fail(property::kLogMatching, node.id(), entry.term(), entry.index(),
             node_label(node.id()) + " holds entry " + entry_name(entry.index(), entry.term()) +
                 " after an entry of term " + std::to_string(record.previous_term) + ", but " +
                 node_label(seen.node) + " holds the same entry after one of term " +
                 std::to_string(seen.previous_term) + ": the logs differ before index " +
                 std::to_string(entry.index()));
        return;
      }
    }
  }

 private:
  struct Key {
    core::Index index;
    core::Term term;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::uint64_t>{}(k.index * 0x9e3779b97f4a7c15ULL ^ k.term);
    }
  };
  struct Record {
    std::uint64_t content;
    core::Term previous_term;
    core::NodeId node;  // the first node seen holding it
  };
  std::unordered_map<Key, Record, KeyHash> records_;
};

// Tracks the committed log as the nodes report it (each node's commit index over its
// own log) and checks:
//   State Machine Safety: no two nodes commit different entries at one index;
//   Committed Is Durable: when an index is first committed, a majority of every voter
//     set of the committer's configuration holds that entry durably (the leader counted
//     acknowledgements that promise durability);
//   Committed Is Safe: when index j is first committed, every node whose log (written
//     or durable) lacks the entry is less up to date than both logs of a majority of
//     each voter set of that configuration, so no vote could ever make it leader;
//   Leader Completeness: an entry committed in term T is in the log of every leader of
//     a term > T. An entry's commit term is taken as the term of the first node seen
//     committing it, which is at least the term it was really committed in, so the
//     check never accuses a leader wrongly.
class CommitChecker final : public Checker {
 public:
  void on_start(const SimNode& node) override {
    state(node.id()) = NodeState{};  // the restarted core re-reports its commit index
  }

  void after_event(const SimNode& node) override {
    NodeState& s = state(node.id());
    const core::Raft& core = node.core();
    const core::MemoryLogStorage& log = node.disk().written();
    const core::Index known = committed_.size();
    const pb::SnapshotMetadata& compacted = log.snapshot_metadata();
    for (core::Index i = s.commit + 1; i <= core.commit_index(); ++i) {
      if (i <= compacted.index()) {
        // Committed and applied somewhere before it was compacted (or before the
        // snapshot that replaced this log was taken): observed then. Its last entry's
        // term is all the log still tells.
        if (i > committed_.size()) {
          throw std::logic_error("commit checker: " + node_label(node.id()) + " compacted index " +
                                 std::to_string(i) + " before any node was seen committing it");
        }
        if (i == compacted.index() && committed_[i - 1].term != compacted.term()) {
          fail(property::kStateMachineSafety, node.id(), compacted.term(), i,
               node_label(node.id()) + " holds a snapshot ending at " +
                   entry_name(i, compacted.term()) + " but " + node_label(committed_[i - 1].node) +
                   " committed " + entry_name(i, committed_[i - 1].term));
          return;
        }
        continue;
      }
      std::vector<pb::Entry> one;
      log.entries(i, i + 1, 0, &one);
      if (!observe_commit(node, one.front(), core.term())) return;
    }
    s.commit = std::max(s.commit, core.commit_index());
    // A node lacking the newest committed entry lacks every earlier one too, so
    // checking the newest covers the whole batch.
    if (committed_.size() > known && !committed_is_safe(node, committed_.size())) return;

    if (core.role() == core::Role::kLeader &&
        (s.verified_term != core.term() || s.verified_incarnation != node.incarnation())) {
      s.verified_term = core.term();
      s.verified_incarnation = node.incarnation();
      for (core::Index i = 1; i <= committed_.size(); ++i) {
        if (!leader_has(node, i)) return;
      }
    }
  }

 private:
  struct Committed {
    core::Term term;
    std::uint64_t content;
    core::Term commit_term;
    core::NodeId node;
  };
  struct NodeState {
    core::Index commit = 0;  // highest commit index checked, this life
    core::Term verified_term = 0;
    std::uint64_t verified_incarnation = 0;
  };
  NodeState& state(core::NodeId id) {
    if (states_.size() <= id) states_.resize(id + 1);
    return states_[id];
  }

  // Returns false once a violation was found.
  bool observe_commit(const SimNode& node, const pb::Entry& entry, core::Term node_term) {
    const core::Index i = entry.index();
    if (i <= committed_.size()) {
      const Committed& c = committed_[i - 1];
      if (c.term != entry.term() || c.content != content_hash(entry)) {
        fail(property::kStateMachineSafety, node.id(), entry.term(), i,
             node_label(node.id()) + " committed entry " + entry_name(i, entry.term()) + " but " +
                 node_label(c.node) + " committed " + entry_name(i, c.term) +
                 (c.term == entry.term() ? " with other content" : ""));
        return false;
      }
      return true;
    }
    committed_.push_back(Committed{entry.term(), content_hash(entry), node_term, node.id()});
    // Committed Is Durable: a majority of every voter set of the configuration the
    // committer used (its own: configurations take effect when appended, and the first
    // node seen committing an index is the leader that decided it).
    for (const std::vector<core::NodeId>& voters : voter_sets(node.core().configuration())) {
      int durable = 0;
      for (core::NodeId id : voters) {
        if (holds(cluster().node(id).disk().durable(), i, entry.term())) ++durable;
      }
      if (durable < majority(voters)) {
        fail(property::kCommittedIsDurable, node.id(), entry.term(), i,
             node_label(node.id()) + " committed entry " + entry_name(i, entry.term()) +
                 " held durably by only " + std::to_string(durable) + " of the voters " +
                 list(voters) + " of its configuration " +
                 core::describe(node.core().configuration()));
        return false;
      }
    }
    // Leaders already in office of a later term must hold it.
    for (int id = 1; id <= cluster().node_count(); ++id) {
      const SimNode& other = cluster().node(static_cast<core::NodeId>(id));
      if (!other.up() || other.core().role() != core::Role::kLeader ||
          other.core().term() <= node_term)
        continue;
      if (!leader_has(other, i)) return false;
    }
    return true;
  }

  // A log's position for §5.4.1: (last term, last index), compared lexicographically.
  static std::pair<core::Term, core::Index> position(const core::MemoryLogStorage& log) {
    return {log.term(log.last_index()).value_or(0), log.last_index()};
  }

  // The voter sets of a configuration: one, or both halves of a joint one.
  static std::vector<std::vector<core::NodeId>> voter_sets(const pb::Configuration& c) {
    std::vector<std::vector<core::NodeId>> out;
    out.emplace_back(c.voters().begin(), c.voters().end());
    if (c.voters_outgoing_size() > 0)
      out.emplace_back(c.voters_outgoing().begin(), c.voters_outgoing().end());
    return out;
  }
  static int majority(const std::vector<core::NodeId>& voters) {
    return static_cast<int>(voters.size()) / 2 + 1;
  }
  static std::string list(const std::vector<core::NodeId>& ids) {
    std::string out;
    for (core::NodeId id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
    return "{" + out + "}";
  }

  // Judged against the committer's configuration C: a majority of each voter set of C
  // holds the entry durably (Committed Is Durable), and in correct Raft every node
  // lacking a committed entry has a less up-to-date log than every node holding it,
  // so no node lacking it may gather a majority of either set of C. (A node with an
  // older configuration needs a majority of that one; in correct Raft it overlaps C's,
  // so judging by C is sound; each candidate is also judged against its own
  // configuration, which catches overlapping changes with disjoint majorities.)
  bool committed_is_safe(const SimNode& committer, core::Index j) {
    const Committed& c = committed_[j - 1];
    const std::vector<std::vector<core::NodeId>> sets =
        voter_sets(committer.core().configuration());
    const int count = cluster().node_count();
    for (int x = 1; x <= count; ++x) {
      const SimNode& candidate = cluster().node(static_cast<core::NodeId>(x));
      for (const core::MemoryLogStorage* log :
           {&candidate.disk().written(), &candidate.disk().durable()}) {
        if (holds(*log, j, c.term)) continue;
        // Who could vote for a candidate with this log: itself, and every node whose
        // log (now, or after a crash) is not more up to date.
        const auto candidate_position = position(*log);
        for (const std::vector<core::NodeId>& voters : sets) {
          std::vector<core::NodeId> granted;
          for (core::NodeId y : voters) {
            const SimNode& voter = cluster().node(y);
            if (y == candidate.id() || candidate_position >= position(voter.disk().written()) ||
                candidate_position >= position(voter.disk().durable())) {
              granted.push_back(y);
            }
          }
          if (static_cast<int>(granted.size()) >= majority(voters)) {
            fail(property::kCommittedIsSafe, candidate.id(), c.term, j,
                 node_label(committer.id()) + " committed entry " + entry_name(j, c.term) +
                     ", but " + node_label(candidate.id()) +
                     (log == &candidate.disk().written() ? "" : " (after a crash)") +
                     " lacks it with a log ending at " +
                     entry_name(candidate_position.second, candidate_position.first) +
                     ", at least as up to date as the logs of nodes " + list(granted) +
                     ", a majority of the voters " + list(voters) + ": it could be elected");
            return false;
          }
        }
        // The candidate campaigns with its own configuration (the latest in its
        // written log): it must not be able to win that one either (every voter set).
        if (log != &candidate.disk().written() || !candidate.up()) continue;
        const pb::Configuration& own = candidate.core().configuration();
        if (!is_voter(own, candidate.id())) continue;
        std::string winnable;
        bool wins = true;
        for (const std::vector<core::NodeId>& voters : voter_sets(own)) {
          std::vector<core::NodeId> granted;
          for (core::NodeId y : voters) {
            if (y > static_cast<core::NodeId>(count)) continue;
            const SimNode& voter = cluster().node(y);
            if (y == candidate.id() || candidate_position >= position(voter.disk().written()) ||
                candidate_position >= position(voter.disk().durable())) {
              granted.push_back(y);
            }
          }
          wins = wins && static_cast<int>(granted.size()) >= majority(voters);
          winnable += (winnable.empty() ? "" : " and ") + list(granted) + " of " + list(voters);
        }
        if (wins) {
          fail(property::kCommittedIsSafe, candidate.id(), c.term, j,
               node_label(committer.id()) + " committed entry " + entry_name(j, c.term) + ", but " +
                   node_label(candidate.id()) + " lacks it with a log ending at " +
                   entry_name(candidate_position.second, candidate_position.first) +
                   ", at least as up to date as the logs of nodes " + winnable +
                   ", a majority of its own configuration " + core::describe(own) +
                   ": it could be elected");
          return false;
        }
      }
    }
    return true;
  }
  static bool is_voter(const pb::Configuration& c, core::NodeId id) {
    return std::find(c.voters().begin(), c.voters().end(), id) != c.voters().end() ||
           std::find(c.voters_outgoing().begin(), c.voters_outgoing().end(), id) !=
               c.voters_outgoing().end();
  }

  bool leader_has(const SimNode& leader, core::Index i) {
    const Committed& c = committed_[i - 1];
    const core::Term leader_term = leader.core().term();
    if (leader_term <= c.commit_term) return true;
    if (holds(leader.disk().written(), i, c.term)) return true;
    const auto held = leader.disk().written().term(i);
    fail(property::kLeaderCompleteness, leader.id(), leader_term, i,
         "leader " + node_label(leader.id()) + " of term " + std::to_string(leader_term) +
             " lacks entry " + entry_name(i, c.term) + ", committed in term " +
             std::to_string(c.commit_term) + " or earlier (" +
             (held ? "it holds term " + std::to_string(*held)
                   : "its log ends at " + std::to_string(leader.disk().written().last_index())) +
             " there)");
    return false;
  }

  std::vector<Committed> committed_;  // committed_[i - 1]: index i
  std::vector<NodeState> states_;
};

}  // namespace

std::unique_ptr<Checker> make_leader_append_only_checker() {
  return std::make_unique<LeaderAppendOnlyChecker>();
}
std::unique_ptr<Checker> make_log_matching_checker() {
  return std::make_unique<LogMatchingChecker>();
}
std::unique_ptr<Checker> make_commit_checker() {
  return std::make_unique<CommitChecker>();
}

}  // namespace raft::sim
