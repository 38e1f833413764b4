// Helpers for driving one consensus core by hand in unit tests: message builders, log
// builders, and a Peer (a Raft over its own MemoryLogStorage) whose Readies the test
// takes, persists and inspects step by step. Multi-node tests use TestCluster
// (test_cluster.h); these are for tests that need to see or withhold a single
// message or a single persist.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "src/core/memory_storage.h"
#include "src/core/raft.h"
#include "tests/core/test_cluster.h"

namespace raft::core::testing {

// The paper's Figure 2 rules, without the dissertation's extensions (PreVote and
// CheckQuorum are on by default in Options; tests that check them turn them on).
inline Options paper_options(NodeId id, std::uint64_t seed = 1) {
  Options options;
  options.id = id;
  options.random_seed = seed;
  options.election_timeout_ticks = 10;
  options.heartbeat_interval_ticks = 1;
  options.pre_vote = false;
  options.check_quorum = false;
  return options;
}

inline pb::Entry make_entry(Index index, Term term, std::string data = "",
                            pb::EntryType type = pb::ENTRY_NORMAL) {
  pb::Entry entry;
  entry.set_index(index);
  entry.set_term(term);
  entry.set_type(type);
  entry.set_data(std::move(data));
  return entry;
}

// Consecutive entries from index `first` with the given terms.
inline std::vector<pb::Entry> log_of_terms(const std::vector<Term>& terms, Index first = 1) {
  std::vector<pb::Entry> out;
  for (Term term : terms) {
    const Index index = first + out.size();
    out.push_back(
        make_entry(index, term, "e" + std::to_string(index) + "t" + std::to_string(term)));
  }
  return out;
}

inline std::vector<Term> terms_of(const std::vector<pb::Entry>& entries) {
  std::vector<Term> out;
  for (const pb::Entry& entry : entries) out.push_back(entry.term());
  return out;
}

inline pb::HardState make_hard_state(Term term, NodeId vote = kNoNode, Index commit = 0) {
  pb::HardState state;
  state.set_term(term);
  state.set_vote(vote);
  state.set_commit(commit);
  return state;
}

inline pb::Message make_message(NodeId from, NodeId to, Term term) {
  pb::Message m;
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

inline pb::Message vote_request(NodeId from, NodeId to, Term term, Term last_log_term,
                                Index last_log_index, bool pre_vote = false) {
  pb::Message m = make_message(from, to, term);
  m.mutable_vote_request()->set_last_log_term(last_log_term);
  m.mutable_vote_request()->set_last_log_index(last_log_index);
  m.mutable_vote_request()->set_pre_vote(pre_vote);
  return m;
}

inline pb::Message vote_response(NodeId from, NodeId to, Term term, bool granted,
                                 bool pre_vote = false) {
  pb::Message m = make_message(from, to, term);
  m.mutable_vote_response()->set_granted(granted);
  m.mutable_vote_response()->set_pre_vote(pre_vote);
  return m;
}

inline pb::Message append_request(NodeId from, NodeId to, Term term, Index prev_index,
                                  Term prev_term, const std::vector<pb::Entry>& entries,
                                  Index commit) {
  pb::Message m = make_message(from, to, term);
  pb::AppendRequest* request = m.mutable_append_request();
  request->set_prev_log_index(prev_index);
  request->set_prev_log_term(prev_term);
  request->set_commit(commit);
  for (const pb::Entry& entry : entries) *request->add_entries() = entry;
  return m;
}

inline pb::Message append_response(NodeId from, NodeId to, Term term, Index index) {
  pb::Message m = make_message(from, to, term);
  m.mutable_append_response()->set_success(true);
  m.mutable_append_response()->set_index(index);
  m.mutable_append_response()->set_last_index(index);
  return m;
}

inline pb::Message append_rejection(NodeId from, NodeId to, Term term, Index rejected,
                                    Index conflict_index, Term conflict_term) {
  pb::Message m = make_message(from, to, term);
  pb::AppendResponse* response = m.mutable_append_response();
  response->set_success(false);
  response->set_index(rejected);
  response->set_conflict_index(conflict_index);
  response->set_conflict_term(conflict_term);
  return m;
}

inline pb::Message heartbeat_request(NodeId from, NodeId to, Term term, Index commit) {
  pb::Message m = make_message(from, to, term);
  m.mutable_heartbeat_request()->set_commit(commit);
  return m;
}

inline pb::Message heartbeat_response(NodeId from, NodeId to, Term term) {
  pb::Message m = make_message(from, to, term);
  m.mutable_heartbeat_response();
  return m;
}

inline std::vector<pb::Message> filter_messages(
    const std::vector<pb::Message>& messages, const std::function<bool(const pb::Message&)>& keep) {
  std::vector<pb::Message> out;
  for (const pb::Message& m : messages) {
    if (keep(m)) out.push_back(m);
  }
  return out;
}

inline std::vector<pb::Message> appends_to(const std::vector<pb::Message>& messages, NodeId to) {
  return filter_messages(
      messages, [to](const pb::Message& m) { return m.to() == to && m.has_append_request(); });
}

// One core over its own in-memory storage, driven by hand.
class Peer {
 public:
  Peer(const Options& options, const pb::Configuration& configuration,
       const std::vector<pb::Entry>& log = {}, const pb::HardState& hard_state = {})
      : storage_(std::make_unique<MemoryLogStorage>(configuration)) {
    storage_->append(log);
    storage_->set_hard_state(hard_state);
    raft_ = std::make_unique<Raft>(options, *storage_);
  }

  Raft& raft() { return *raft_; }
  Raft* operator->() { return raft_.get(); }
  MemoryLogStorage& storage() { return *storage_; }

  // Takes a Ready without persisting it.
  Ready take() { return raft_->ready(); }

  // Does steps 2–4 of the Ready contract for `ready`: persist, on_persisted, apply.
  void persist(const Ready& ready) {
    if (ready.snapshot) storage_->install_snapshot(*ready.snapshot);
    storage_->append(ready.entries);
    if (ready.hard_state) storage_->set_hard_state(*ready.hard_state);
    raft_->on_persisted(ready.persist_mark);
    for (const pb::Entry& entry : ready.committed_entries) applied_.push_back(entry);
    if (!ready.committed_entries.empty()) raft_->on_applied(ready.committed_entries.back().index());
  }

  // Takes and persists one Ready; returns it.
  Ready take_and_persist() {
    Ready ready = take();
    persist(ready);
    return ready;
  }

  // Handles every pending Ready; returns all the messages they carried (those to send
  // at once and those sent after persisting), in order.
  std::vector<pb::Message> drain() {
    std::vector<pb::Message> out;
    while (raft_->has_ready()) {
      Ready ready = take_and_persist();
      for (pb::Message& m : ready.messages) out.push_back(std::move(m));
      for (pb::Message& m : ready.persisted_messages) out.push_back(std::move(m));
    }
    return out;
  }

  // Steps `m`, then drains.
  std::vector<pb::Message> step(const pb::Message& m) {
    raft_->step(m);
    return drain();
  }

  // The durable log.
  std::vector<pb::Entry> log() const {
    std::vector<pb::Entry> out;
    storage_->entries(storage_->first_index(), storage_->last_index() + 1, kNoLimit, &out);
    return out;
  }
  // Committed entries handed out to apply so far.
  const std::vector<pb::Entry>& applied() const { return applied_; }

 private:
  std::unique_ptr<MemoryLogStorage> storage_;
  std::unique_ptr<Raft> raft_;
  std::vector<pb::Entry> applied_;
};

// Makes `peer` leader by hand: it campaigns (its own vote persisted) and every other
// voter in `others` grants. Returns the messages of the election's last Ready (the
// new leader's first appends).
inline std::vector<pb::Message> make_leader(Peer& peer, std::initializer_list<NodeId> others) {
  peer->campaign();
  peer.drain();
  std::vector<pb::Message> out;
  for (NodeId other : others) {
    std::vector<pb::Message> more =
        peer.step(vote_response(other, peer->id(), peer->term(), /*granted=*/true));
    out.insert(out.end(), more.begin(), more.end());
    if (peer->role() == Role::kLeader) break;
  }
  return out;
}

}  // namespace raft::core::testing
