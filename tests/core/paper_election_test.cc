// Leader election, checked rule by rule against the Raft paper (Ongaro & Ousterhout,
// "In Search of an Understandable Consensus Algorithm", 2014): §5.1 terms, §5.2
// election, §5.4.1 election restriction, §5.4.2/§8 the new leader's no-op; and the
// dissertation's PreVote (§9.6) and CheckQuorum (§6.2, §4.2.3).
//
// PreVote and CheckQuorum are on by default in Options. Figure 2 has neither, so the
// paper's rules are checked with both off (paper_options()); the tests of the two
// extensions turn them on and say so.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>

#include "tests/core/core_test_util.h"

namespace raft::core::testing {
namespace {

std::unique_ptr<Peer> follower_of_three(NodeId id = 1, Term term = 1, std::uint64_t seed = 1) {
  return std::make_unique<Peer>(paper_options(id, seed), voters({1, 2, 3}),
                                std::vector<pb::Entry>{}, make_hard_state(term));
}

std::vector<pb::Message> vote_requests(const std::vector<pb::Message>& messages) {
  return filter_messages(messages, [](const pb::Message& m) { return m.has_vote_request(); });
}

std::vector<pb::Message> vote_responses_to(const std::vector<pb::Message>& messages, NodeId to) {
  return filter_messages(
      messages, [to](const pb::Message& m) { return m.to() == to && m.has_vote_response(); });
}

// ---------------------------------------------------------------------------
// §5.2: timeouts

// "Election timeouts are chosen randomly from a fixed interval" (§5.2); here the
// interval is [election_timeout_ticks, 2 * election_timeout_ticks - 1], redrawn at
// every reset.
TEST(Paper5_2_Election, RandomizedTimeoutInRange) {
  constexpr int kTimeout = 10;
  std::set<int> seen;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto peer = follower_of_three(1, 1, seed);
    int ticks = 0;
    while ((*peer)->role() == Role::kFollower && ticks < 100) {
      (*peer)->tick();
      ++ticks;
    }
    EXPECT_GE(ticks, kTimeout);
    EXPECT_LE(ticks, 2 * kTimeout - 1);
    seen.insert(ticks);
    // The candidate's own timeout (to retry a failed election) is drawn afresh.
    const Term term = (*peer)->term();
    ticks = 0;
    while ((*peer)->term() == term && ticks < 100) {
      (*peer)->tick();
      ++ticks;
    }
    EXPECT_GE(ticks, kTimeout);
    EXPECT_LE(ticks, 2 * kTimeout - 1);
    seen.insert(ticks);
  }
  // Randomized: over 200 seeds nearly every value of the interval occurs.
  EXPECT_GE(seen.size(), 8u);
}

// "If election timeout elapses without receiving AppendEntries RPC from current
// leader or granting vote to candidate: convert to candidate" (Figure 2); "a follower
// increments its current term ... votes for itself and issues RequestVote RPCs in
// parallel to each of the other servers" (§5.2).
TEST(Paper5_2_Election, FollowerStartsElectionAfterTimeout) {
  Peer peer(paper_options(1), voters({1, 2, 3}), log_of_terms({1, 1, 2}), make_hard_state(2));
  for (int i = 0; i < 20 && peer->role() == Role::kFollower; ++i) peer->tick();
  ASSERT_EQ(peer->role(), Role::kCandidate);
  EXPECT_EQ(peer->term(), 3u);
  EXPECT_EQ(peer->vote(), 1u);

  Ready ready = peer.take();
  ASSERT_TRUE(ready.hard_state.has_value());
  EXPECT_EQ(ready.hard_state->term(), 3u);
  EXPECT_EQ(ready.hard_state->vote(), 1u);
  EXPECT_TRUE(ready.must_sync);
  const std::vector<pb::Message> requests = vote_requests(ready.messages);
  ASSERT_EQ(requests.size(), 2u);
  std::set<NodeId> to;
  for (const pb::Message& m : requests) {
    to.insert(m.to());
    EXPECT_EQ(m.term(), 3u);
    EXPECT_EQ(m.vote_request().last_log_index(), 3u);
    EXPECT_EQ(m.vote_request().last_log_term(), 2u);
    EXPECT_FALSE(m.vote_request().pre_vote());
  }
  EXPECT_EQ(to, (std::set<NodeId>{2, 3}));
}

// "If a follower receives no communication over a period of time called the election
// timeout ..." (§5.2): a follower that keeps hearing from the leader never campaigns.
TEST(Paper5_2_Election, FollowerHearingFromLeaderDoesNotCampaign) {
  auto peer = follower_of_three();
  for (int i = 0; i < 100; ++i) {
    (*peer)->tick();
    peer->step(heartbeat_request(2, 1, 1, 0));
  }
  EXPECT_EQ((*peer)->role(), Role::kFollower);
  EXPECT_EQ((*peer)->term(), 1u);
  EXPECT_EQ((*peer)->leader(), 2u);
}

// "If many followers become candidates at the same time ... each candidate will time
// out and start a new election by incrementing its term" (§5.2).
TEST(Paper5_2_Election, CandidateStartsNewElectionAfterTimeout) {
  auto peer = follower_of_three();
  (*peer)->campaign();
  peer->drain();
  ASSERT_EQ((*peer)->term(), 2u);
  for (int i = 0; i < 20 && (*peer)->term() == 2; ++i) (*peer)->tick();
  EXPECT_EQ((*peer)->role(), Role::kCandidate);
  EXPECT_EQ((*peer)->term(), 3u);
  EXPECT_EQ((*peer)->vote(), 1u);
  EXPECT_EQ(vote_requests(peer->drain()).size(), 2u);
}

// "Leaders send periodic heartbeats ... to all followers in order to maintain their
// authority" (§5.2); a leader never starts an election itself.
TEST(Paper5_2_Election, LeaderSendsHeartbeatsAndNeverCampaigns) {
  auto peer = follower_of_three();
  make_leader(*peer, {2});
  ASSERT_EQ((*peer)->role(), Role::kLeader);
  int heartbeats = 0;
  for (int i = 0; i < 50; ++i) {
    (*peer)->tick();
    for (const pb::Message& m : peer->drain()) heartbeats += m.has_heartbeat_request();
  }
  EXPECT_EQ((*peer)->role(), Role::kLeader);
  EXPECT_EQ((*peer)->term(), 2u);
  EXPECT_EQ(heartbeats, 100);  // every tick (heartbeat_interval_ticks = 1), to 2 and 3
}

// ---------------------------------------------------------------------------
// §5.2: voting

// "Each server will vote for at most one candidate in a given term, on a
// first-come-first-served basis" (§5.2); "If votedFor is null or candidateId ...
// grant vote" (Figure 2), so a repeated request from the same candidate is granted.
TEST(Paper5_2_Election, OneVotePerTerm) {
  auto peer = follower_of_three();
  std::vector<pb::Message> out = peer->step(vote_request(2, 1, 2, 0, 0));
  ASSERT_EQ(vote_responses_to(out, 2).size(), 1u);
  EXPECT_TRUE(vote_responses_to(out, 2)[0].vote_response().granted());
  EXPECT_EQ((*peer)->vote(), 2u);

  out = peer->step(vote_request(3, 1, 2, 0, 0));
  ASSERT_EQ(vote_responses_to(out, 3).size(), 1u);
  EXPECT_FALSE(vote_responses_to(out, 3)[0].vote_response().granted());
  EXPECT_EQ(vote_responses_to(out, 3)[0].term(), 2u);
  EXPECT_EQ((*peer)->vote(), 2u);

  out = peer->step(vote_request(2, 1, 2, 0, 0));
  ASSERT_EQ(vote_responses_to(out, 2).size(), 1u);
  EXPECT_TRUE(vote_responses_to(out, 2)[0].vote_response().granted());

  // A new term frees the vote.
  out = peer->step(vote_request(3, 1, 3, 0, 0));
  ASSERT_EQ(vote_responses_to(out, 3).size(), 1u);
  EXPECT_TRUE(vote_responses_to(out, 3)[0].vote_response().granted());
  EXPECT_EQ((*peer)->vote(), 3u);
}

// "Persistent state on all servers (Updated on stable storage before responding to
// RPCs)" (Figure 2): a vote goes out only after the vote is durable.
TEST(Paper5_2_Election, VoteIsSentOnlyAfterItIsPersisted) {
  auto peer = follower_of_three();
  (*peer)->step(vote_request(2, 1, 2, 0, 0));
  Ready ready = peer->take();
  EXPECT_TRUE(vote_responses_to(ready.messages, 2).empty())
      << "a vote must not be sent before it is durable";
  ASSERT_EQ(vote_responses_to(ready.persisted_messages, 2).size(), 1u);
  EXPECT_TRUE(vote_responses_to(ready.persisted_messages, 2)[0].vote_response().granted());
  ASSERT_TRUE(ready.hard_state.has_value());
  EXPECT_EQ(ready.hard_state->term(), 2u);
  EXPECT_EQ(ready.hard_state->vote(), 2u);
  EXPECT_TRUE(ready.must_sync);
  EXPECT_EQ(ready.persist_mark.vote, 2u);
}

// The candidate's own vote is persistent state too: it counts toward the majority only
// once durable, or a crash could let this node vote for someone else in the same term.
TEST(Paper5_2_Election, SelfVoteCountsOnlyAfterPersisted) {
  auto peer = follower_of_three();
  (*peer)->campaign();
  Ready ready = peer->take();  // the new term and self-vote, not yet durable
  (*peer)->step(vote_response(2, 1, 2, true));
  EXPECT_EQ((*peer)->role(), Role::kCandidate)
      << "one granted vote plus an undurable self-vote is no majority";
  peer->persist(ready);
  EXPECT_EQ((*peer)->role(), Role::kLeader);

  Peer single(paper_options(1), voters({1}));
  single->campaign();
  Ready single_ready = single.take();
  EXPECT_EQ(single->role(), Role::kCandidate);
  single.persist(single_ready);
  EXPECT_EQ(single->role(), Role::kLeader);
}

// Figure 2's persistent votedFor survives a restart: a node restarted with a durable
// (term, vote) that then campaigns counts its new, durable self-vote. (Regression: the
// restored persist mark had its fields shifted, so a node whose stored vote was for a
// peer with a larger id than the next term never counted its own vote.)
TEST(Paper5_2_Election, RestartedNodeCountsItsDurableSelfVote) {
  Peer peer(paper_options(1), voters({1, 2, 3}), {}, make_hard_state(/*term=*/1, /*vote=*/3));
  peer->campaign();
  peer.drain();
  ASSERT_EQ(peer->term(), 2u);
  peer.step(vote_response(2, 1, 2, true));
  EXPECT_EQ(peer->role(), Role::kLeader);
}

// "A candidate wins an election if it receives votes from a majority of the servers
// in the full cluster for the same term" (§5.2); if a majority rejects it, it cannot
// win and returns to follower; otherwise it waits.
TEST(Paper5_2_Election, CandidateWinsWithMajorityLosesWithout) {
  struct Case {
    int size;
    int grants;
    int rejects;
    Role expected;
  };
  const Case cases[] = {
      {1, 0, 0, Role::kLeader},    {3, 1, 0, Role::kLeader},   {3, 0, 1, Role::kCandidate},
      {3, 0, 2, Role::kFollower},  {5, 2, 0, Role::kLeader},   {5, 1, 0, Role::kCandidate},
      {5, 1, 2, Role::kCandidate}, {5, 1, 3, Role::kFollower}, {5, 0, 3, Role::kFollower},
      {4, 1, 0, Role::kCandidate}, {4, 2, 0, Role::kLeader},   {4, 1, 2, Role::kFollower},
      {7, 3, 3, Role::kLeader},    {7, 2, 4, Role::kFollower}, {7, 2, 2, Role::kCandidate},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "size " << c.size << " grants " << c.grants << " rejects " << c.rejects);
    pb::Configuration configuration;
    for (int i = 1; i <= c.size; ++i) configuration.add_voters(static_cast<NodeId>(i));
    Peer peer(paper_options(1), configuration, {}, make_hard_state(1));
    peer->campaign();
    peer.drain();
    NodeId voter = 2;
    for (int i = 0; i < c.grants; ++i) peer.step(vote_response(voter++, 1, 2, true));
    for (int i = 0; i < c.rejects; ++i) peer.step(vote_response(voter++, 1, 2, false));
    EXPECT_EQ(peer->role(), c.expected);
    EXPECT_EQ(peer->term(), 2u) << "winning or losing does not change the term";
  }
}

