// Checker of reads served without the log: Read Sees Committed.
//
// A get served by ReadIndex or by lease is answered from the serving node's store. It
// is linearizable only if that store reflects every entry committed anywhere before
// the request reached the node: a write acknowledged before the read began must be
// visible to it (dissertation §6.4). So when a node serves such a read, its applied
// index must be at least the highest commit index any node had reached when the
// request arrived. A deposed leader that serves a read without confirming its
// leadership (or on a lease that no longer holds) fails this at once, whether or not
// the client history happens to expose the stale value.
#include <map>

#include "tests/sim/checkers.h"

namespace raft::sim {
namespace {

class ReadChecker final : public Checker {
 public:
  void after_event(const SimNode& node) override {
    max_commit_ = std::max(max_commit_, node.core().commit_index());
  }
  void on_request(const SimNode& /*node*/, const ClientRequest& request) override {
    if (request.command.kind != CommandKind::kGet || request.read_path == ReadPath::kLog) return;
    arrival_commit_[{request.client, request.attempt}] = max_commit_;
  }
  void on_read_served(const SimNode& node, const ClientRequest& request) override {
    auto it = arrival_commit_.find({request.client, request.attempt});
    if (it == arrival_commit_.end()) return;
    const core::Index required = it->second;
    arrival_commit_.erase(it);
    if (node.applied_index() >= required) return;
    fail(property::kReadSeesCommitted, node.id(), node.core().term(), required,
         node_label(node.id()) + " (" + core::to_string(node.core().role()) + " of term " +
             std::to_string(node.core().term()) + ") served client " +
             std::to_string(request.client) + "'s get(" + request.command.key + ") by " +
             to_string(request.read_path) + " from a store applied up to index " +
             std::to_string(node.applied_index()) + ", but index " + std::to_string(required) +
             " was committed before the request arrived");
  }

 private:
  core::Index max_commit_ = 0;  // the highest commit index any node has reached
  std::map<std::pair<int, std::uint64_t>, core::Index> arrival_commit_;  // (client, attempt)
};

}  // namespace

std::unique_ptr<Checker> make_read_checker() {
  return std::make_unique<ReadChecker>();
}

}  // namespace raft::sim
