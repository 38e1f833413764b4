#include "src/node/force_new_cluster.h"

#include <algorithm>
#include <future>
#include <vector>

#include "src/core/confchange.h"

namespace raft {

namespace {

// The configuration in force at the end of the log: the newest configuration entry,
// or the snapshot's. Configurations take effect when appended, committed or not.
pb::Configuration configuration_in_force(const LogStore& store) {
  pb::Configuration newest = store.snapshot_metadata().configuration();
  core::for_each_configuration_entry(store, [&newest](const pb::Entry& entry) {
    pb::ConfChange change;
    if (change.ParseFromString(entry.data()) && change.has_configuration()) {
      newest = change.configuration();
    }
  });
  return newest;
}

}  // namespace

Status force_new_cluster(LogStore& store, NodeId id, std::string* describe_old, bool* changed) {
  if (changed != nullptr) *changed = false;
  const pb::Configuration old = configuration_in_force(store);
  if (!core::is_member(old, id)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "cannot force a new cluster: the stored configuration (" +
            core::describe(old, /*with_names=*/true) +
            ") does not name this node; only a member's data can seed the new cluster");
  }
  // By name: the members it lists are about to leave every configuration, so nothing
  // later would tell a reader of the log line which ids they were.
  if (describe_old != nullptr) *describe_old = core::describe(old, /*with_names=*/true);
  if (old.voters_size() == 1 && old.voters_outgoing_size() == 0 && old.learners_size() == 0 &&
      old.learners_next_size() == 0) {
    return Ok{};  // this node is already the only member
  }

  // The entry records the change as removals of everyone else, so the log reads as
  // what happened, and the resulting configuration, which is what every reader of a
  // configuration entry adopts (the removals are never replayed). The context marks
  // it for anyone reading the log with tools.
  pb::ConfChange change;
  for (NodeId other : core::member_ids(old)) {
    if (other == id) continue;
    pb::ConfChangeSingle* removal = change.add_changes();
    removal->set_type(pb::CONF_REMOVE);
    removal->mutable_member()->set_id(other);
  }
  change.set_context("force-new-cluster");
  pb::Configuration& sole = *change.mutable_configuration();
  sole.add_voters(id);
  const auto self = std::find_if(old.members().begin(), old.members().end(),
                                 [id](const pb::Member& m) { return m.id() == id; });
  if (self != old.members().end()) {
    *sole.add_members() = *self;
  } else {
    sole.add_members()->set_id(id);  // addresses come from the node's options
  }

  // A term no entry of this log has: the new entry cannot be confused with one a lost
  // leader wrote at the same index. The vote is this node's own, as a candidate's.
  const pb::HardState stored = store.hard_state();
  const Term last_term = store.term(store.last_index()).value_or(0);
  pb::HardState hard_state = stored;
  hard_state.set_term(std::max(stored.term(), last_term) + 1);
  hard_state.set_vote(id);

  pb::Entry entry;
  entry.set_term(hard_state.term());
  entry.set_index(store.last_index() + 1);
  entry.set_type(pb::ENTRY_CONF_CHANGE);
  entry.set_data(change.SerializeAsString());

  LogWrite write;
  write.entries.push_back(std::move(entry));
  write.hard_state = hard_state;
  std::promise<Status> written;
  store.submit(std::move(write), [&written](const Status& s) { written.set_value(s); });
  Status status = written.get_future().get();
  if (changed != nullptr) *changed = status.ok();
  return status;
}

}  // namespace raft
