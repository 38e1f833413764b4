// Tests for the linearizability checker: hand-made histories with a known verdict,
// then large randomly generated valid histories (and single-read corruptions of them)
// to show the search stays fast and still catches a lone bad observation.
#include "tests/sim/linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>

namespace raft::sim {
namespace {

constexpr uint64_t kNever = kNeverReturned;
const std::optional<std::string> kNotFound = std::nullopt;

bool linearizable(const std::vector<Operation>& h) {
  const CheckResult r = check_history(h);
  EXPECT_FALSE(r.gave_up) << r.explanation;
  return r.linearizable;
}

// A proven violation (not a give-up).
bool violation(const std::vector<Operation>& h) {
  const CheckResult r = check_history(h);
  EXPECT_FALSE(r.gave_up) << r.explanation;
  return !r.linearizable && !r.gave_up;
}

// ---------------------------------------------------------------------------------
// Linearizable histories.

TEST(Linearizable, EmptyHistory) {
  EXPECT_TRUE(linearizable({}));
}

TEST(Linearizable, SequentialPutsAndGets) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_get(1, "x", "a", 20, 30),
      make_put(2, "x", "b", 40, 50),
      make_get(1, "x", "b", 60, 70),
  }));
}

TEST(Linearizable, GetOfMissingKeyIsNotFound) {
  EXPECT_TRUE(linearizable({make_get(1, "x", kNotFound, 0, 10)}));
}

TEST(Linearizable, ConcurrentGetMaySeeOldValue) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_put(1, "x", "b", 20, 40),
      make_get(2, "x", "a", 25, 35),
  }));
}

TEST(Linearizable, ConcurrentGetMaySeeNewValue) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_put(1, "x", "b", 20, 40),
      make_get(2, "x", "b", 25, 35),
  }));
}

TEST(Linearizable, ConcurrentGetMaySeeNotFoundBeforeFirstPut) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 40),
      make_get(2, "x", kNotFound, 10, 20),
  }));
}

TEST(Linearizable, ConcurrentPutsResolveEitherWay) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 20),
      make_put(2, "x", "b", 5, 25),
      make_get(3, "x", "a", 30, 40),
      make_get(3, "x", "a", 50, 60),
  }));
}

TEST(Linearizable, TouchingIntervalsAreConcurrent) {
  // The get was called at the instant the put returned: either order is allowed.
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_get(2, "x", kNotFound, 10, 20),
  }));
}

TEST(Linearizable, InputOrderDoesNotMatter) {
  EXPECT_TRUE(linearizable({
      make_get(1, "x", "b", 60, 70),
      make_put(2, "x", "b", 40, 50),
      make_get(1, "x", "a", 20, 30),
      make_put(1, "x", "a", 0, 10),
  }));
}

TEST(Linearizable, CasSuccessAndFailureConsistent) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_cas(1, "x", "a", "b", true, 20, 30),
      make_cas(2, "x", "a", "c", false, 40, 50),
      make_get(2, "x", "b", 60, 70),
  }));
}

TEST(Linearizable, ConcurrentCasFromSameValueOneWins) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_cas(1, "x", "a", "b", false, 20, 40),
      make_cas(2, "x", "a", "c", true, 25, 35),
      make_get(3, "x", "c", 50, 60),
  }));
}

TEST(Linearizable, CasOnAbsentKeyFails) {
  EXPECT_TRUE(linearizable({
      make_cas(1, "x", "a", "b", false, 0, 10),
      make_get(1, "x", kNotFound, 20, 30),
  }));
}

TEST(Linearizable, DeleteThenGetNotFound) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_delete(1, "x", true, 20, 30),
      make_get(2, "x", kNotFound, 40, 50),
      make_delete(2, "x", false, 60, 70),
  }));
}

TEST(Linearizable, CreateOnlyWhenAbsent) {
  EXPECT_TRUE(linearizable({
      make_create(1, "x", "a", true, 0, 10),
      make_create(2, "x", "b", false, 20, 30),
      make_get(2, "x", "a", 40, 50),
      make_delete(1, "x", true, 60, 70),
      make_create(2, "x", "c", true, 80, 90),
      make_get(1, "x", "c", 100, 110),
  }));
}