// "While waiting for votes, a candidate may receive an AppendEntries RPC from another
// server claiming to be leader. If the leader's term ... is at least as large as the
// candidate's current term, then the candidate recognizes the leader as legitimate and
// returns to follower state" (§5.2).
TEST(Paper5_2_Election, CandidateBecomesFollowerOnAppendEntriesOfItsTerm) {
  const std::vector<std::function<pb::Message(Term)>> from_leader = {
      [](Term term) { return append_request(3, 1, term, 0, 0, {}, 0); },
      [](Term term) { return heartbeat_request(3, 1, term, 0); },
  };
  for (std::size_t i = 0; i < from_leader.size(); ++i) {
    for (Term term : {Term{2}, Term{4}}) {
      SCOPED_TRACE(::testing::Message() << "message " << i << " term " << term);
      auto peer = follower_of_three();
      (*peer)->campaign();
      peer->drain();
      ASSERT_EQ((*peer)->role(), Role::kCandidate);
      peer->step(from_leader[i](term));
      EXPECT_EQ((*peer)->role(), Role::kFollower);
      EXPECT_EQ((*peer)->term(), term);
      EXPECT_EQ((*peer)->leader(), 3u);
    }
  }
  // "If the term in the RPC is smaller than the candidate's current term, then the
  // candidate rejects the RPC and continues in candidate state."
  auto peer = follower_of_three();
  (*peer)->campaign();
  peer->drain();
  peer->step(append_request(3, 1, 1, 0, 0, {}, 0));
  EXPECT_EQ((*peer)->role(), Role::kCandidate);
  EXPECT_EQ((*peer)->term(), 2u);
}

