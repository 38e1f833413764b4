// Checkers of terms and votes: Election Safety, One Vote Per Term, Durable Before
// Promise, Term Monotonic and Commit Monotonic.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "src/core/confchange.h"
#include "tests/sim/checkers.h"

namespace raft::sim {
namespace {

// Election Safety (Figure 3): at most one leader can be elected in a given term.
// Recorded over the whole run and over every node — voters, learners, removed nodes,
// spares — whatever configuration each believes in, so two leaders elected by
// majorities of different configurations (overlapping changes, a removed node
// elected by its stale configuration) are caught. Only Voters Lead: a node becomes
// leader only as a voter of its own configuration (either half of a joint one); a
// leader may then remove itself, and leads until that change commits.
class ElectionSafetyChecker final : public Checker {
 public:
  void after_event(const SimNode& node) override {
    const core::Raft& core = node.core();
    if (core.role() != core::Role::kLeader) return;
    auto [it, inserted] = leaders_.emplace(core.term(), node.id());
    if (!inserted && it->second != node.id()) {
      fail(property::kElectionSafety, node.id(), core.term(), 0,
           node_label(it->second) + " and " + node_label(node.id()) +
               " were both leaders of term " + std::to_string(core.term()));
      return;
    }
    if (inserted) {
      const pb::Configuration& c = core.configuration();
      const auto voter = [&](const google::protobuf::RepeatedField<std::uint64_t>& ids) {
        return std::find(ids.begin(), ids.end(), node.id()) != ids.end();
      };
      if (!voter(c.voters()) && !voter(c.voters_outgoing())) {
        fail(property::kOnlyVotersLead, node.id(), core.term(), 0,
             node_label(node.id()) + " became leader of term " + std::to_string(core.term()) +
                 " but is no voter of its configuration " + core::describe(c));
      }
    }
  }

 private:
  std::unordered_map<core::Term, core::NodeId> leaders_;
};

// One Vote Per Term, seen on the wire, and Durable Before Promise for votes and
// append acknowledgements.
class VoteChecker final : public Checker {
 public:
  void on_send(const SimNode& from, const pb::Message& m) override {
    if (!m.has_vote_response() && !m.has_append_response()) return;
    const pb::HardState durable = from.disk().durable().hard_state();
    if (m.has_vote_response() && m.vote_response().granted() && !m.vote_response().pre_vote()) {
      auto [it, inserted] = votes_.emplace(std::make_pair(from.id(), m.term()), m.to());
      if (!inserted && it->second != m.to()) {
        fail(property::kOneVotePerTerm, from.id(), m.term(), 0,
             node_label(from.id()) + " granted its vote in term " + std::to_string(m.term()) +
                 " to both node " + std::to_string(it->second) + " and node " +
                 std::to_string(m.to()));
        return;
      }
      if (durable.term() < m.term() || (durable.term() == m.term() && durable.vote() != m.to())) {
        fail(property::kDurableBeforePromise, from.id(), m.term(), 0,
             node_label(from.id()) + " granted its vote in term " + std::to_string(m.term()) +
                 " to node " + std::to_string(m.to()) + " while its durable hard state is term " +
                 std::to_string(durable.term()) + ", vote " + std::to_string(durable.vote()));
      }
      return;
    }
    if (m.has_append_response() && m.append_response().success()) {
      // "I hold your entries up to index": they must be durable (in the term the
      // acknowledgement is sent in; a later term's truncation may already be durable).
      const core::Index index = m.append_response().index();
      if (durable.term() < m.term()) {
        fail(property::kDurableBeforePromise, from.id(), m.term(), index,
             node_label(from.id()) + " acknowledged entries in term " + std::to_string(m.term()) +
                 " before that term was durable (durable term " + std::to_string(durable.term()) +
                 ")");
      } else if (durable.term() == m.term() && from.disk().durable().last_index() < index) {
        fail(property::kDurableBeforePromise, from.id(), m.term(), index,
             node_label(from.id()) + " acknowledged entries up to index " + std::to_string(index) +
                 " but durably holds only up to " +
                 std::to_string(from.disk().durable().last_index()));
      }
    }
  }

 private:
  std::map<std::pair<core::NodeId, core::Term>, core::NodeId> votes_;
};

// Term Monotonic (running and durable), the durable vote never changing within a term,
// and Commit Monotonic while a node runs.
class MonotonicChecker final : public Checker {
 public:
  void after_event(const SimNode& node) override {
    State& s = state(node.id());
    const core::Raft& core = node.core();
    if (core.term() < s.term) {
      fail(property::kTermMonotonic, node.id(), core.term(), 0,
           node_label(node.id()) + "'s term went back from " + std::to_string(s.term) + " to " +
               std::to_string(core.term()));
    }
    if (core.commit_index() < s.commit) {
      fail(property::kCommitMonotonic, node.id(), core.term(), core.commit_index(),
           node_label(node.id()) + "'s commit index went back from " + std::to_string(s.commit) +
               " to " + std::to_string(core.commit_index()));
    }
    s.term = core.term();
    s.commit = core.commit_index();
  }
  void on_start(const SimNode& node) override {
    State& s = state(node.id());
    check_durable(node, "restarted");
    s.term = node.core().term();
    s.commit = node.core().commit_index();
  }
  void on_sync(const SimNode& node) override { check_durable(node, "synced"); }
  void on_crash(const SimNode& node) override { check_durable(node, "crashed"); }

 private:
  struct State {
    core::Term term = 0;  // running: last seen
    core::Index commit = 0;
    core::Term durable_term = 0;  // across crashes: highest durable
    core::NodeId durable_vote = core::kNoNode;
  };
  State& state(core::NodeId id) {
    if (states_.size() <= id) states_.resize(id + 1);
    return states_[id];
  }
  void check_durable(const SimNode& node, const char* when) {
    State& s = state(node.id());
    const pb::HardState hs = node.disk().durable().hard_state();
    if (hs.term() < s.durable_term) {
      fail(property::kTermMonotonic, node.id(), hs.term(), 0,
           node_label(node.id()) + "'s durable term went back from " +
               std::to_string(s.durable_term) + " to " + std::to_string(hs.term()) + " (" + when +
               ")");
      return;
    }
    if (hs.term() == s.durable_term && s.durable_vote != core::kNoNode &&
        hs.vote() != s.durable_vote) {
      fail(property::kOneVotePerTerm, node.id(), hs.term(), 0,
           node_label(node.id()) + "'s durable vote in term " + std::to_string(hs.term()) +
               " changed from node " + std::to_string(s.durable_vote) + " to node " +
               std::to_string(hs.vote()) + " (" + when + ")");
      return;
    }
    if (hs.term() > s.durable_term || s.durable_vote == core::kNoNode) {
      s.durable_term = hs.term();
      s.durable_vote = hs.vote();
    }
  }

  std::vector<State> states_;
};

}  // namespace

std::unique_ptr<Checker> make_election_safety_checker() {
  return std::make_unique<ElectionSafetyChecker>();
}
std::unique_ptr<Checker> make_vote_checker() {
  return std::make_unique<VoteChecker>();
}
std::unique_ptr<Checker> make_monotonic_checker() {
  return std::make_unique<MonotonicChecker>();
}

}  // namespace raft::sim
