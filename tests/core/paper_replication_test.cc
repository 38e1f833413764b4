// Log replication, checked rule by rule against the Raft paper (Ongaro & Ousterhout,
// 2014): §5.3 log replication (AppendEntries, consistency check, conflict truncation,
// commit propagation, the conflict hint) and §5.4 safety of commitment; plus the
// leader's flow control (probe/replicate, the pipelining window, byte limits) and the
// durability rules of the Ready contract (ready.h).
//
// PreVote and CheckQuorum (on by default) play no part here; they are off
// (paper_options()) so no test depends on them.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/core/core_test_util.h"

namespace raft::core::testing {
namespace {

const Status::Peer* peer_status(const Status& status, NodeId id) {
  for (const Status::Peer& peer : status.peers) {
    if (peer.id == id) return &peer;
  }
  return nullptr;
}

std::string peer_state(Peer& leader, NodeId id) {
  const Status status = leader->status();
  const Status::Peer* peer = peer_status(status, id);
  return peer == nullptr ? "none" : peer->state;
}

// A leader (node 1 of {1, 2, 3}) in term 2 whose no-op (index 1) is durable, with the
// given followers already acknowledging it (so they are in replicate mode).
std::unique_ptr<Peer> leader_with(std::initializer_list<NodeId> acked,
                                  const Options& options = paper_options(1)) {
  auto leader = std::make_unique<Peer>(options, voters({1, 2, 3}), std::vector<pb::Entry>{},
                                       make_hard_state(1));
  make_leader(*leader, {2});
  leader->drain();
  for (NodeId id : acked) leader->step(append_response(id, 1, 2, 1));
  return leader;
}

std::vector<pb::Message> entry_appends_to(const std::vector<pb::Message>& messages, NodeId to) {
  return filter_messages(messages, [to](const pb::Message& m) {
    return m.to() == to && m.has_append_request() && m.append_request().entries_size() > 0;
  });
}

// ---------------------------------------------------------------------------
// §5.3: the leader

// "Once a leader has been elected, it begins servicing client requests ... The leader
// appends the command to its log as a new entry, then issues AppendEntries RPCs in
// parallel to each of the other servers" (§5.3); once committed, every server applies it.
TEST(Paper5_3_Replication, LeaderAppendsProposalAndReplicates) {
  TestCluster cluster(3, 1, [](Options& o) { o.pre_vote = o.check_quorum = false; });
  const NodeId leader = cluster.elect();
  ASSERT_NE(leader, kNoNode);
  const Term term = cluster.node(leader).term();
  const Index before = cluster.node(leader).last_index();
  const ProposeResult result = cluster.propose(leader, "x");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.first_index, before + 1);
  EXPECT_EQ(result.last_index, before + 1);
  EXPECT_EQ(result.term, term);
  const std::vector<pb::Entry> log = cluster.log(leader);
  ASSERT_EQ(log.size(), before + 1);
  EXPECT_EQ(log.back().data(), "x");
  EXPECT_EQ(log.back().term(), term);
  EXPECT_EQ(log.back().type(), pb::ENTRY_NORMAL);

  int appends = 0;
  for (const pb::Message& m : cluster.queue()) {
    if (!m.has_append_request() || m.append_request().entries_size() == 0) continue;
    ++appends;
    EXPECT_EQ(m.append_request().prev_log_index(), before);
    EXPECT_EQ(m.append_request().entries(0).data(), "x");
  }
  EXPECT_EQ(appends, 2) << "one AppendEntries to each follower";