// "Raft uses randomized election timeouts to ensure that split votes are rare and
// that they are resolved quickly" (§5.2). Four nodes; 1 and 2 campaign at once and
// each gets one other vote (2 of 4: no majority). Their fresh randomized timeouts
// then let one of them, or a follower, win the next term alone.
TEST(Paper5_2_Election, SplitVoteIsResolvedByRandomizedTimeouts) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TestCluster cluster(4, seed, [](Options& o) { o.pre_vote = o.check_quorum = false; });
    cluster.cut(1, 4);
    cluster.cut(2, 3);
    cluster.node(1).campaign();
    cluster.node(2).campaign();
    cluster.stabilize();
    ASSERT_EQ(cluster.node(1).role(), Role::kCandidate);
    ASSERT_EQ(cluster.node(2).role(), Role::kCandidate);
    ASSERT_EQ(cluster.leader(), kNoNode);
    const Term split_term = cluster.node(1).term();
    ASSERT_EQ(cluster.node(2).term(), split_term);
    cluster.heal();
    int ticks = 0;
    while (cluster.leader() == kNoNode && ticks < 200) {
      cluster.tick_all();
      cluster.stabilize();
      ++ticks;
    }
    const NodeId leader = cluster.leader();
    ASSERT_NE(leader, kNoNode);
    EXPECT_LE(ticks, 2 * 10 * 3) << "a split vote should resolve within a few election timeouts";
    // Election Safety: at most one leader per term.
    int leaders = 0;
    for (NodeId id : cluster.ids()) {
      leaders += cluster.node(id).role() == Role::kLeader &&
                 cluster.node(id).term() == cluster.node(leader).term();
    }
    EXPECT_EQ(leaders, 1);
    EXPECT_GT(cluster.node(leader).term(), split_term);
  }
}

// ---------------------------------------------------------------------------
// §5.1: terms

enum class SetupRole { kFollower, kPreCandidate, kCandidate, kLeader };

