// Checkers of what the state machines do: State Machine Safety and Same Apply
// Sequence for applied entries, and Acknowledged Not Lost for what clients were told.
#include <functional>
#include <string_view>

#include "tests/sim/checkers.h"
#include "tests/sim/membership.h"

namespace raft::sim {
namespace {

std::uint64_t state_hash(const KvStore& kv) {
  std::uint64_t hash = kv.data().size();
  for (const auto& [key, value] : kv.data()) {
    hash = hash * 1'000'003 ^ std::hash<std::string_view>{}(key);
    hash = hash * 1'000'003 ^ std::hash<std::string_view>{}(value);
  }
  return hash;
}

// State Machine Safety (Figure 3): if a server has applied a log entry at a given
// index to its state machine, no other server will ever apply a different log entry
// for the same index; and (what a snapshot must keep) no two state machines differ
// after the same index, however each got there. Same Apply Sequence: each node
// applies 1, 2, 3, ... in order (after a restart, from the one after the snapshot its
// state machine starts from; after installing a snapshot, from the one after it),
// only committed entries, and all nodes end with the same state.
class ApplyChecker final : public Checker {
 public:
  void on_start(const SimNode& node) override {
    if (next_.size() <= node.id()) next_.resize(node.id() + 1, 1);
    next_[node.id()] = node.applied_index() + 1;
    if (node.applied_index() > 0) check_state(node, "restarted from a snapshot");
  }

  void on_state(const SimNode& node, bool restored) override {
    if (restored) next_[node.id()] = node.applied_index() + 1;
    check_state(node, restored ? "restored a snapshot" : "applied");
  }

  void on_apply(const SimNode& node, const pb::Entry& entry) override {
    const core::Index i = entry.index();
    core::Index& next = next_[node.id()];
    if (i != next) {
      fail(property::kSameApplySequence, node.id(), entry.term(), i,
           node_label(node.id()) + " applied index " + std::to_string(i) + " when index " +
               std::to_string(next) + " was next");
      return;
    }
    ++next;
    if (i > node.core().commit_index()) {
      fail(property::kStateMachineSafety, node.id(), entry.term(), i,
           node_label(node.id()) + " applied index " + std::to_string(i) +
               " beyond its commit index " + std::to_string(node.core().commit_index()));
      return;
    }
    if (i > applied_.size()) {
      applied_.push_back(Applied{entry.term(), content_hash(entry), node.id()});
      return;
    }
    const Applied& a = applied_[i - 1];
    if (a.term != entry.term() || a.content != content_hash(entry)) {
      fail(property::kStateMachineSafety, node.id(), entry.term(), i,
           node_label(node.id()) + " applied entry (" + std::to_string(i) + ", term " +
               std::to_string(entry.term()) + ") but " + node_label(a.node) + " applied (" +
               std::to_string(i) + ", term " + std::to_string(a.term) + ")" +
               (a.term == entry.term() ? " with other content" : ""));
    }
  }

  // State Machine Safety of whole states: the node's state after index i is the one
  // the first node to get there had.
  void check_state(const SimNode& node, const char* how) {
    const core::Index i = node.applied_index();
    const std::uint64_t hash = state_hash(node.kv());
    if (states_.size() < i) states_.resize(i);
    State& first = states_[i - 1];
    if (first.node == core::kNoNode) {
      first = State{hash, node.id()};
      return;
    }
    if (first.hash != hash) {
      fail(property::kStateMachineSafety, node.id(), node.applied_term(i), i,
           node_label(node.id()) + " " + how + " up to index " + std::to_string(i) +
               " and holds another key-value state than " + node_label(first.node) + " did there");
    }
  }

  // Every member of the final configuration (removed nodes stopped hearing the log)
  // ends with the leader's state.
  void at_end() override {
    const SimNode* leader = cluster().leader();
    if (leader == nullptr) return;
    for (int id = 1; id <= cluster().node_count(); ++id) {
      const SimNode& other = cluster().node(static_cast<core::NodeId>(id));
      if (!is_member(leader->core().configuration(), other.id())) continue;
      if (other.kv().data() != leader->kv().data()) {
        fail(property::kSameApplySequence, other.id(), 0, other.applied_index(),
             node_label(other.id()) + " ended with a different key-value state than the leader, " +
                 node_label(leader->id()) + " (applied " + std::to_string(other.applied_index()) +
                 " vs " + std::to_string(leader->applied_index()) + ")");
        return;
      }
    }
  }

 private:
  struct Applied {
    core::Term term;
    std::uint64_t content;
    core::NodeId node;
  };
  struct State {
    std::uint64_t hash = 0;
    core::NodeId node = core::kNoNode;  // the first node seen with a state at its index
  };
  std::vector<Applied> applied_;  // applied_[i - 1]: index i
  std::vector<State> states_;     // states_[i - 1]: after index i
  std::vector<core::Index> next_;
};

// Acknowledged Not Lost: every operation a client was told succeeded is, once the
// cluster has converged, at its (index, term) in the applied sequence of every member
// of the final configuration. A member whose state machine got past the index by
// restoring a snapshot is judged by the entry the first node applied there (the
// ApplyChecker holds every state at an index to the first node's). (Reads served
// without the log have no index: the linearizability check covers them.)
class AcknowledgedChecker final : public Checker {
 public:
  void on_acknowledged(const ClientReply& reply, const Operation& /*op*/) override {
    if (reply.index != 0) acknowledged_.push_back(reply);
  }
  void on_apply(const SimNode& /*node*/, const pb::Entry& entry) override {
    if (entry.index() > first_applied_terms_.size()) first_applied_terms_.push_back(entry.term());
  }
  void at_end() override {
    const SimNode* leader = cluster().leader();
    if (leader == nullptr) return;
    for (const ClientReply& ack : acknowledged_) {
      for (int id = 1; id <= cluster().node_count(); ++id) {
        const SimNode& node = cluster().node(static_cast<core::NodeId>(id));
        if (!is_member(leader->core().configuration(), node.id())) continue;
        core::Term applied = node.applied_term(ack.index);
        if (applied == 0 && node.applied_index() >= ack.index &&
            ack.index <= first_applied_terms_.size()) {
          applied = first_applied_terms_[ack.index - 1];  // restored past it
        }
        if (applied != ack.term) {
          fail(property::kAcknowledgedNotLost, node.id(), ack.term, ack.index,
               "client " + std::to_string(ack.client) + " was told its operation committed at (" +
                   std::to_string(ack.index) + ", term " + std::to_string(ack.term) + ") but " +
                   node_label(node.id()) +
                   (applied == 0 ? " never applied that index"
                                 : " applied term " + std::to_string(applied) + " there"));
          return;
        }
      }
    }
  }

 private:
  std::vector<ClientReply> acknowledged_;
  std::vector<core::Term> first_applied_terms_;  // [i - 1]: index i, by the first node there
};

}  // namespace

std::unique_ptr<Checker> make_apply_checker() {
  return std::make_unique<ApplyChecker>();
}
std::unique_ptr<Checker> make_acknowledged_checker() {
  return std::make_unique<AcknowledgedChecker>();
}

}  // namespace raft::sim