  cluster.stabilize();
  for (NodeId id : cluster.ids()) {
    EXPECT_EQ(cluster.node(id).commit_index(), before + 1) << "node " << id;
    EXPECT_EQ(cluster.applied(id), std::vector<std::string>{"x"}) << "node " << id;
    EXPECT_EQ(terms_of(cluster.log(id)), terms_of(log)) << "node " << id;
  }
}

// Only the leader accepts client requests; others say who the leader is (§8: "If the
// client's first choice is not the leader, that server will reject the client's
// request and supply information about the most recent leader it has heard from").
TEST(Paper5_3_Replication, ProposeOnNonLeaderReturnsNotLeader) {
  Peer follower(paper_options(1), voters({1, 2, 3}), {}, make_hard_state(1));
  follower.step(heartbeat_request(2, 1, 1, 0));
  ProposeResult result = follower->propose("x");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(*result.error, ProposeError::kNotLeader);
  EXPECT_EQ(follower->leader(), 2u);
  EXPECT_EQ(follower->last_index(), 0u);

  follower->campaign();
  follower.drain();
  ASSERT_EQ(follower->role(), Role::kCandidate);
  result = follower->propose("x");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(*result.error, ProposeError::kNotLeader);
  EXPECT_FALSE(follower->has_ready() && !follower.take().entries.empty());
}

// ---------------------------------------------------------------------------
// §5.3: the follower's consistency check

// "Reply false if log doesn't contain an entry at prevLogIndex whose term matches
// prevLogTerm" (Figure 2); otherwise append and answer with the last new index.
TEST(Paper5_3_ConsistencyCheck, AcceptsOnlyWhenPrevEntryMatches) {
  struct Case {
    const char* name;
    Index prev_index;
    Term prev_term;
    bool success;
    Index conflict_index;  // the hint, on rejection
    Term conflict_term;
  };
  // The follower's log: terms [1, 1, 2].
  const Case cases[] = {
      {"matching prev", 3, 2, true, 0, 0},
      {"matching earlier prev", 2, 1, true, 0, 0},
      {"empty prev", 0, 0, true, 0, 0},
      {"missing prev entry", 5, 2, false, 3, 2},
      {"prev term mismatch", 3, 1, false, 2, 1},
      {"prev term mismatch, leader term higher", 3, 3, false, 3, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Peer follower(paper_options(2), voters({1, 2, 3}), log_of_terms({1, 1, 2}), make_hard_state(2));
    const std::vector<pb::Entry> entries = {make_entry(c.prev_index + 1, 3, "new")};
    std::vector<pb::Message> out =
        follower.step(append_request(1, 2, 3, c.prev_index, c.prev_term, entries, 0));
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(out[0].has_append_response());
    const pb::AppendResponse& response = out[0].append_response();
    EXPECT_EQ(response.success(), c.success);
    if (c.success) {
      EXPECT_EQ(response.index(), c.prev_index + 1);
      EXPECT_EQ(follower->last_index(), c.prev_index + 1);
      EXPECT_EQ(follower.log().back().data(), "new");
    } else {
      EXPECT_EQ(response.index(), c.prev_index) << "a rejection names the probe it answers";
      EXPECT_EQ(response.conflict_index(), c.conflict_index);
      EXPECT_EQ(response.conflict_term(), c.conflict_term);
      EXPECT_EQ(terms_of(follower.log()), (std::vector<Term>{1, 1, 2}))
          << "a rejected append changes nothing";
    }
    EXPECT_EQ(response.last_index(), follower->last_index());
  }
}

// "If an existing entry conflicts with a new one (same index but different terms),
// delete the existing entry and all that follow it" (Figure 2) — including entries the
// follower had already persisted.
TEST(Paper5_3_ConsistencyCheck, ConflictTruncatesEntryAndAllThatFollow) {
  Peer follower(paper_options(2), voters({1, 2, 3}), log_of_terms({1, 1, 2, 2, 2}),
                make_hard_state(2, kNoNode, 1));
  follower->step(append_request(1, 2, 3, 2, 1, {make_entry(3, 3, "x")}, 1));
  Ready ready = follower.take();
  ASSERT_EQ(ready.entries.size(), 1u);
  EXPECT_EQ(ready.entries[0].index(), 3u) << "the caller truncates its log at the first new entry";
  EXPECT_EQ(ready.entries[0].term(), 3u);
  EXPECT_EQ(follower->last_index(), 3u);
  follower.persist(ready);
  follower.drain();
  EXPECT_EQ(terms_of(follower.log()), (std::vector<Term>{1, 1, 3}));
}

// The converse: entries the follower already holds are not a conflict. A delayed,
// shorter append must not cut off later entries (they may be committed).
TEST(Paper5_3_ConsistencyCheck, AppendOfHeldEntriesDoesNotTruncate) {
  Peer follower(paper_options(2), voters({1, 2, 3}), log_of_terms({1, 1, 1, 1}),
                make_hard_state(1));
  const std::vector<pb::Entry> held = log_of_terms({1, 1, 1, 1});
  std::vector<pb::Message> out = follower.step(append_request(1, 2, 1, 1, 1, {held[1]}, 0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].append_response().success());
  EXPECT_EQ(out[0].append_response().index(), 2u);
  EXPECT_EQ(follower->last_index(), 4u);
  EXPECT_EQ(follower.log().size(), 4u);
}

// Duplicated and reordered AppendEntries are harmless: each is checked against the
// log as it is, so the follower ends with exactly the leader's log.
TEST(Paper5_3_ConsistencyCheck, DuplicateAndReorderedAppendsAreIdempotent) {
  Options options = paper_options(1);
  options.coalesce_appends = false;  // an append per proposal, all in flight at once
  auto leader = leader_with({2}, options);
  Peer follower(paper_options(2), voters({1, 2, 3}), {}, make_hard_state(1));
  follower.step(append_request(1, 2, 2, 0, 0, {leader->log()[0]}, 0));  // the no-op
  std::vector<pb::Message> to_follower;
  for (const char* command : {"a", "b", "c", "d"}) {
    ASSERT_TRUE((*leader)->propose(command).ok());
    for (const pb::Message& m : appends_to(leader->drain(), 2)) to_follower.push_back(m);
  }
  ASSERT_EQ(to_follower.size(), 4u);

  std::vector<pb::Message> deliveries(to_follower.rbegin(), to_follower.rend());
  deliveries.insert(deliveries.end(), to_follower.begin(), to_follower.end());
  deliveries.insert(deliveries.end(), to_follower.rbegin(), to_follower.rend());
  deliveries.insert(deliveries.end(), to_follower.begin(), to_follower.end());
  Index last = 0;
  for (const pb::Message& m : deliveries) {
    follower.step(m);
    EXPECT_GE(follower->last_index(), last) << "nothing already appended is ever removed";
    last = follower->last_index();
  }
  const std::vector<pb::Entry> expected = leader->log();
  const std::vector<pb::Entry> actual = follower.log();
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(actual[i].SerializeAsString(), expected[i].SerializeAsString()) << "index " << i + 1;
  }
}

// ---------------------------------------------------------------------------
// §5.3: commit propagation

// "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
// entry)" (Figure 2). The cap matters when the follower holds more entries than the
// append covered: those may not match the leader's.
TEST(Paper5_3_Commit, FollowerCommitIsMinOfLeaderCommitAndLastNewEntry) {
  {
    Peer follower(paper_options(2), voters({1, 2, 3}), {}, make_hard_state(1));
    follower.step(append_request(1, 2, 2, 0, 0, log_of_terms({2, 2}), 5));
    EXPECT_EQ(follower->commit_index(), 2u);
  }
  {
    Peer follower(paper_options(2), voters({1, 2, 3}), log_of_terms({1, 1, 1, 1, 1}),
                  make_hard_state(1));
    follower.step(append_request(1, 2, 2, 1, 1, {log_of_terms({1, 1})[1]}, 4));
    EXPECT_EQ(follower->commit_index(), 2u) << "entries 3..5 were not covered by this append";
    EXPECT_EQ(follower->last_index(), 5u);
    follower.step(append_request(1, 2, 2, 3, 1, {}, 1));
    EXPECT_EQ(follower->commit_index(), 2u) << "the commit index never goes back";
    follower.step(append_request(1, 2, 2, 3, 1, {}, 4));
    EXPECT_EQ(follower->commit_index(), 3u);
  }
}

// A heartbeat carries the commit index, capped at what the follower is known to hold
// (its match index), so a follower never commits an entry it may not have.
TEST(Paper5_3_Commit, HeartbeatCarriesCommitCappedAtMatch) {
  auto leader = leader_with({2});
  ASSERT_TRUE((*leader)->propose("x").ok());
  leader->drain();
  leader->step(append_response(2, 1, 2, 2));
  ASSERT_EQ((*leader)->commit_index(), 2u);
  (*leader)->tick();
  std::vector<pb::Message> out = leader->drain();
  int heartbeats = 0;
  for (const pb::Message& m : out) {
    if (!m.has_heartbeat_request()) continue;
    ++heartbeats;
    EXPECT_EQ(m.heartbeat_request().commit(), m.to() == 2 ? 2u : 0u) << "to " << m.to();
  }
  EXPECT_EQ(heartbeats, 2);

  // The follower side: never past its own last entry.
  Peer follower(paper_options(3), voters({1, 2, 3}), log_of_terms({1, 2}), make_hard_state(2));
  follower.step(heartbeat_request(1, 3, 2, 5));
  EXPECT_EQ(follower->commit_index(), 2u);
}

// ---------------------------------------------------------------------------
// §5.3: the conflict hint

// "When rejecting an AppendEntries request, the follower can include the term of the
// conflicting entry and the first index it stores for that term. With this
// information, the leader can decrement nextIndex to bypass all of the conflicting
// entries in that term; one AppendEntries RPC will be required for each term with
// conflicting entries, rather than one RPC per entry" (§5.3). Node 1 leads with its
// log, node 3 holds a copy (to make a majority), node 2 holds the diverging log; the
// test counts node 2's rejections until its log equals the leader's.
TEST(Paper5_3_ConflictHint, FollowerCatchesUpInOneRoundTripPerTerm) {
  auto repeat = [](std::vector<Term>& log, Term term, int count) {
    for (int i = 0; i < count; ++i) log.push_back(term);
  };
  struct Case {
    const char* name;
    std::vector<Term> leader;
    std::vector<Term> follower;
    int max_rejections;
  };
  std::vector<Case> cases;
  {
    Case c{"far behind", {}, {}, 1};
    repeat(c.leader, 1, 10), repeat(c.leader, 2, 500);
    repeat(c.follower, 1, 10);
    cases.push_back(c);
  }
  {
    Case c{"long divergent suffix of an older term", {}, {}, 2};
    repeat(c.leader, 1, 10), repeat(c.leader, 3, 300);
    repeat(c.follower, 1, 10), repeat(c.follower, 2, 1000);
    cases.push_back(c);
  }
  {
    Case c{"divergent suffix with a term above the probe's", {}, {}, 3};
    repeat(c.leader, 1, 10), repeat(c.leader, 2, 300), repeat(c.leader, 4, 10);
    repeat(c.follower, 1, 10), repeat(c.follower, 3, 200);
    cases.push_back(c);
  }
  {
    Case c{"several divergent terms on both sides", {}, {}, 4};
    repeat(c.leader, 1, 10), repeat(c.leader, 4, 100), repeat(c.leader, 6, 100);
    repeat(c.follower, 1, 10), repeat(c.follower, 2, 50), repeat(c.follower, 3, 50),
        repeat(c.follower, 5, 50);
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestCluster cluster(3, 1, [](Options& o) { o.pre_vote = o.check_quorum = false; });
    const Term term = 6;
    cluster.set_log(1, log_of_terms(c.leader), make_hard_state(term));
    cluster.set_log(2, log_of_terms(c.follower), make_hard_state(term));
    cluster.set_log(3, log_of_terms(c.leader), make_hard_state(term));
    int rejections = 0, appends = 0;
    cluster.on_deliver = [&](const pb::Message& m) {
      if (m.from() == 2 && m.has_append_response() && !m.append_response().success()) ++rejections;
      if (m.to() == 2 && m.has_append_request()) ++appends;
    };
    cluster.node(1).campaign();
    cluster.stabilize();
    ASSERT_EQ(cluster.node(1).role(), Role::kLeader);
    EXPECT_EQ(terms_of(cluster.log(2)), terms_of(cluster.log(1)));
    EXPECT_LE(rejections, c.max_rejections);
    EXPECT_LE(appends, c.max_rejections + 3) << "round trips to node 2";
  }
}

// ---------------------------------------------------------------------------
// Flow control: probe and replicate (pipelining) modes, the inflight window.

// Probe mode: the leader does not know where the follower's log matches, so it sends
// one AppendEntries and waits for the answer before sending the next.
TEST(Replication_FlowControl, ProbeModeSendsOneMessageAtATime) {
  auto leader = leader_with({});  // neither follower has answered the first probe
  ASSERT_EQ(peer_state(*leader, 2), "probe");
  for (const char* command : {"a", "b", "c"}) {
    ASSERT_TRUE((*leader)->propose(command).ok());
    EXPECT_TRUE(appends_to(leader->drain(), 2).empty()) << "a probe is outstanding";
  }
  // The answer to the probe (it held the no-op) moves it to replicate mode, and the
  // rest follows at once.
  std::vector<pb::Message> out = leader->step(append_response(2, 1, 2, 1));
  EXPECT_EQ(peer_state(*leader, 2), "replicate");
  std::vector<pb::Message> appends = entry_appends_to(out, 2);
  ASSERT_FALSE(appends.empty());
  EXPECT_EQ(appends.front().append_request().prev_log_index(), 1u);
  // A heartbeat response means the probe may have been lost: one more probe.
  out = leader->step(heartbeat_response(3, 1, 2));
  EXPECT_EQ(appends_to(out, 3).size(), 1u);
  out = leader->step(heartbeat_response(3, 1, 2));
  EXPECT_EQ(appends_to(out, 3).size(), 1u);
  ASSERT_TRUE((*leader)->propose("d").ok());
  EXPECT_TRUE(appends_to(leader->drain(), 3).empty());
}

// Replicate mode streams appends without waiting, up to max_inflight_appends
// unacknowledged messages; a full window pauses; acknowledgements free it.
TEST(Replication_FlowControl, PipeliningWindow) {
  Options options = paper_options(1);
  options.max_inflight_appends = 3;
  options.coalesce_appends = false;  // the next tests cover it
  auto leader = leader_with({2}, options);
  ASSERT_EQ(peer_state(*leader, 2), "replicate");
  int sent = 0;
  for (const char* command : {"a", "b", "c", "d", "e"}) {  // indexes 2..6
    ASSERT_TRUE((*leader)->propose(command).ok());
    sent += static_cast<int>(entry_appends_to(leader->drain(), 2).size());
  }
  EXPECT_EQ(sent, 3) << "the window holds 3 appends";
  ASSERT_TRUE((*leader)->propose("f").ok());  // index 7
  EXPECT_TRUE(entry_appends_to(leader->drain(), 2).empty()) << "the window is full";

  // Acknowledging the first append frees one slot: the rest goes in one message.
  std::vector<pb::Message> appends = entry_appends_to(leader->step(append_response(2, 1, 2, 2)), 2);
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0].append_request().prev_log_index(), 4u);
  ASSERT_EQ(appends[0].append_request().entries_size(), 3);
  EXPECT_EQ(appends[0].append_request().entries(2).index(), 7u);
  EXPECT_EQ(peer_state(*leader, 2), "replicate");

  // A duplicate acknowledgement changes nothing.
  EXPECT_TRUE(entry_appends_to(leader->step(append_response(2, 1, 2, 2)), 2).empty());
}