TEST(Linearizable, PutOfTheCurrentValueIsStillAWrite) {
  // put c, delete, put c: the second put must not be taken for a read of "c".
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "c", 0, 20),
      make_put(2, "x", "c", 1, 20),
      make_delete(3, "x", true, 2, 10),
      make_create(4, "x", "a", false, 25, 30),
  }));
}

TEST(Linearizable, IdenticalTimedOutWritesAreInterchangeable) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, kNever),
      make_put(2, "x", "a", 1, kNever),
      make_put(3, "x", "b", 2, 5),
      make_get(4, "x", "a", 10, 15),
      make_put(3, "x", "b", 20, 25),
      make_get(4, "x", "a", 30, 35),
  }));
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, kNever),
      make_put(2, "x", "a", 1, kNever),
      make_put(3, "x", "b", 2, 5),
      make_get(4, "x", "a", 10, 15),
      make_put(3, "x", "b", 20, 25),
      make_get(4, "x", "a", 30, 35),
      make_put(3, "x", "b", 40, 45),
      make_get(4, "x", "a", 50, 55),
  }));
}

TEST(Linearizable, OverlappingOpsOnDifferentKeys) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 100),
      make_put(2, "y", "b", 10, 90),
      make_get(3, "x", "a", 20, 80),
      make_get(4, "y", kNotFound, 30, 70),
      make_get(4, "y", "b", 95, 110),
  }));
}

// ---------------------------------------------------------------------------------
// Unknown (timed-out) outcomes.

TEST(UnknownOutcome, TimedOutPutLaterObserved) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_put(2, "x", "b", 20, kNever),
      make_get(3, "x", "b", 100, 110),
  }));
}

TEST(UnknownOutcome, TimedOutPutNeverObserved) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_put(2, "x", "b", 20, kNever),
      make_get(3, "x", "a", 100, 110),
      make_get(3, "x", "a", 120, 130),
  }));
}

TEST(UnknownOutcome, TimedOutPutMayTakeEffectLongAfterLaterWrites) {
  EXPECT_TRUE(linearizable({
      make_put(2, "x", "late", 0, kNever),
      make_put(1, "x", "b", 10, 20),
      make_get(3, "x", "b", 30, 40),
      make_get(3, "x", "late", 50, 60),
  }));
}

TEST(UnknownOutcome, TimedOutPutTakesEffectAtMostOnce) {
  EXPECT_TRUE(violation({
      make_put(2, "x", "late", 0, kNever),
      make_put(1, "x", "b", 10, 20),
      make_get(3, "x", "late", 30, 40),
      make_put(1, "x", "b2", 50, 60),
      make_get(3, "x", "late", 70, 80),
  }));
}

TEST(UnknownOutcome, TimedOutPutCannotBeSeenBeforeItsCall) {
  EXPECT_TRUE(violation({
      make_get(1, "x", "a", 0, 10),
      make_put(2, "x", "a", 20, kNever),
  }));
}

TEST(UnknownOutcome, TimedOutDeleteMayExplainNotFound) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_delete(2, "x", false, 20, kNever),
      make_get(3, "x", kNotFound, 30, 40),
  }));
}

TEST(UnknownOutcome, TimedOutCasMayApply) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_cas(2, "x", "a", "b", false, 20, kNever),
      make_get(3, "x", "b", 30, 40),
  }));
}

TEST(UnknownOutcome, TimedOutCasCannotApplyWhenCompareFails) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_cas(2, "x", "zzz", "b", false, 20, kNever),
      make_get(3, "x", "b", 30, 40),
  }));
}

TEST(UnknownOutcome, TimedOutGetIsUnconstrained) {
  EXPECT_TRUE(linearizable({
      make_put(1, "x", "a", 0, 10),
      make_get(2, "x", "never written", 20, kNever),
  }));
}

TEST(UnknownOutcome, ManyTimedOutWritesDoNotBlowUpTheSearch) {
  // 60 timed-out writes, all concurrent with everything after them, never observed.
  // Without the pruning rules for unknown operations, a failing search would try
  // every subset of them.
  std::vector<Operation> valid;
  for (int i = 0; i < 60; ++i) {
    valid.push_back(make_put(100 + i, "x", "lost" + std::to_string(i), i, kNever));
  }
  for (int i = 0; i < 40; ++i) {
    const uint64_t t = 100 + 30 * static_cast<uint64_t>(i);
    valid.push_back(make_put(1, "x", "v" + std::to_string(i), t, t + 10));
    valid.push_back(make_get(2, "x", "v" + std::to_string(i), t + 12, t + 20));
  }
  const CheckResult ok = check_history(valid);
  EXPECT_TRUE(ok.linearizable) << ok.explanation;

  std::vector<Operation> stale = valid;
  stale.push_back(make_get(3, "x", "v5", 100 + 30 * 39 + 25, 100 + 30 * 39 + 28));
  const CheckResult bad = check_history(stale);
  EXPECT_FALSE(bad.linearizable);
  EXPECT_FALSE(bad.gave_up) << bad.explanation;
}

