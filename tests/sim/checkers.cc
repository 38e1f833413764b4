#include "tests/sim/checkers.h"

#include <cstdio>
#include <functional>
#include <string_view>

namespace raft::sim {

std::string Violation::describe() const {
  char where[160];
  std::snprintf(where, sizeof where, "at %.1fs (tick %llu)", static_cast<double>(time_ms) / 1000.0,
                static_cast<unsigned long long>(time_ms / kMsPerTick));
  std::string out = "[" + property + "]";
  if (node != core::kNoNode) out += " " + node_label(node) + ",";
  if (term != 0) out += " term " + std::to_string(term) + ",";
  if (index != 0) out += " index " + std::to_string(index) + ",";
  out += " ";
  out += where;
  out += ": " + detail;
  return out;
}

void Checker::fail(const char* property, core::NodeId node, core::Term term, core::Index index,
                   std::string detail) {
  if (sink_->has_value() || ignored_->count(property) > 0) return;
  *sink_ = Violation{property, node, term, index, cluster_->now(), std::move(detail)};
}

std::string node_label(core::NodeId id) {
  return "node " + std::to_string(id);
}

std::uint64_t content_hash(const pb::Entry& entry) {
  return std::hash<std::string_view>{}(entry.data()) * 31 +
         static_cast<std::uint64_t>(entry.type());
}

std::vector<std::unique_ptr<Checker>> make_checkers() {
  std::vector<std::unique_ptr<Checker>> out;
  out.push_back(make_election_safety_checker());
  out.push_back(make_vote_checker());
  out.push_back(make_monotonic_checker());
  out.push_back(make_leader_append_only_checker());
  out.push_back(make_log_matching_checker());
  out.push_back(make_commit_checker());
  out.push_back(make_apply_checker());
  out.push_back(make_acknowledged_checker());
  out.push_back(make_config_change_checker());
  out.push_back(make_read_checker());
  return out;
}

}  // namespace raft::sim