// Options::coalesce_appends (on by default): while an append is in flight, a partial
// one waits for the answer, which then releases every entry proposed meanwhile in one
// append; the commit index it would have carried alone comes with that append.
TEST(Replication_FlowControl, PartialAppendsWaitForTheAnswerInFlight) {
  auto leader = leader_with({2, 3});
  ASSERT_TRUE((*leader)->propose("a").ok());  // index 2: nothing in flight, sent at once
  ASSERT_EQ(entry_appends_to(leader->drain(), 2).size(), 1u);
  for (const char* command : {"b", "c", "d"}) {  // indexes 3..5
    ASSERT_TRUE((*leader)->propose(command).ok());
    EXPECT_TRUE(appends_to(leader->drain(), 2).empty()) << command << ": index 2 is in flight";
  }
  const std::vector<pb::Message> appends =
      entry_appends_to(leader->step(append_response(2, 1, 2, 2)), 2);
  ASSERT_EQ(appends.size(), 1u);
  const pb::AppendRequest& request = appends[0].append_request();
  EXPECT_EQ(request.prev_log_index(), 2u);
  ASSERT_EQ(request.entries_size(), 3);
  EXPECT_EQ(request.entries(2).index(), 5u);
  EXPECT_EQ(request.commit(), 2u) << "index 2 committed (leader and node 2): the append says so";
}