// ---------------------------------------------------------------------------------
// Non-linearizable histories.

TEST(NotLinearizable, StaleReadAfterCompletedWrite) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_put(1, "x", "b", 20, 30),
      make_get(2, "x", "a", 40, 50),
  }));
}

TEST(NotLinearizable, ReadOfValueNeverWritten) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_get(2, "x", "ghost", 20, 30),
  }));
}

TEST(NotLinearizable, ReadOfValueWrittenOnlyToAnotherKey) {
  EXPECT_TRUE(violation({
      make_put(1, "y", "a", 0, 10),
      make_get(2, "x", "a", 20, 30),
  }));
}

TEST(NotLinearizable, TwoCasFromSameExpectedBothSucceed) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_cas(1, "x", "a", "b", true, 20, 40),
      make_cas(2, "x", "a", "c", true, 25, 35),
  }));
}

TEST(NotLinearizable, NonMonotonicReads) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_put(1, "x", "b", 20, 100),
      make_get(2, "x", "b", 30, 40),
      make_get(3, "x", "a", 50, 60),
  }));
}

TEST(NotLinearizable, ReadersDisagreeOnConcurrentWriteOrder) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 20),
      make_put(2, "x", "b", 5, 25),
      make_get(3, "x", "b", 30, 40),
      make_get(3, "x", "a", 50, 60),
  }));
}

TEST(NotLinearizable, LostAcknowledgedWrite) {
  // The put of "b" was acknowledged, yet a later CAS from "b" finds something else.
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_put(1, "x", "b", 20, 30),
      make_cas(2, "x", "b", "c", false, 40, 50),
  }));
}

TEST(NotLinearizable, NotFoundAfterCompletedPutWithoutDelete) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_get(2, "x", kNotFound, 20, 30),
  }));
}

TEST(NotLinearizable, CasSucceedsAfterValueWasDeleted) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_delete(1, "x", true, 20, 30),
      make_cas(2, "x", "a", "b", true, 40, 50),
  }));
}

TEST(NotLinearizable, CasSucceedsAgainstNeverWrittenValue) {
  EXPECT_TRUE(violation({make_cas(1, "x", "a", "b", true, 0, 10)}));
}

TEST(NotLinearizable, DeleteFindsAbsentKey) {
  EXPECT_TRUE(violation({make_delete(1, "x", true, 0, 10)}));
}

TEST(NotLinearizable, DeleteMissesExistingKey) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_delete(2, "x", false, 20, 30),
  }));
}

TEST(NotLinearizable, CreateSucceedsOnExistingKey) {
  EXPECT_TRUE(violation({
      make_put(1, "x", "a", 0, 10),
      make_create(2, "x", "b", true, 20, 30),
  }));
}

TEST(NotLinearizable, CreateFailsOnAbsentKey) {
  EXPECT_TRUE(violation({make_create(1, "x", "a", false, 0, 10)}));
}

TEST(NotLinearizable, ViolationIsReportedWithItsKey) {
  const CheckResult r = check_history({
      make_put(1, "a", "1", 0, 10),
      make_get(2, "a", "1", 20, 30),
      make_put(1, "b", "1", 0, 10),
      make_get(2, "b", kNotFound, 20, 30),
      make_put(1, "c", "1", 0, 10),
  });
  EXPECT_FALSE(r.linearizable);
  EXPECT_FALSE(r.gave_up);
  EXPECT_EQ(r.key, "b");
}

// ---------------------------------------------------------------------------------
// Explanations, budgets, validation, formatting.

