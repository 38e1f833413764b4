// Checker of the membership-change rule: One Change At A Time.
//
// Dissertation §4.1: a leader begins a configuration change only once every earlier
// one in its log is committed, and (the 2015 fix for single-server changes) only
// once it has committed an entry of its own term. Otherwise two changes can be in
// flight together, and a configuration two changes away from another can have a
// majority disjoint from it: two leaders, or two different commits, become possible.
// The consequences are caught by Election Safety and Committed Is Safe when a fault
// schedule happens to build them; this checker catches the rule being broken at the
// moment a leader writes the second change.
#include <set>

#include "tests/sim/checkers.h"

namespace raft::sim {
namespace {

class ConfigChangeChecker final : public Checker {
 public:
  void on_start(const SimNode& node) override {
    std::set<core::Index>& changes = changes_of(node.id());
    changes.clear();
    const core::MemoryLogStorage& log = node.disk().written();
    core::Index next = log.first_index();
    const core::Index end = log.last_index() + 1;
    while (next < end) {
      std::vector<pb::Entry> batch;
      log.entries(next, end, 1 << 20, &batch);
      if (batch.empty()) break;
      for (const pb::Entry& entry : batch) {
        if (entry.type() == pb::ENTRY_CONF_CHANGE) changes.insert(entry.index());
      }
      next = batch.back().index() + 1;
    }
  }

  void before_write(const SimNode& node, const core::Ready& ready) override {
    const core::Raft& core = node.core();
    if (core.role() != core::Role::kLeader || ready.entries.empty()) return;
    const std::set<core::Index>& changes = changes_of(node.id());
    const core::Index commit = core.commit_index();
    core::Index previous = 0;  // the latest change before the entry being checked
    auto it = changes.lower_bound(ready.entries.front().index());
    if (it != changes.begin()) previous = *std::prev(it);
    for (const pb::Entry& entry : ready.entries) {
      if (entry.type() != pb::ENTRY_CONF_CHANGE) continue;
      if (previous > commit) {
        fail(property::kOneChangeAtATime, node.id(), core.term(), entry.index(),
             "leader " + node_label(node.id()) + " of term " + std::to_string(core.term()) +
                 " appended a configuration change at index " + std::to_string(entry.index()) +
                 " while the change at index " + std::to_string(previous) +
                 " was not committed (commit index " + std::to_string(commit) + ")");
        return;
      }
      const auto commit_term = node.disk().written().term(commit);
      if (commit_term.value_or(0) != core.term()) {
        fail(property::kOneChangeAtATime, node.id(), core.term(), entry.index(),
             "leader " + node_label(node.id()) + " of term " + std::to_string(core.term()) +
                 " appended a configuration change at index " + std::to_string(entry.index()) +
                 " before committing an entry of its term (commit index " + std::to_string(commit) +
                 " of term " + std::to_string(commit_term.value_or(0)) + ")");
        return;
      }
      previous = entry.index();
    }
  }

  void after_write(const SimNode& node, const core::Ready& ready) override {
    std::set<core::Index>& changes = changes_of(node.id());
    // An installed snapshot replaced the log: every change it covers is committed.
    if (ready.snapshot) changes.clear();
    if (ready.entries.empty()) return;
    // The write replaced the log from its first entry on.
    changes.erase(changes.lower_bound(ready.entries.front().index()), changes.end());
    for (const pb::Entry& entry : ready.entries) {
      if (entry.type() == pb::ENTRY_CONF_CHANGE) changes.insert(entry.index());
    }
  }

 private:
  std::set<core::Index>& changes_of(core::NodeId id) {
    if (changes_.size() <= id) changes_.resize(id + 1);
    return changes_[id];
  }
  std::vector<std::set<core::Index>> changes_;  // per node: conf entries in its written log
};

}  // namespace

std::unique_ptr<Checker> make_config_change_checker() {
  return std::make_unique<ConfigChangeChecker>();
}

}  // namespace raft::sim