// A backlog larger than one append still streams through the whole window: only the
// last, partial append of it waits.
TEST(Replication_FlowControl, FullAppendsStillPipeline) {
  Options options = paper_options(1);
  options.max_append_bytes = 250;
  options.max_inflight_appends = 8;
  auto leader = leader_with({2}, options);
  ASSERT_TRUE((*leader)->propose(std::string(100, 'x')).ok());  // index 2, in flight
  leader->drain();
  for (int i = 0; i < 9; ++i) ASSERT_TRUE((*leader)->propose(std::string(100, 'y')).ok());  // 3..11
  std::vector<pb::Message> appends = entry_appends_to(leader->drain(), 2);
  // 100-byte commands make entries of a little over 100 bytes: two per 250-byte append.
  ASSERT_EQ(appends.size(), 4u) << "the full appends of indexes 3..10 go at once";
  EXPECT_EQ(appends.back().append_request().entries().rbegin()->index(), 10u) << "11 waits";
  appends = entry_appends_to(leader->step(append_response(2, 1, 2, 10)), 2);
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0].append_request().entries(0).index(), 11u);
}

// A lost partial append would hold everything behind it forever; a heartbeat answer
// frees its slot, the next append goes out, and the follower catches up.
TEST(Replication_FlowControl, LostCoalescedAppendIsRetried) {
  TestCluster cluster(3, 1, [](Options& o) { o.pre_vote = o.check_quorum = false; });
  const NodeId leader = cluster.elect();
  ASSERT_NE(leader, kNoNode);
  const NodeId follower = leader % 3 + 1;
  cluster.tick_all();
  cluster.stabilize();
  bool dropped = false;
  cluster.drop_when = [follower, &dropped](const pb::Message& m) {
    if (dropped || m.to() != follower || !m.has_append_request() ||
        m.append_request().entries_size() == 0) {
      return false;
    }
    return dropped = true;  // the first append with entries, only
  };
  for (const char* command : {"a", "b", "c"}) {
    ASSERT_TRUE(cluster.propose(leader, command).ok());
    cluster.stabilize();
  }
  ASSERT_TRUE(dropped);
  for (int i = 0; i < 5; ++i) {
    cluster.tick_all();
    cluster.stabilize();
  }
  EXPECT_EQ(terms_of(cluster.log(follower)), terms_of(cluster.log(leader)));
  EXPECT_EQ(cluster.applied(follower), (std::vector<std::string>{"a", "b", "c"}));
}