TEST(Explanation, NamesKeyPrefixAndTheOperationThatCannotBePlaced) {
  const CheckResult r = check_history({
      make_put(1, "x", "a", 0, 10),
      make_put(1, "x", "b", 20, 30),
      make_get(7, "x", "a", 40, 50),
  });
  ASSERT_FALSE(r.linearizable);
  EXPECT_EQ(r.key, "x");
  const std::string& e = r.explanation;
  EXPECT_NE(e.find("key \"x\""), std::string::npos) << e;
  EXPECT_NE(e.find("Longest linearizable prefix found: 2 operations"), std::string::npos) << e;
  EXPECT_NE(e.find("client 1 put(\"x\", \"b\") -> ok, t=[20, 30]"), std::string::npos) << e;
  EXPECT_NE(e.find("Value after it: \"b\""), std::string::npos) << e;
  EXPECT_NE(e.find("client 7 get(\"x\") -> \"a\", t=[40, 50]"), std::string::npos) << e;
  EXPECT_NE(e.find("it read \"a\" but the value is \"b\""), std::string::npos) << e;
}

TEST(Explanation, ListsOtherCandidatesWithReasons) {
  // Both gets read values written only later: stuck with either one next.
  const CheckResult r = check_history({
      make_put(1, "x", "a", 0, 10),
      make_put(4, "x", "c", 12, 18),
      make_get(2, "x", "b", 20, 30),
      make_get(3, "x", "e", 21, 40),
      make_put(5, "x", "b", 60, 70),
      make_put(5, "x", "e", 80, 90),
  });
  ASSERT_FALSE(r.linearizable);
  EXPECT_FALSE(r.gave_up);
  const std::string& e = r.explanation;
  EXPECT_NE(e.find("Longest linearizable prefix found: 2 operations"), std::string::npos) << e;
  EXPECT_NE(e.find("  client 2 get(\"x\") -> \"b\", t=[20, 30]\n  because it read "
                   "\"b\" but the value is \"c\""),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("Other operations that could have gone next:\n"
                   "  client 3 get(\"x\") -> \"e\", t=[21, 40]: it read \"e\" but the "
                   "value is \"c\""),
            std::string::npos)
      << e;
}

TEST(Explanation, ImpossibleReadSaysNobodyWritesTheValue) {
  const CheckResult r = check_history({make_get(4, "k", "ghost", 5, 6)});
  ASSERT_FALSE(r.linearizable);
  EXPECT_EQ(r.key, "k");
  EXPECT_NE(r.explanation.find("no operation on the key ever writes"), std::string::npos)
      << r.explanation;
  EXPECT_NE(r.explanation.find("client 4 get(\"k\") -> \"ghost\", t=[5, 6]"), std::string::npos)
      << r.explanation;
}

TEST(Explanation, LinearizableResultHasNoKey) {
  const CheckResult r = check_history({make_put(1, "x", "a", 0, 10)});
  EXPECT_TRUE(r.linearizable);
  EXPECT_FALSE(r.gave_up);
  EXPECT_TRUE(r.key.empty());
}

std::vector<Operation> concurrent_puts_and_gets(const std::string& key, int n) {
  std::vector<Operation> h;
  for (int i = 0; i < n; ++i) {
    h.push_back(make_put(i, key, "v" + std::to_string(i), 0, 1000));
  }
  h.push_back(make_get(n, key, "v0", 2000, 2010));
  return h;
}

TEST(Budget, StepBudgetExhaustionIsReportedAsGaveUp) {
  CheckOptions options;
  options.max_steps_per_key = 3;
  const CheckResult r = check_history(concurrent_puts_and_gets("x", 10), options);
  EXPECT_FALSE(r.linearizable);
  EXPECT_TRUE(r.gave_up);
  EXPECT_EQ(r.key, "x");
  EXPECT_NE(r.explanation.find("gave up"), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("step budget"), std::string::npos) << r.explanation;
}

TEST(Budget, MemoryBudgetExhaustionIsReportedAsGaveUp) {
  CheckOptions options;
  options.max_memo_bytes = 1;
  const CheckResult r = check_history(concurrent_puts_and_gets("x", 10), options);
  EXPECT_TRUE(r.gave_up);
  EXPECT_NE(r.explanation.find("memo"), std::string::npos) << r.explanation;
}

TEST(Budget, ProvenViolationOnAnotherKeyWinsOverGivingUp) {
  CheckOptions options;
  options.max_steps_per_key = 5;
  std::vector<Operation> h = concurrent_puts_and_gets("a", 10);
  h.push_back(make_get(1, "b", "ghost", 0, 10));
  const CheckResult r = check_history(h, options);
  EXPECT_FALSE(r.linearizable);
  EXPECT_FALSE(r.gave_up);
  EXPECT_EQ(r.key, "b");
}