std::unique_ptr<Peer> peer_in_role(SetupRole role) {
  if (role == SetupRole::kPreCandidate) {
    Options options = paper_options(1);
    options.pre_vote = true;
    auto peer = std::make_unique<Peer>(options, voters({1, 2, 3}), std::vector<pb::Entry>{},
                                       make_hard_state(1));
    for (int i = 0; i < 20 && (*peer)->role() == Role::kFollower; ++i) (*peer)->tick();
    peer->drain();
    EXPECT_EQ((*peer)->role(), Role::kPreCandidate);
    return peer;
  }
  auto peer = follower_of_three();
  if (role == SetupRole::kCandidate) {
    (*peer)->campaign();
    peer->drain();
  } else if (role == SetupRole::kLeader) {
    make_leader(*peer, {2});
  }
  return peer;
}

// "If RPC request or response contains term T > currentTerm: set currentTerm = T,
// convert to follower" (Figure 2, §5.1) — in every role, for every message type.
// (PreVote requests and grants are the documented exception, checked below; with
// CheckQuorum on a leader in its lease ignores vote requests, so it is off here. The
// pre-candidate runs with PreVote on, as it must to exist.)
TEST(Paper5_1_Terms, StepDownOnHigherTermInEveryRole) {
  constexpr Term kHigher = 5;
  struct Kind {
    const char* name;
    std::function<pb::Message()> make;
    bool from_leader;  // the sender is the new term's leader
    bool vote_for_sender;
  };
  const Kind kinds[] = {
      {"append_request", [] { return append_request(3, 1, kHigher, 0, 0, {}, 0); }, true, false},
      {"append_response", [] { return append_response(3, 1, kHigher, 0); }, false, false},
      {"heartbeat_request", [] { return heartbeat_request(3, 1, kHigher, 0); }, true, false},
      {"heartbeat_response", [] { return heartbeat_response(3, 1, kHigher); }, false, false},
      {"vote_request", [] { return vote_request(3, 1, kHigher, 9, 9); }, false, true},
      {"vote_response", [] { return vote_response(3, 1, kHigher, false); }, false, false},
      {"pre_vote_rejection", [] { return vote_response(3, 1, kHigher, false, true); }, false,
       false},
      {"snapshot_request",
       [] {
         pb::Message m = make_message(3, 1, kHigher);
         m.mutable_snapshot_request()->set_done(true);
         return m;
       },
       true, false},
      {"read_index_request",
       [] {
         pb::Message m = make_message(3, 1, kHigher);
         m.mutable_read_index_request()->set_context("r");
         return m;
       },
       false, false},
      {"read_index_response",
       [] {
         pb::Message m = make_message(3, 1, kHigher);
         m.mutable_read_index_response()->set_rejected(true);
         return m;
       },
       false, false},
  };
  for (SetupRole role : {SetupRole::kFollower, SetupRole::kPreCandidate, SetupRole::kCandidate,
                         SetupRole::kLeader}) {
    for (const Kind& kind : kinds) {
      SCOPED_TRACE(::testing::Message()
                   << "role " << static_cast<int>(role) << " message " << kind.name);
      auto peer = peer_in_role(role);
      ASSERT_LT((*peer)->term(), kHigher);
      peer->step(kind.make());
      EXPECT_EQ((*peer)->term(), kHigher);
      EXPECT_EQ((*peer)->role(), Role::kFollower);
      EXPECT_EQ((*peer)->leader(), kind.from_leader ? 3u : kNoNode);
      EXPECT_EQ((*peer)->vote(), kind.vote_for_sender ? 3u : kNoNode);
    }
  }
}

// TimeoutNow from the leader of a higher term: the receiver adopts the term first
// (§5.1), then does what the message asks and campaigns in the next one.
TEST(Paper5_1_Terms, TimeoutNowOfHigherTermAdoptsTermThenCampaigns) {
  auto peer = follower_of_three();
  pb::Message m = make_message(3, 1, 5);
  m.mutable_timeout_now();
  peer->step(m);
  EXPECT_EQ((*peer)->role(), Role::kCandidate);
  EXPECT_EQ((*peer)->term(), 6u);
}

// "If a server receives a request with a stale term number, it rejects the request"
// (§5.1): nothing of a stale append, heartbeat or vote request is applied, and no
// answer grants anything.
TEST(Paper5_1_Terms, StaleTermRequestsAreRejected) {
  Peer peer(paper_options(1), voters({1, 2, 3}), log_of_terms({1, 2}),
            make_hard_state(5, kNoNode, 1));
  std::vector<pb::Message> out = peer.step(append_request(2, 1, 3, 2, 2, {make_entry(3, 3)}, 3));
  EXPECT_EQ(peer->last_index(), 2u);
  EXPECT_EQ(peer->commit_index(), 1u);
  EXPECT_EQ(peer->leader(), kNoNode);
  EXPECT_EQ(peer->term(), 5u);
  for (const pb::Message& m : out)
    EXPECT_FALSE(m.has_append_response() && m.append_response().success());

  out = peer.step(heartbeat_request(2, 1, 3, 2));
  EXPECT_EQ(peer->commit_index(), 1u);
  EXPECT_EQ(peer->leader(), kNoNode);

  out = peer.step(vote_request(2, 1, 4, 9, 9));
  EXPECT_EQ(peer->vote(), kNoNode);
  for (const pb::Message& m : out)
    EXPECT_FALSE(m.has_vote_response() && m.vote_response().granted());
  EXPECT_EQ(peer->term(), 5u);
}