// "After a rejection, the leader decrements nextIndex and retries" (§5.3): a rejection
// in replicate mode means the optimistic stream went wrong, so the leader falls back
// to probing, one message at a time, from the hint.
TEST(Replication_FlowControl, RejectionInReplicateModeFallsBackToProbe) {
  auto leader = leader_with({2});
  for (const char* command : {"a", "b", "c"}) {  // indexes 2..4
    ASSERT_TRUE((*leader)->propose(command).ok());
    leader->drain();
  }
  leader->step(append_response(2, 1, 2, 2));
  std::vector<pb::Message> out = leader->step(append_rejection(2, 1, 2, /*rejected=*/3, 2, 2));
  EXPECT_EQ(peer_state(*leader, 2), "probe");
  const std::vector<pb::Message> probes = appends_to(out, 2);
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].append_request().prev_log_index(), 2u);
  ASSERT_TRUE((*leader)->propose("d").ok());
  EXPECT_TRUE(appends_to(leader->drain(), 2).empty()) << "probe mode: wait for the answer";

  // A stale rejection (of an append below what is known to match) is ignored.
  Peer& l = *leader;
  l.step(append_response(2, 1, 2, 4));
  ASSERT_EQ(peer_state(l, 2), "replicate");
  l.step(append_rejection(2, 1, 2, /*rejected=*/2, 1, 1));
  EXPECT_EQ(peer_state(l, 2), "replicate");
}