TEST(Budget, DefaultBudgetSolvesWideConcurrency) {
  const CheckResult r = check_history(concurrent_puts_and_gets("x", 12));
  EXPECT_TRUE(r.linearizable) << r.explanation;
}

TEST(Validation, ReturnBeforeCallThrows) {
  EXPECT_THROW(check_history({make_put(1, "x", "a", 10, 5)}), std::invalid_argument);
}

TEST(Validation, ZeroLengthIntervalIsAllowed) {
  EXPECT_TRUE(linearizable({make_put(1, "x", "a", 5, 5), make_get(1, "x", "a", 6, 6)}));
}

TEST(ToString, FormatsEachKind) {
  EXPECT_EQ(to_string(make_put(1, "x", "a", 0, 10)), "client 1 put(\"x\", \"a\") -> ok, t=[0, 10]");
  EXPECT_EQ(to_string(make_get(2, "x", "a", 1, 2)), "client 2 get(\"x\") -> \"a\", t=[1, 2]");
  EXPECT_EQ(to_string(make_get(2, "x", kNotFound, 1, 2)),
            "client 2 get(\"x\") -> not found, t=[1, 2]");
  EXPECT_EQ(to_string(make_cas(3, "x", "a", "b", true, 1, 2)),
            "client 3 cas(\"x\", \"a\" -> \"b\") -> applied, t=[1, 2]");
  EXPECT_EQ(to_string(make_cas(3, "x", "a", "b", false, 1, 2)),
            "client 3 cas(\"x\", \"a\" -> \"b\") -> compare failed, t=[1, 2]");
  EXPECT_EQ(to_string(make_delete(4, "x", true, 1, 2)),
            "client 4 delete(\"x\") -> found, t=[1, 2]");
  EXPECT_EQ(to_string(make_delete(4, "x", false, 1, 2)),
            "client 4 delete(\"x\") -> not found, t=[1, 2]");
  EXPECT_EQ(to_string(make_create(5, "x", "a", true, 1, 2)),
            "client 5 create(\"x\", \"a\") -> created, t=[1, 2]");
  EXPECT_EQ(to_string(make_create(5, "x", "a", false, 1, 2)),
            "client 5 create(\"x\", \"a\") -> already exists, t=[1, 2]");
}

TEST(ToString, TimedOutOperationShowsUnknownAndOpenInterval) {
  EXPECT_EQ(to_string(make_put(1, "x", "a", 7, kNever)),
            "client 1 put(\"x\", \"a\") -> unknown, t=[7, inf)");
}

TEST(ToString, QuotesAreEscaped) {
  EXPECT_EQ(to_string(make_put(1, "k\"1", "a\\b", 0, 1)),
            "client 1 put(\"k\\\"1\", \"a\\\\b\") -> ok, t=[0, 1]");
}

// ---------------------------------------------------------------------------------
// Random valid histories: a real register with random overlapping intervals, each
// operation taking effect at a random point inside its interval.

struct RandomHistoryOptions {
  uint64_t seed = 1;
  int ops = 2000;
  int clients = 8;
  int keys = 1;
  double unknown_rate = 0.0;  // fraction of operations that time out
};