// The candidate with the longest log may be in a lower term than voters whose logs
// are behind. They cannot win, and unless someone tells it their term it can never
// get their votes: to them its requests are stale. So a stale vote request is refused
// with the voter's term (Figure 2: every reply carries currentTerm "for candidate to
// update itself"); the candidate adopts it and wins its next election. Found by the
// simulator (seed 30805, 7 nodes): both majorities of a joint configuration needed
// such a voter, and no election could ever succeed.
TEST(Paper5_1_Terms, CandidateOfALowerTermLearnsTheTermFromTheRefusalAndWinsNext) {
  Peer candidate(paper_options(1), voters({1, 2, 3}), log_of_terms({1, 2, 3}), make_hard_state(3));
  Peer voter(paper_options(2), voters({1, 2, 3}), log_of_terms({1}), make_hard_state(7));
  auto request_to_voter = [&candidate] {
    candidate->campaign();
    for (pb::Message& m : candidate.drain()) {
      if (m.to() == 2 && m.has_vote_request()) return m;
    }
    ADD_FAILURE() << "the candidate asked node 2 for no vote";
    return pb::Message{};
  };

  std::vector<pb::Message> replies = voter.step(request_to_voter());
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(replies[0].has_vote_response());
  EXPECT_FALSE(replies[0].vote_response().granted());
  EXPECT_FALSE(replies[0].vote_response().pre_vote());
  EXPECT_EQ(replies[0].term(), 7u);
  EXPECT_EQ(voter->term(), 7u);
  EXPECT_EQ(voter->vote(), kNoNode);
  candidate.step(replies[0]);
  EXPECT_EQ(candidate->role(), Role::kFollower);
  EXPECT_EQ(candidate->term(), 7u);

  replies = voter.step(request_to_voter());
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(replies[0].has_vote_response());
  EXPECT_TRUE(replies[0].vote_response().granted());
  EXPECT_EQ(voter->vote(), 1u);
  candidate.step(replies[0]);
  EXPECT_EQ(candidate->role(), Role::kLeader);
  EXPECT_EQ(candidate->term(), 8u);
}

// Figure 2: AppendEntries "Reply false if term < currentTerm", with currentTerm "for
// leader to update itself". The reply is essential: the node may have raised its term
// in elections the stale leader never hears of (PreVote and CheckQuorum keep its votes
// from the leader, and so does a configuration of the node's that does not name the
// leader), and a stale leader that never learns the term never steps down. The stale
// leader steps down on the answer, with the extensions on or off.
TEST(Paper5_1_Terms, StaleLeaderLearnsHigherTermFromRejection) {
  for (const bool extensions : {true, false}) {
    SCOPED_TRACE(extensions ? "PreVote and CheckQuorum on" : "PreVote and CheckQuorum off");
    Options options = paper_options(1);
    options.pre_vote = options.check_quorum = extensions;
    Peer leader(options, voters({1, 2, 3}), {}, make_hard_state(1));
    make_leader(leader, {3});
    ASSERT_EQ(leader->role(), Role::kLeader);
    Options follower_options = options;
    follower_options.id = 2;
    Peer follower(follower_options, voters({1, 2, 3}), {}, make_hard_state(7));

    for (const pb::Message& stale : {append_request(1, 2, leader->term(), 0, 0, {}, 0),
                                     heartbeat_request(1, 2, leader->term(), 0)}) {
      std::vector<pb::Message> replies = follower.step(stale);
      ASSERT_EQ(replies.size(), 1u);
      ASSERT_TRUE(replies[0].has_append_response());
      EXPECT_FALSE(replies[0].append_response().success());
      EXPECT_EQ(replies[0].term(), 7u);
      EXPECT_EQ(follower->term(), 7u);
      EXPECT_EQ(follower->leader(), kNoNode);
    }

    leader.step(follower.step(append_request(1, 2, leader->term(), 0, 0, {}, 0))[0]);
    EXPECT_EQ(leader->role(), Role::kFollower);
    EXPECT_EQ(leader->term(), 7u);
  }
}

// A candidate ignores vote responses of an earlier term (a stale response says nothing
// about this election).
TEST(Paper5_1_Terms, StaleVoteResponsesAreIgnored) {
  auto peer = follower_of_three();
  (*peer)->campaign();
  peer->drain();
  (*peer)->campaign();  // term 3
  peer->drain();
  ASSERT_EQ((*peer)->term(), 3u);
  peer->step(vote_response(2, 1, 2, true));
  EXPECT_EQ((*peer)->role(), Role::kCandidate);
  peer->step(vote_response(2, 1, 3, true));
  EXPECT_EQ((*peer)->role(), Role::kLeader);
}

// ---------------------------------------------------------------------------
// §5.4.1: election restriction