// "If followers crash or run slowly, or if network packets are lost, the leader
// retries AppendEntries RPCs indefinitely ... until all followers eventually store all
// log entries" (§5.3) — even when every append of a full pipelining window was lost.
TEST(Replication_FlowControl, LostWindowIsRetried) {
  TestCluster cluster(3, 1, [](Options& o) {
    o.pre_vote = o.check_quorum = false;
    o.max_inflight_appends = 2;
  });
  const NodeId leader = cluster.elect();
  ASSERT_NE(leader, kNoNode);
  const NodeId follower = leader % 3 + 1;
  cluster.tick_all();
  cluster.stabilize();
  cluster.drop_when = [follower](const pb::Message& m) {
    return m.to() == follower && m.has_append_request();
  };
  for (const char* command : {"a", "b", "c", "d"}) {
    ASSERT_TRUE(cluster.propose(leader, command).ok());
    cluster.stabilize();
  }
  cluster.drop_when = nullptr;
  for (int i = 0; i < 5; ++i) {
    cluster.tick_all();
    cluster.stabilize();
  }
  EXPECT_EQ(terms_of(cluster.log(follower)), terms_of(cluster.log(leader)));
  EXPECT_EQ(cluster.applied(follower), (std::vector<std::string>{"a", "b", "c", "d"}));
}