std::vector<Operation> random_valid_history(const RandomHistoryOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto uniform = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  auto chance = [&rng](double p) { return std::bernoulli_distribution(p)(rng); };

  struct Planned {
    Operation op;
    uint64_t effect_time;
    bool takes_effect;
  };
  std::vector<Planned> planned;
  std::vector<uint64_t> free_at(static_cast<size_t>(o.clients));
  for (auto& t : free_at) t = uniform(0, 10);
  std::vector<std::string> written;  // CAS expectations are drawn from recent writes

  for (int i = 0; i < o.ops; ++i) {
    const auto c =
        static_cast<size_t>(std::min_element(free_at.begin(), free_at.end()) - free_at.begin());
    const uint64_t call = free_at[c] + uniform(0, 3);
    const uint64_t effect = call + uniform(0, 20);
    const uint64_t ret = effect + uniform(0, 20);
    Operation op;
    op.client = static_cast<int>(c);
    op.key = "k" + std::to_string(uniform(0, static_cast<uint64_t>(o.keys - 1)));
    op.call_time = call;
    op.return_time = ret;
    op.value = "v" + std::to_string(i);
    const uint64_t dice = uniform(0, 99);
    op.kind = dice < 40   ? OpKind::kGet
              : dice < 70 ? OpKind::kPut
              : dice < 85 ? OpKind::kCas
              : dice < 93 ? OpKind::kDelete
                          : OpKind::kCreate;
    if (op.kind == OpKind::kCas && !written.empty()) {
      op.expected =
          written[written.size() - 1 - uniform(0, std::min<uint64_t>(3, written.size() - 1))];
    }
    if (op.kind == OpKind::kPut || op.kind == OpKind::kCas || op.kind == OpKind::kCreate) {
      written.push_back(op.value);
    }
    bool takes_effect = true;
    if (chance(o.unknown_rate)) {
      op.return_time = kNeverReturned;
      takes_effect = chance(0.5);
      free_at[c] = effect + uniform(20, 40);  // the client times out and moves on
    } else {
      free_at[c] = ret + uniform(1, 5);
    }
    planned.push_back({op, effect, takes_effect});
  }

  // Apply in effect order to a real store to learn each operation's result. Ties in
  // effect time are harmless: real-time-ordered ops have distinct effect times.
  std::vector<size_t> order(planned.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return planned[a].effect_time < planned[b].effect_time;
  });
  std::map<std::string, std::string> store;
  for (size_t i : order) {
    if (!planned[i].takes_effect) continue;
    Operation& op = planned[i].op;
    const auto it = store.find(op.key);
    const bool present = it != store.end();
    switch (op.kind) {
      case OpKind::kPut: store[op.key] = op.value; break;
      case OpKind::kGet:
        op.read_value = present ? std::optional<std::string>(it->second) : std::nullopt;
        break;
      case OpKind::kCas:
        op.applied = present && it->second == op.expected;
        if (op.applied) it->second = op.value;
        break;
      case OpKind::kDelete:
        op.applied = present;
        if (present) store.erase(it);
        break;
      case OpKind::kCreate:
        op.applied = !present;
        if (!present) store[op.key] = op.value;
        break;
    }
  }

  std::vector<Operation> history;
  for (Planned& p : planned) history.push_back(std::move(p.op));
  std::shuffle(history.begin(), history.end(), rng);  // input order must not matter
  return history;
}

// Makes one returned get in the middle of `history` read a value that was certainly
// overwritten before the get was called: written by a completed put W1 that returned
// before another completed put W2 was called, W2 having returned before the get was
// called. Values are unique, so no linearization can explain the read. Returns a
// description of the change, or "" if no such get exists.
std::string corrupt_one_read(std::vector<Operation>& history) {
  std::vector<size_t> by_call(history.size());
  for (size_t i = 0; i < by_call.size(); ++i) by_call[i] = i;
  std::sort(by_call.begin(), by_call.end(),
            [&](size_t a, size_t b) { return history[a].call_time < history[b].call_time; });
  auto completed_put = [&](const Operation& op) {
    return op.kind == OpKind::kPut && op.has_returned();
  };
  for (size_t k = by_call.size() / 2; k < by_call.size(); ++k) {
    Operation& get = history[by_call[k]];
    if (get.kind != OpKind::kGet || !get.has_returned()) continue;
    const Operation* w2 = nullptr;
    for (const Operation& op : history) {
      if (completed_put(op) && op.key == get.key && op.return_time < get.call_time &&
          (w2 == nullptr || op.return_time > w2->return_time)) {
        w2 = &op;
      }
    }
    if (w2 == nullptr) continue;
    for (const Operation& w1 : history) {
      if (completed_put(w1) && w1.key == get.key && w1.return_time < w2->call_time) {
        const std::string before = to_string(get);
        get.read_value = w1.value;
        return before + "  now reads " + w1.value + " (overwritten by " + to_string(*w2) + ")";
      }
    }
  }
  return "";
}

struct Timed {
  CheckResult result;
  double millis;
};

Timed timed_check(const std::vector<Operation>& history) {
  const auto start = std::chrono::steady_clock::now();
  CheckResult r = check_history(history);
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  return {std::move(r), elapsed.count()};
}