// "If the logs have last entries with different terms, then the log with the later
// term is more up-to-date. If the logs end with the same term, then whichever log is
// longer is more up-to-date" (§5.4.1); "the voter denies its vote if its own log is
// more up-to-date than that of the candidate".
TEST(Paper5_4_1_ElectionRestriction, VoteOnlyForAtLeastAsUpToDateLog) {
  struct Case {
    Term last_term;
    Index last_index;
    bool granted;
  };
  // The voter's log: terms [1, 1, 2] (last term 2, last index 3).
  const Case cases[] = {
      {1, 1, false}, {1, 3, false}, {1, 5, false},  // lower last term, however long
      {2, 2, false},                                // same last term, shorter
      {2, 3, true},  {2, 4, true},                  // same last term, as long or longer
      {3, 1, true},  {3, 3, true},                  // later last term, even if shorter
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "candidate last term " << c.last_term << " last index " << c.last_index);
    Peer peer(paper_options(1), voters({1, 2, 3}), log_of_terms({1, 1, 2}), make_hard_state(2));
    std::vector<pb::Message> out = peer.step(vote_request(2, 1, 3, c.last_term, c.last_index));
    ASSERT_EQ(vote_responses_to(out, 2).size(), 1u);
    EXPECT_EQ(vote_responses_to(out, 2)[0].vote_response().granted(), c.granted);
    EXPECT_EQ(vote_responses_to(out, 2)[0].term(), 3u);
    EXPECT_EQ(peer->term(), 3u) << "the higher term is adopted whether or not the vote is granted";
    EXPECT_EQ(peer->vote(), c.granted ? 2u : kNoNode);
  }
}

// The restriction in a cluster: a node that missed a committed entry cannot become
// leader, so the entry survives (Leader Completeness, §5.4.1).
TEST(Paper5_4_1_ElectionRestriction, NodeMissingCommittedEntryCannotWin) {
  TestCluster cluster(3, 1, [](Options& o) { o.pre_vote = o.check_quorum = false; });
  const NodeId leader = cluster.elect();
  ASSERT_NE(leader, kNoNode);
  const NodeId stale = leader % 3 + 1;
  const NodeId other = stale % 3 + 1;
  ASSERT_NE(other, leader);
  cluster.isolate(stale);
  ASSERT_TRUE(cluster.propose(leader, "x").ok());
  cluster.stabilize();
  ASSERT_EQ(cluster.applied(leader), std::vector<std::string>{"x"});

  cluster.heal();
  cluster.isolate(leader);
  cluster.node(stale).campaign();
  cluster.stabilize();
  EXPECT_NE(cluster.node(stale).role(), Role::kLeader);
  cluster.node(other).campaign();
  cluster.stabilize();
  ASSERT_EQ(cluster.node(other).role(), Role::kLeader);
  cluster.tick_all();
  cluster.stabilize();
  EXPECT_EQ(cluster.applied(stale), std::vector<std::string>{"x"});
}

// ---------------------------------------------------------------------------
// §5.4.2 and §8: the no-op

// "Raft handles this by having each leader commit a blank no-op entry into the log at
// the start of its term" (§8); committing it commits the earlier terms' entries (§5.4.2).
TEST(Paper5_4_2_NoOp, NewLeaderAppendsNoOpOfItsTerm) {
  Peer peer(paper_options(1), voters({1, 2, 3}), log_of_terms({1, 1}), make_hard_state(1));
  peer->campaign();
  peer.drain();
  peer->step(vote_response(2, 1, 2, true));
  ASSERT_EQ(peer->role(), Role::kLeader);
  EXPECT_EQ(peer->last_index(), 3u);
  Ready ready = peer.take();
  ASSERT_EQ(ready.entries.size(), 1u);
  EXPECT_EQ(ready.entries[0].index(), 3u);
  EXPECT_EQ(ready.entries[0].term(), 2u);
  EXPECT_EQ(ready.entries[0].type(), pb::ENTRY_NOOP);
  for (NodeId to : {NodeId{2}, NodeId{3}}) {
    const std::vector<pb::Message> appends = appends_to(ready.messages, to);
    ASSERT_EQ(appends.size(), 1u) << "to " << to;
    EXPECT_EQ(appends[0].append_request().prev_log_index(), 2u);
    EXPECT_EQ(appends[0].append_request().prev_log_term(), 1u);
    ASSERT_EQ(appends[0].append_request().entries_size(), 1);
    EXPECT_EQ(appends[0].append_request().entries(0).type(), pb::ENTRY_NOOP);
  }
}

// ---------------------------------------------------------------------------
// PreVote (dissertation §9.6): on in these tests.

Options pre_vote_options(NodeId id, std::uint64_t seed = 1) {
  Options options = paper_options(id, seed);
  options.pre_vote = true;
  return options;
}

// "A candidate would first ask other servers whether its log was up-to-date enough to
// get their vote. Only if the candidate believed it could get votes from a majority
// of the cluster would it increment its term and start a normal election" (§9.6).
TEST(Dissertation9_6_PreVote, PreCandidateKeepsItsTermAndVote) {
  Peer peer(pre_vote_options(1), voters({1, 2, 3}), log_of_terms({1, 2}), make_hard_state(2, 3));
  for (int i = 0; i < 20 && peer->role() == Role::kFollower; ++i) peer->tick();
  ASSERT_EQ(peer->role(), Role::kPreCandidate);
  EXPECT_EQ(peer->term(), 2u);
  EXPECT_EQ(peer->vote(), 3u);
  Ready ready = peer.take();
  EXPECT_FALSE(ready.hard_state.has_value()) << "a pre-vote changes nothing durable";
  EXPECT_FALSE(ready.must_sync);
  const std::vector<pb::Message> requests = vote_requests(ready.messages);
  ASSERT_EQ(requests.size(), 2u);
  for (const pb::Message& m : requests) {
    EXPECT_TRUE(m.vote_request().pre_vote());
    EXPECT_EQ(m.term(), 3u) << "the term it would campaign in";
    EXPECT_EQ(m.vote_request().last_log_index(), 2u);
    EXPECT_EQ(m.vote_request().last_log_term(), 2u);
  }
}

