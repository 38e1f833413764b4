// Membership arithmetic (confchange.h), checked rule by rule against the Raft paper
// §6 and Ongaro's dissertation §4.1–4.3: what one pb::ConfChange does to one
// pb::Configuration. Pure: no cluster, no log.
#include "src/core/confchange.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace raft::core {
namespace {

std::vector<NodeId> ids(const google::protobuf::RepeatedField<std::uint64_t>& field) {
  return std::vector<NodeId>(field.begin(), field.end());
}

pb::Configuration config(std::initializer_list<NodeId> voters,
                         std::initializer_list<NodeId> learners = {},
                         std::initializer_list<NodeId> outgoing = {},
                         std::initializer_list<NodeId> learners_next = {},
                         bool auto_leave = false) {
  pb::Configuration c;
  for (NodeId id : voters) c.add_voters(id);
  for (NodeId id : learners) c.add_learners(id);
  for (NodeId id : outgoing) c.add_voters_outgoing(id);
  for (NodeId id : learners_next) c.add_learners_next(id);
  c.set_auto_leave(auto_leave);
  return c;
}

pb::ConfChangeSingle single(pb::ConfChangeType type, NodeId id, std::string peer_address = "") {
  pb::ConfChangeSingle s;
  s.set_type(type);
  s.mutable_member()->set_id(id);
  s.mutable_member()->set_peer_address(std::move(peer_address));
  return s;
}

pb::ConfChange change(std::initializer_list<pb::ConfChangeSingle> singles,
                      pb::ConfChangeTransition transition = pb::TRANSITION_AUTO) {
  pb::ConfChange c;
  for (const pb::ConfChangeSingle& s : singles) *c.add_changes() = s;
  c.set_transition(transition);
  return c;
}

const pb::ConfChange kLeaveJoint{};

// One row of a table: start, change, and the expected describe() of the result, or
// empty when the change must be refused.
struct Row {
  const char* name;
  pb::Configuration start;
  pb::ConfChange change;
  std::string expected;  // "" = refused
};

void check(const Row& row) {
  SCOPED_TRACE(row.name);
  const ConfChangeResult result = apply_conf_change(row.start, row.change);
  if (row.expected.empty()) {
    EXPECT_FALSE(result.configuration.has_value())
        << "accepted: " << describe(*result.configuration);
    EXPECT_FALSE(result.error.empty());
    return;
  }
  ASSERT_TRUE(result.configuration.has_value()) << result.error;
  EXPECT_TRUE(result.error.empty());
  EXPECT_EQ(describe(*result.configuration), row.expected);
}

// ---------------------------------------------------------------------------
// Dissertation §4.1: single-server changes. Adding or removing one voter at a time
// keeps every majority of the old set overlapping every majority of the new one, so
// the change is applied directly.

// §4.1: a simple change adds one voter, removes one, or touches learners only.
TEST(Dissertation4_1_SimpleChange, Table) {
  const Row rows[] = {
      {"add voter", config({1, 2, 3}), change({single(pb::CONF_ADD_VOTER, 4)}), "voters=[1 2 3 4]"},
      {"add voter already present is a no-op", config({1, 2, 3}),
       change({single(pb::CONF_ADD_VOTER, 2)}), "voters=[1 2 3]"},
      {"add learner", config({1, 2, 3}), change({single(pb::CONF_ADD_LEARNER, 4)}),
       "voters=[1 2 3] learners=[4]"},
      {"promote learner", config({1, 2, 3}, {4}), change({single(pb::CONF_ADD_VOTER, 4)}),
       "voters=[1 2 3 4]"},
      {"demote voter", config({1, 2, 3}), change({single(pb::CONF_ADD_LEARNER, 3)}),
       "voters=[1 2] learners=[3]"},
      {"remove voter", config({1, 2, 3}), change({single(pb::CONF_REMOVE, 2)}), "voters=[1 3]"},
      {"remove learner", config({1, 2, 3}, {4}), change({single(pb::CONF_REMOVE, 4)}),
       "voters=[1 2 3]"},
      {"remove one of two voters", config({1, 2}), change({single(pb::CONF_REMOVE, 1)}),
       "voters=[2]"},
  };
  for (const Row& row : rows) check(row);
}

// "A configuration always keeps at least one voter" (confchange.h): with no voter no
// quorum exists and the cluster could never decide anything again.
TEST(Dissertation4_1_SimpleChange, RefusesRemovingTheLastVoter) {
  const Row rows[] = {
      {"remove last voter", config({1}), change({single(pb::CONF_REMOVE, 1)}), ""},
      {"demote last voter", config({1}, {2}), change({single(pb::CONF_ADD_LEARNER, 1)}), ""},
      {"remove every voter jointly", config({1, 2}),
       change({single(pb::CONF_REMOVE, 1), single(pb::CONF_REMOVE, 2)}), ""},
  };
  for (const Row& row : rows) check(row);
}

// §4.1: changing two voters at once without joint consensus could let two disjoint
// majorities form ({1,2} of the old {1,2,3} and {3,4,5} of the new {1,2,3,4,5}); a
// TRANSITION_AUTO change of several members therefore never applies directly: it
// enters joint consensus (§4.3), where both majorities are needed.
TEST(Dissertation4_1_SimpleChange, TwoVotersAtOnceNeverApplyDirectly) {
  for (const pb::ConfChange& c :
       {change({single(pb::CONF_ADD_VOTER, 4), single(pb::CONF_ADD_VOTER, 5)}),
        change({single(pb::CONF_ADD_VOTER, 4), single(pb::CONF_REMOVE, 1)}),
        change({single(pb::CONF_REMOVE, 2), single(pb::CONF_REMOVE, 3)})}) {
    const ConfChangeResult result = apply_conf_change(config({1, 2, 3}), c);
    ASSERT_TRUE(result.configuration.has_value()) << result.error;
    EXPECT_TRUE(is_joint(*result.configuration)) << describe(*result.configuration);
    EXPECT_EQ(ids(result.configuration->voters_outgoing()), (std::vector<NodeId>{1, 2, 3}));
  }
}

// Ids are non-zero (0 means "none") and change types must be known.
TEST(Dissertation4_1_SimpleChange, RefusesMalformedChanges) {
  pb::ConfChange unknown = change({single(pb::CONF_ADD_VOTER, 4)});
  unknown.mutable_changes(0)->set_type(static_cast<pb::ConfChangeType>(7));
  const Row rows[] = {
      {"id zero", config({1, 2, 3}), change({single(pb::CONF_ADD_VOTER, 0)}), ""},
      {"unknown type", config({1, 2, 3}), unknown, ""},
      {"leave when not joint", config({1, 2, 3}), kLeaveJoint, ""},
  };
  for (const Row& row : rows) check(row);
}

// ---------------------------------------------------------------------------
// Raft paper §6 / dissertation §4.3: joint consensus. The old voters become the
// outgoing half, the changes apply to the incoming half, and decisions need a
// majority of both until the joint configuration is left.

// §6: several changes (TRANSITION_AUTO) or an explicit transition enter C_old,new;
// auto-leave unless TRANSITION_JOINT_EXPLICIT.
TEST(Paper6_JointConsensus, EnterJoint) {
  const Row rows[] = {
      {"auto, two changes: replace 2 and 3 by 4 and 5", config({1, 2, 3}),
       change({single(pb::CONF_ADD_VOTER, 4), single(pb::CONF_ADD_VOTER, 5),
               single(pb::CONF_REMOVE, 2), single(pb::CONF_REMOVE, 3)}),
       "voters=[1 4 5] outgoing=[1 2 3] auto_leave"},
      {"implicit, one change", config({1, 2, 3}),
       change({single(pb::CONF_ADD_VOTER, 4)}, pb::TRANSITION_JOINT_IMPLICIT),
       "voters=[1 2 3 4] outgoing=[1 2 3] auto_leave"},
      {"explicit, one change", config({1, 2, 3}),
       change({single(pb::CONF_REMOVE, 3)}, pb::TRANSITION_JOINT_EXPLICIT),
       "voters=[1 2] outgoing=[1 2 3]"},
      {"joint with a learner added", config({1, 2, 3}),
       change({single(pb::CONF_ADD_VOTER, 4), single(pb::CONF_ADD_LEARNER, 5)}),
       "voters=[1 2 3 4] outgoing=[1 2 3] learners=[5] auto_leave"},
      {"joint promoting a learner", config({1, 2, 3}, {4}),
       change({single(pb::CONF_ADD_VOTER, 4), single(pb::CONF_REMOVE, 1)}),
       "voters=[2 3 4] outgoing=[1 2 3] auto_leave"},
  };
  for (const Row& row : rows) check(row);
}

// confchange.h: "a voter demoted to learner during a joint change stays a voter of
// the outgoing half and becomes a learner (learners_next) when the joint config is
// left" — it may not be both a learner and a voter at once.
TEST(Paper6_JointConsensus, DemoteDuringJointUsesLearnersNext) {
  const ConfChangeResult joint = apply_conf_change(
      config({1, 2, 3}), change({single(pb::CONF_ADD_LEARNER, 3), single(pb::CONF_ADD_VOTER, 4)}));
  ASSERT_TRUE(joint.configuration.has_value()) << joint.error;
  EXPECT_EQ(describe(*joint.configuration),
            "voters=[1 2 4] outgoing=[1 2 3] learners_next=[3] auto_leave");
  EXPECT_TRUE(joint.configuration->learners().empty());

  const ConfChangeResult left = apply_conf_change(*joint.configuration, kLeaveJoint);
  ASSERT_TRUE(left.configuration.has_value()) << left.error;
  EXPECT_EQ(describe(*left.configuration), "voters=[1 2 4] learners=[3]");
  EXPECT_TRUE(left.configuration->learners_next().empty());
}

// §6: once C_old,new is committed, C_new is appended; leaving drops the outgoing half
// and clears auto_leave.
TEST(Paper6_JointConsensus, LeaveJoint) {
  const Row rows[] = {
      {"leave auto", config({1, 4, 5}, {}, {1, 2, 3}, {}, true), kLeaveJoint, "voters=[1 4 5]"},
      {"leave explicit", config({1, 2}, {}, {1, 2, 3}), kLeaveJoint, "voters=[1 2]"},
      {"leave keeps learners", config({1, 2, 4}, {5}, {1, 2, 3}, {3}, true), kLeaveJoint,
       "voters=[1 2 4] learners=[3 5]"},
  };
  for (const Row& row : rows) check(row);
}

// §6: one configuration change at a time: a joint configuration must be left before
// any other change (otherwise three voter sets would have to agree).
TEST(Paper6_JointConsensus, RefusesChangeWhileJoint) {
  const pb::Configuration joint = config({1, 2, 4}, {}, {1, 2, 3}, {}, true);
  const Row rows[] = {
      {"add voter", joint, change({single(pb::CONF_ADD_VOTER, 5)}), ""},
      {"add learner", joint, change({single(pb::CONF_ADD_LEARNER, 5)}), ""},
      {"remove", joint, change({single(pb::CONF_REMOVE, 4)}), ""},
      {"enter joint again", joint,
       change({single(pb::CONF_ADD_VOTER, 5)}, pb::TRANSITION_JOINT_EXPLICIT), ""},
  };
  for (const Row& row : rows) check(row);
}

// ---------------------------------------------------------------------------
// The address book (pb::Configuration::members) travels with the configuration so
// every node learns a new member's addresses from the log itself.

// Members named by an add are recorded, updated in place by a later change that
// names new addresses, kept when only the role changes, and dropped once in no set.
TEST(Paper6_Members, AddressBookKeptInStep) {
  pb::ConfChange add = change({single(pb::CONF_ADD_LEARNER, 4, "n4:7000")});
  add.mutable_changes(0)->mutable_member()->set_name("n4");
  add.mutable_changes(0)->mutable_member()->set_client_address("n4:8000");
  ConfChangeResult r = apply_conf_change(config({1, 2, 3}), add);
  ASSERT_TRUE(r.configuration);
  ASSERT_EQ(r.configuration->members_size(), 1);
  EXPECT_EQ(r.configuration->members(0).id(), 4u);
  EXPECT_EQ(r.configuration->members(0).name(), "n4");
  EXPECT_EQ(r.configuration->members(0).peer_address(), "n4:7000");

  // Promote with a new peer address only: the name and client address are kept.
  r = apply_conf_change(*r.configuration, change({single(pb::CONF_ADD_VOTER, 4, "n4:7001")}));
  ASSERT_TRUE(r.configuration);
  ASSERT_EQ(r.configuration->members_size(), 1);
  EXPECT_EQ(r.configuration->members(0).name(), "n4");
  EXPECT_EQ(r.configuration->members(0).peer_address(), "n4:7001");
  EXPECT_EQ(r.configuration->members(0).client_address(), "n4:8000");

  // Demote (still a member): kept.
  r = apply_conf_change(*r.configuration, change({single(pb::CONF_ADD_LEARNER, 4)}));
  ASSERT_TRUE(r.configuration);
  ASSERT_EQ(r.configuration->members_size(), 1);
  EXPECT_EQ(r.configuration->members(0).peer_address(), "n4:7001");

  // Remove: dropped.
  r = apply_conf_change(*r.configuration, change({single(pb::CONF_REMOVE, 4)}));
  ASSERT_TRUE(r.configuration);
  EXPECT_EQ(r.configuration->members_size(), 0);
}

// During a joint change a removed voter is still in the outgoing half, so its
// address stays known until the joint configuration is left.
TEST(Paper6_Members, RemovedMemberKeptUntilJointLeft) {
  pb::Configuration start = config({1, 2, 3});
  for (NodeId id : {1, 2, 3}) {
    pb::Member* m = start.add_members();
    m->set_id(id);
    m->set_peer_address("n" + std::to_string(id));
  }
  ConfChangeResult joint = apply_conf_change(
      start, change({single(pb::CONF_REMOVE, 3), single(pb::CONF_ADD_VOTER, 4, "n4")}));
  ASSERT_TRUE(joint.configuration);
  std::vector<NodeId> member_ids;
  for (const pb::Member& m : joint.configuration->members()) member_ids.push_back(m.id());
  EXPECT_EQ(member_ids, (std::vector<NodeId>{1, 2, 3, 4}));

  ConfChangeResult left = apply_conf_change(*joint.configuration, kLeaveJoint);
  ASSERT_TRUE(left.configuration);
  member_ids.clear();
  for (const pb::Member& m : left.configuration->members()) member_ids.push_back(m.id());
  EXPECT_EQ(member_ids, (std::vector<NodeId>{1, 2, 4}));
}

// A refused change leaves the input untouched (the function is pure).
TEST(Paper6_Members, RefusedChangeDoesNotTouchInput) {
  const pb::Configuration start = config({1});
  const std::string before = start.SerializeAsString();
  EXPECT_FALSE(apply_conf_change(start, change({single(pb::CONF_REMOVE, 1)})).configuration);
  EXPECT_EQ(start.SerializeAsString(), before);
}

// describe(): one line for logs and tests, sets in order, empty sets omitted.
TEST(Paper6_Describe, Format) {
  EXPECT_EQ(describe(pb::Configuration{}), "voters=[]");
  EXPECT_EQ(describe(config({1, 2, 3})), "voters=[1 2 3]");
  EXPECT_EQ(describe(config({1, 2, 4}, {5}, {1, 2, 3}, {3}, true)),
            "voters=[1 2 4] outgoing=[1 2 3] learners=[5] learners_next=[3] auto_leave");
  EXPECT_TRUE(is_joint(config({1}, {}, {2})));
  EXPECT_FALSE(is_joint(config({1, 2})));
}

}  // namespace
}  // namespace raft::core