void print_timing(const char* what, const RandomHistoryOptions& o, const Timed& t) {
  std::printf(
      "[ timing   ] seed %llu, %d ops, %d clients, %d keys, unknown rate %.2f: %s in %.1f ms "
      "(%llu steps)\n",
      static_cast<unsigned long long>(o.seed), o.ops, o.clients, o.keys, o.unknown_rate, what,
      t.millis, static_cast<unsigned long long>(t.result.steps));
}

// Checks the generated history (which must be linearizable), then the same history
// with one read corrupted (which must not be). `max_steps_per_op` bounds the work on
// the valid history, which the search should solve nearly greedily.
void expect_valid_then_corrupted_invalid(const RandomHistoryOptions& o, bool report_timing,
                                         uint64_t max_steps_per_op = 50) {
  SCOPED_TRACE("seed " + std::to_string(o.seed));
  std::vector<Operation> history = random_valid_history(o);
  const Timed valid = timed_check(history);
  if (report_timing) print_timing("valid history checked", o, valid);
  EXPECT_TRUE(valid.result.linearizable) << valid.result.explanation;
  EXPECT_FALSE(valid.result.gave_up) << valid.result.explanation;
  EXPECT_LT(valid.result.steps, max_steps_per_op * static_cast<uint64_t>(o.ops));

  const std::string change = corrupt_one_read(history);
  ASSERT_FALSE(change.empty()) << "no corruptible read in the history";
  SCOPED_TRACE(change);
  const Timed bad = timed_check(history);
  if (report_timing) print_timing("corrupted read found", o, bad);
  EXPECT_FALSE(bad.result.linearizable);
  EXPECT_FALSE(bad.result.gave_up) << bad.result.explanation;
}

TEST(RandomHistory, TwoThousandOpsOneKey) {
  expect_valid_then_corrupted_invalid({.seed = 20240601}, true);
}

TEST(RandomHistory, TwoThousandOpsOneKeyWithTimeouts) {
  expect_valid_then_corrupted_invalid({.seed = 777, .unknown_rate = 0.02}, true);
}

TEST(RandomHistory, TwoThousandOpsOneKeyWithManyTimeouts) {
  expect_valid_then_corrupted_invalid({.seed = 100, .clients = 4, .unknown_rate = 0.1}, true);
}

TEST(RandomHistory, TwoThousandOpsFiveKeysWithTimeouts) {
  expect_valid_then_corrupted_invalid({.seed = 31337, .keys = 5, .unknown_rate = 0.05}, true);
}

TEST(RandomHistory, ValidUnderHeavyConcurrencyAndTimeouts) {
  // 16 overlapping clients on one key and one operation in five timing out: proving a
  // violation here may exceed the budget, but a valid history is still found fast.
  const RandomHistoryOptions o{.seed = 100, .clients = 16, .unknown_rate = 0.2};
  const Timed valid = timed_check(random_valid_history(o));
  print_timing("valid history checked", o, valid);
  EXPECT_TRUE(valid.result.linearizable) << valid.result.explanation;
  EXPECT_LT(valid.result.steps, 1'000'000u);
}

TEST(RandomHistory, ManySmallSeeds) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    expect_valid_then_corrupted_invalid(
        {.seed = seed, .ops = 300, .clients = 5, .keys = 2, .unknown_rate = 0.05}, false);
  }
}

// ---------------------------------------------------------------------------------
// Cross-check against a brute-force reference on small random histories. The
// reference shares no code with the checker: it searches every real-time-respecting
// order of the whole history (all keys at once, no memo, no pruning), letting each
// unknown-outcome operation take effect at any point or never.

class BruteForce {
 public:
  explicit BruteForce(const std::vector<Operation>& h) : h_(h), used_(h.size(), false) {}

  bool linearizable() { return search(); }

 private:
  using Store = std::map<std::string, std::string>;

  // Applies `op` to `store` if its observed result is consistent; false otherwise.
  static bool step(const Operation& op, Store& store) {
    const auto it = store.find(op.key);
    const bool present = it != store.end();
    const bool known = op.has_returned();
    switch (op.kind) {
      case OpKind::kPut: store[op.key] = op.value; return true;
      case OpKind::kGet:
        if (!known) return true;
        return present ? op.read_value == it->second : !op.read_value.has_value();
      case OpKind::kCas: {
        const bool match = present && it->second == op.expected;
        if (known && match != op.applied) return false;
        if (match) it->second = op.value;
        return true;
      }
      case OpKind::kDelete:
        if (known && present != op.applied) return false;
        if (present) store.erase(it);
        return true;
      case OpKind::kCreate:
        if (known && present == op.applied) return false;
        if (!present) store[op.key] = op.value;
        return true;
    }
    return false;
  }