// Pre-votes from a majority start a real election in the next term; a majority of
// refusals returns the node to follower in its old term.
TEST(Dissertation9_6_PreVote, PreVoteOutcomeDecidesWhetherToCampaign) {
  {
    Peer peer(pre_vote_options(1), voters({1, 2, 3}), {}, make_hard_state(2));
    for (int i = 0; i < 20 && peer->role() == Role::kFollower; ++i) peer->tick();
    peer.drain();
    ASSERT_EQ(peer->role(), Role::kPreCandidate);
    std::vector<pb::Message> out = peer.step(vote_response(2, 1, 3, true, /*pre_vote=*/true));
    EXPECT_EQ(peer->role(), Role::kCandidate);
    EXPECT_EQ(peer->term(), 3u);
    EXPECT_EQ(peer->vote(), 1u);
    const std::vector<pb::Message> requests = vote_requests(out);
    ASSERT_EQ(requests.size(), 2u);
    for (const pb::Message& m : requests) EXPECT_FALSE(m.vote_request().pre_vote());
  }
  {
    Peer peer(pre_vote_options(1), voters({1, 2, 3}), {}, make_hard_state(2));
    for (int i = 0; i < 20 && peer->role() == Role::kFollower; ++i) peer->tick();
    peer.drain();
    peer.step(vote_response(2, 1, 2, false, true));
    peer.step(vote_response(3, 1, 2, false, true));
    EXPECT_EQ(peer->role(), Role::kFollower);
    EXPECT_EQ(peer->term(), 2u);
  }
}

// A voter answers a pre-vote as it would a vote (same log restriction) but changes
// neither its term nor its vote; a grant echoes the pre-vote's term.
TEST(Dissertation9_6_PreVote, VoterAnswersWithoutChangingItsState) {
  Peer peer(pre_vote_options(1), voters({1, 2, 3}), log_of_terms({1, 2}), make_hard_state(2));
  std::vector<pb::Message> out = peer.step(vote_request(2, 1, 3, 2, 2, /*pre_vote=*/true));
  ASSERT_EQ(vote_responses_to(out, 2).size(), 1u);
  const pb::Message grant = vote_responses_to(out, 2)[0];
  EXPECT_TRUE(grant.vote_response().granted());
  EXPECT_TRUE(grant.vote_response().pre_vote());
  EXPECT_EQ(grant.term(), 3u);
  EXPECT_EQ(peer->term(), 2u);
  EXPECT_EQ(peer->vote(), kNoNode);

  out = peer.step(vote_request(3, 1, 3, 1, 5, /*pre_vote=*/true));  // log behind ours
  ASSERT_EQ(vote_responses_to(out, 3).size(), 1u);
  EXPECT_FALSE(vote_responses_to(out, 3)[0].vote_response().granted());
  EXPECT_EQ(peer->term(), 2u);
}

// "Pre-vote requests and their grants do not change anyone's term" (raft.proto; §9.6),
// in every role, even when their term is higher.
TEST(Dissertation9_6_PreVote, PreVoteMessagesChangeNoTermInAnyRole) {
  for (SetupRole setup : {SetupRole::kFollower, SetupRole::kPreCandidate, SetupRole::kCandidate,
                          SetupRole::kLeader}) {
    SCOPED_TRACE(::testing::Message() << "role " << static_cast<int>(setup));
    auto peer = peer_in_role(setup);
    const Term term = (*peer)->term();
    const Role role = (*peer)->role();
    peer->step(vote_request(3, 1, term + 3, 9, 9, /*pre_vote=*/true));
    EXPECT_EQ((*peer)->term(), term);
    EXPECT_EQ((*peer)->role(), role);
    peer->step(vote_response(3, 1, term + 3, /*granted=*/true, /*pre_vote=*/true));
    EXPECT_EQ((*peer)->term(), term);
    EXPECT_EQ((*peer)->role(), role);
  }
}

// Ticks every node once and delivers everything, `rounds` times.
void run(TestCluster& cluster, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    cluster.tick_all();
    cluster.stabilize();
  }
}

// "A server that was partitioned away ... would not be able to increment its term,
// since it could not receive permission from a majority" (§9.6): when it rejoins, the
// leader keeps its term. Without PreVote the same partition disrupts the cluster.
TEST(Dissertation9_6_PreVote, RejoiningNodeDoesNotRaiseTheClusterTerm) {
  for (bool pre_vote : {true, false}) {
    SCOPED_TRACE(pre_vote ? "pre_vote on" : "pre_vote off");
    TestCluster cluster(3, 7, [pre_vote](Options& o) {
      o.pre_vote = pre_vote;
      o.check_quorum = false;
    });
    const NodeId leader = cluster.elect();
    ASSERT_NE(leader, kNoNode);
    const Term term = cluster.node(leader).term();
    const NodeId partitioned = leader % 3 + 1;
    cluster.isolate(partitioned);
    // The majority keeps working, so its logs move ahead of the partitioned node's.
    ASSERT_TRUE(cluster.propose(leader, "x").ok());
    run(cluster, 100);
    EXPECT_EQ(cluster.leader(), leader);
    if (pre_vote) {
      EXPECT_EQ(cluster.node(partitioned).term(), term);
    } else {
      EXPECT_GT(cluster.node(partitioned).term(), term + 2);
    }
    cluster.heal();
    run(cluster, 30);
    if (pre_vote) {
      EXPECT_EQ(cluster.leader(), leader);
      for (NodeId id : cluster.ids()) EXPECT_EQ(cluster.node(id).term(), term) << "node " << id;
      EXPECT_EQ(cluster.node(partitioned).leader(), leader);
    } else {
      EXPECT_GT(cluster.node(leader).term(), term)
          << "without PreVote the rejoining node deposes the leader";
    }
  }
}