// Options::max_append_bytes bounds one AppendEntries (at least one entry is sent).
TEST(Replication_FlowControl, MaxAppendBytesIsRespected) {
  Options options = paper_options(1);
  options.max_append_bytes = 250;
  auto leader = leader_with({}, options);
  std::vector<std::string> commands;
  for (int i = 0; i < 20; ++i) commands.push_back(std::string(100, static_cast<char>('a' + i)));
  commands.push_back(std::string(1000, 'z'));  // larger than the limit on its own
  for (int i = 0; i < 10; ++i) commands.push_back(std::string(100, static_cast<char>('A' + i)));
  for (const std::string& command : commands) ASSERT_TRUE((*leader)->propose(command).ok());
  leader->drain();

  // Node 2 answers the first probe; the leader then streams the backlog.
  std::vector<pb::Message> appends = entry_appends_to(leader->step(append_response(2, 1, 2, 1)), 2);
  Index next = 2;
  while (!appends.empty()) {
    for (const pb::Message& m : appends) {
      std::uint64_t bytes = 0;
      for (const pb::Entry& entry : m.append_request().entries()) {
        EXPECT_EQ(entry.index(), next++);
        bytes += entry.ByteSizeLong();
      }
      EXPECT_TRUE(bytes <= options.max_append_bytes || m.append_request().entries_size() == 1)
          << bytes << " bytes in " << m.append_request().entries_size() << " entries";
    }
    const Index acked = appends.back().append_request().entries().rbegin()->index();
    appends = entry_appends_to(leader->step(append_response(2, 1, 2, acked)), 2);
  }
  EXPECT_EQ(next, (*leader)->last_index() + 1) << "every entry was sent";
}

// Options::max_uncommitted_bytes: back-pressure while proposals are not committed.
TEST(Replication_FlowControl, MaxUncommittedBytesBackPressure) {
  Options options = paper_options(1);
  options.max_uncommitted_bytes = 100;
  auto leader = leader_with({2}, options);
  ASSERT_TRUE((*leader)->propose(std::string(60, 'a')).ok());
  ProposeResult result = (*leader)->propose(std::string(60, 'b'));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(*result.error, ProposeError::kTooManyUncommitted);
  ASSERT_TRUE((*leader)->propose(std::string(40, 'c')).ok()) << "exactly at the limit";
  EXPECT_FALSE((*leader)->propose("d").ok());
  leader->drain();
  // Committing frees the budget.
  leader->step(append_response(2, 1, 2, 3));
  ASSERT_EQ((*leader)->commit_index(), 3u);
  EXPECT_TRUE((*leader)->propose(std::string(60, 'e')).ok());

  // With nothing outstanding, even an oversized proposal is admitted (else it could
  // never be).
  auto other = leader_with({2}, options);
  EXPECT_TRUE((*other)->propose(std::string(500, 'x')).ok());
  EXPECT_FALSE((*other)->propose("y").ok());
}

// ---------------------------------------------------------------------------
// §5.4 and the Ready contract: durability before counting and applying