  bool search() {
    uint64_t deadline = kNeverReturned;  // earliest return among unplaced returned ops
    bool all_returned_placed = true;
    for (size_t i = 0; i < h_.size(); ++i) {
      if (!used_[i] && h_[i].has_returned()) {
        all_returned_placed = false;
        deadline = std::min(deadline, h_[i].return_time);
      }
    }
    if (all_returned_placed) return true;
    for (size_t i = 0; i < h_.size(); ++i) {
      if (used_[i] || h_[i].call_time > deadline) continue;
      Store next = store_;
      if (!step(h_[i], next)) continue;
      std::swap(store_, next);
      used_[i] = true;
      const bool ok = search();
      used_[i] = false;
      std::swap(store_, next);
      if (ok) return true;
    }
    return false;
  }

  const std::vector<Operation>& h_;
  std::vector<bool> used_;
  Store store_;
};

// Random small histories with arbitrary (mostly wrong) results over tiny value and
// key sets, so that both verdicts are common.
std::vector<Operation> random_small_history(std::mt19937_64& rng) {
  auto uniform = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  const char* values[] = {"a", "b", "c"};
  auto value = [&] { return std::string(values[uniform(0, 2)]); };
  std::vector<Operation> h;
  const uint64_t n = uniform(1, 7);
  for (uint64_t i = 0; i < n; ++i) {
    Operation op;
    op.client = static_cast<int>(i);
    op.kind = static_cast<OpKind>(uniform(0, 4));
    op.key = uniform(0, 3) == 0 ? "y" : "x";
    op.value = value();
    op.expected = value();
    if (uniform(0, 3) != 0) op.read_value = value();
    op.applied = uniform(0, 1) == 1;
    op.call_time = uniform(0, 20);
    op.return_time = uniform(0, 4) == 0 ? kNeverReturned : op.call_time + uniform(0, 10);
    h.push_back(op);
  }
  return h;
}

std::string dump(const std::vector<Operation>& h) {
  std::string out;
  for (const Operation& op : h) out += "  " + to_string(op) + "\n";
  return out;
}

TEST(CrossCheck, AgreesWithBruteForceOnSmallRandomHistories) {
  constexpr uint64_t kSeed = 4242;
  std::mt19937_64 rng(kSeed);
  int linearizable_count = 0;
  constexpr int kHistories = 20000;
  for (int i = 0; i < kHistories; ++i) {
    const std::vector<Operation> h = random_small_history(rng);
    const bool expected = BruteForce(h).linearizable();
    const CheckResult r = check_history(h);
    ASSERT_FALSE(r.gave_up);
    ASSERT_EQ(r.linearizable, expected) << "seed " << kSeed << ", history #" << i << ":\n"
                                        << dump(h) << r.explanation;
    linearizable_count += expected ? 1 : 0;
  }
  // Both verdicts must be well represented for the comparison to mean anything.
  EXPECT_GT(linearizable_count, kHistories / 10);
  EXPECT_LT(linearizable_count, kHistories * 9 / 10);
}

TEST(CrossCheck, AgreesWithBruteForceOnSlightlyCorruptedValidHistories) {
  // Valid histories from the register simulation with one result flipped or
  // replaced: violations here are subtle, unlike arbitrary results.
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    std::vector<Operation> h = random_valid_history(
        {.seed = seed, .ops = 8, .clients = 3, .keys = 1, .unknown_rate = 0.2});
    std::mt19937_64 rng(seed);
    Operation& victim = h[rng() % h.size()];
    if (victim.kind == OpKind::kGet) {
      victim.read_value = rng() % 3 == 0
                              ? std::nullopt
                              : std::optional<std::string>("v" + std::to_string(rng() % 8));
    } else {
      victim.applied = !victim.applied;
    }
    const bool expected = BruteForce(h).linearizable();
    const CheckResult r = check_history(h);
    ASSERT_FALSE(r.gave_up);
    ASSERT_EQ(r.linearizable, expected) << "seed " << seed << ":\n" << dump(h) << r.explanation;
  }
}

}  // namespace
}  // namespace raft::sim