// A pre-vote succeeds only if the voter "has not received heartbeats from a valid
// leader for at least a baseline election timeout" (§9.6), even without CheckQuorum:
// a node cut off from the leader alone, but not from the other follower, must not
// depose a leader the rest of the cluster still hears.
TEST(Dissertation9_6_PreVote, PreVoteRefusedWhileVoterHearsFromLeader) {
  TestCluster cluster(3, 11, [](Options& o) {
    o.pre_vote = true;
    o.check_quorum = false;
  });
  const NodeId leader = cluster.elect();
  ASSERT_NE(leader, kNoNode);
  const Term term = cluster.node(leader).term();
  const NodeId cut_off = leader % 3 + 1;
  cluster.cut(leader, cut_off);
  run(cluster, 100);
  EXPECT_EQ(cluster.leader(), leader);
  for (NodeId id : cluster.ids()) EXPECT_EQ(cluster.node(id).term(), term) << "node " << id;
}

// ---------------------------------------------------------------------------
// CheckQuorum (dissertation §6.2) and the followers' lease (§4.2.3): on in these tests.

// "A leader steps down if an election timeout elapses without a successful round of
// heartbeats to a majority of its cluster" (§6.2).
TEST(Dissertation6_2_CheckQuorum, LeaderWithoutQuorumStepsDown) {
  for (bool check_quorum : {true, false}) {
    SCOPED_TRACE(check_quorum ? "check_quorum on" : "check_quorum off");
    TestCluster cluster(3, 3, [check_quorum](Options& o) {
      o.pre_vote = false;
      o.check_quorum = check_quorum;
    });
    const NodeId leader = cluster.elect();
    ASSERT_NE(leader, kNoNode);
    run(cluster, 30);  // healthy: a quorum answers, the leader stays
    ASSERT_EQ(cluster.node(leader).role(), Role::kLeader);
    cluster.isolate(leader);
    int ticks = 0;
    while (cluster.node(leader).role() == Role::kLeader && ticks < 100) {
      cluster.tick(leader);
      ++ticks;
    }
    if (check_quorum) {
      EXPECT_EQ(cluster.node(leader).role(), Role::kFollower);
      EXPECT_LE(ticks, 2 * 10) << "within two election timeouts";
    } else {
      EXPECT_EQ(cluster.node(leader).role(), Role::kLeader);
    }
  }
}

// "If a server receives a RequestVote request within the minimum election timeout of
// hearing from a current leader, it does not update its term or grant its vote"
// (§4.2.3). A leadership transfer's request is exempt, and the lease ends once the
// leader has been silent for an election timeout.
TEST(Dissertation6_2_CheckQuorum, FollowerInLeaseIgnoresVoteRequests) {
  Options options = paper_options(1);
  options.check_quorum = true;
  options.pre_vote = true;
  Peer peer(options, voters({1, 2, 3}), {}, make_hard_state(2));
  peer.step(heartbeat_request(2, 1, 2, 0));
  ASSERT_EQ(peer->leader(), 2u);

  for (bool pre_vote : {false, true}) {
    std::vector<pb::Message> out = peer.step(vote_request(3, 1, 3, 0, 0, pre_vote));
    EXPECT_TRUE(out.empty()) << (pre_vote ? "pre-vote" : "vote");
    EXPECT_EQ(peer->term(), 2u);
    EXPECT_EQ(peer->vote(), kNoNode);
  }

  pb::Message transfer = vote_request(3, 1, 3, 0, 0);
  transfer.mutable_vote_request()->set_transfer(true);
  Peer other(options, voters({1, 2, 3}), {}, make_hard_state(2));
  other.step(heartbeat_request(2, 1, 2, 0));
  std::vector<pb::Message> out = other.step(transfer);
  ASSERT_EQ(vote_responses_to(out, 3).size(), 1u);
  EXPECT_TRUE(vote_responses_to(out, 3)[0].vote_response().granted());

  // The leader falls silent for an election timeout: the lease is over.
  for (int i = 0; i < options.election_timeout_ticks; ++i) peer->tick();
  peer.drain();
  out = peer.step(vote_request(3, 1, 3, 0, 0));
  ASSERT_EQ(vote_responses_to(out, 3).size(), 1u);
  EXPECT_TRUE(vote_responses_to(out, 3)[0].vote_response().granted());
  EXPECT_EQ(peer->term(), 3u);
}

// With CheckQuorum on, a leader in its lease ignores a disruptive higher-term vote
// request too (it is why StepDownOnHigherTermInEveryRole runs with it off).
TEST(Dissertation6_2_CheckQuorum, LeaderInLeaseIgnoresVoteRequests) {
  Options options = paper_options(1);
  options.check_quorum = true;
  Peer peer(options, voters({1, 2, 3}), {}, make_hard_state(1));
  make_leader(peer, {2});
  ASSERT_EQ(peer->role(), Role::kLeader);
  peer.step(vote_request(3, 1, 9, 9, 9));
  EXPECT_EQ(peer->role(), Role::kLeader);
  EXPECT_EQ(peer->term(), 2u);
}

}  // namespace
}  // namespace raft::core::testing