// The leader writes its own log in parallel with replication (dissertation §10.2.1),
// so its own copy of an entry counts toward the majority only once it is durable.
TEST(Paper5_4_Commit, LeaderOwnEntryCountsOnlyAfterPersisted) {
  auto leader = leader_with({2});
  ASSERT_EQ((*leader)->commit_index(), 1u);
  ASSERT_TRUE((*leader)->propose("x").ok());
  Ready ready = leader->take();  // entry 2, not yet durable on the leader
  ASSERT_EQ(ready.entries.size(), 1u);
  (*leader)->step(append_response(2, 1, 2, 2));
  EXPECT_EQ((*leader)->commit_index(), 1u) << "one durable copy of three is no majority";
  leader->persist(ready);
  EXPECT_EQ((*leader)->commit_index(), 2u);
}

// A majority of followers commits an entry even before the leader's own write is
// done, but the leader hands it to the state machine only once its own copy is durable.
TEST(Paper5_4_Commit, CommittedEntryIsAppliedOnlyWhenLocallyDurable) {
  auto leader = leader_with({2, 3});
  ASSERT_TRUE((*leader)->propose("x").ok());
  Ready ready = leader->take();
  (*leader)->step(append_response(2, 1, 2, 2));
  (*leader)->step(append_response(3, 1, 2, 2));
  EXPECT_EQ((*leader)->commit_index(), 2u);
  Ready next = leader->take();
  for (const pb::Entry& entry : next.committed_entries) EXPECT_LT(entry.index(), 2u);
  leader->persist(ready);
  leader->persist(next);
  leader->drain();
  ASSERT_FALSE(leader->applied().empty());
  EXPECT_EQ(leader->applied().back().data(), "x");
}

// "Once a follower learns that a log entry is committed, it applies the entry to its
// local state machine (in log order)" (§5.3) — exactly once, and (the Ready contract)
// only once the entry is durable locally.
TEST(Paper5_4_Commit, FollowerAppliesCommittedEntriesOnceAndOnlyWhenDurable) {
  Peer follower(paper_options(2), voters({1, 2, 3}), {}, make_hard_state(1));
  const std::vector<pb::Entry> entries = log_of_terms({2, 2, 2});
  follower->step(append_request(1, 2, 2, 0, 0, entries, 2));
  Ready ready = follower.take();
  EXPECT_EQ(ready.entries.size(), 3u);
  EXPECT_TRUE(ready.committed_entries.empty()) << "committed but not yet durable";
  EXPECT_EQ(ready.persisted_messages.size(), 1u) << "the acknowledgement waits for the write";
  EXPECT_TRUE(ready.messages.empty());
  follower.persist(ready);
  ready = follower.take();
  ASSERT_EQ(ready.committed_entries.size(), 2u);
  EXPECT_EQ(ready.committed_entries[0].index(), 1u);
  EXPECT_EQ(ready.committed_entries[1].index(), 2u);
  follower.persist(ready);

  // Duplicates of the append and of the commit hand out nothing again.
  follower.step(append_request(1, 2, 2, 0, 0, entries, 2));
  follower.step(heartbeat_request(1, 2, 2, 2));
  EXPECT_EQ(follower.applied().size(), 2u);
  follower.step(heartbeat_request(1, 2, 2, 3));
  ASSERT_EQ(follower.applied().size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(follower.applied()[i].index(), i + 1);
}

// Options::max_committed_bytes_per_ready: a long backlog is applied in several
// batches, in order, each entry once.
TEST(Paper5_4_Commit, CommittedEntriesAreBatchedByBytes) {
  Options options = paper_options(2);
  options.max_committed_bytes_per_ready = 300;
  Peer follower(options, voters({1, 2, 3}), {}, make_hard_state(1));
  std::vector<pb::Entry> entries;
  for (Index i = 1; i <= 20; ++i) entries.push_back(make_entry(i, 2, std::string(100, 'x')));
  follower->step(append_request(1, 2, 2, 0, 0, entries, 20));
  int batches = 0;
  Index next = 1;
  while (follower->has_ready()) {
    Ready ready = follower.take_and_persist();
    if (ready.committed_entries.empty()) continue;
    ++batches;
    std::uint64_t bytes = 0;
    for (const pb::Entry& entry : ready.committed_entries) {
      EXPECT_EQ(entry.index(), next++);
      bytes += entry.ByteSizeLong();
    }
    EXPECT_TRUE(bytes <= 300 || ready.committed_entries.size() == 1);
  }
  EXPECT_EQ(next, 21u);
  EXPECT_GE(batches, 7);
}

}  // namespace
}  // namespace raft::core::testing
