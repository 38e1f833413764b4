// Crash consistency of the durable log on the fault-injecting Env:
//   - a torn last write, cut at every byte offset, recovers to the state before it
//     (or after it, when every byte made it);
//   - a single flipped bit anywhere in any segment is detected: recovery either
//     stops with an error naming the file, or reports the damage as a torn tail at
//     or before the flipped byte; it never silently returns different data;
//   - a crash between any two file-system operations of a random workload (appends,
//     truncations, compactions, hard states, segment rolls, snapshot installs)
//     recovers to the state after the last acknowledged operation, or after the one
//     in flight.
#include <random>

#include <gtest/gtest.h>

#include "src/core/memory_storage.h"
#include "src/storage/fault_injection_env.h"
#include "src/storage/segment.h"
#include "src/storage/wal_image.h"
#include "tests/storage/test_util.h"

namespace raft::storage {
namespace {

using testing::all_entries;
using testing::append_write;
using testing::make_entries;
using testing::make_entry;
using testing::make_hard_state;
using testing::make_point;

using testing::kWalDir;

DurableLogOptions options_on(std::shared_ptr<Env> env, std::uint64_t max_segment_bytes) {
  DurableLogOptions o;
  o.dir = kWalDir;
  o.env = std::move(env);
  o.max_segment_bytes = max_segment_bytes;
  o.max_cache_bytes = 1024;      // exercise disk reads as well
  o.removal_step_bytes = 200;  // and the steps that shrink obsolete segments
  return o;
}

std::string open_segment_path(FaultInjectionEnv& env) {
  const std::vector<std::string> names = env.list(kWalDir).value();
  for (const std::string& name : names) {
    if (auto parsed = parse_segment_file_name(name); parsed && parsed->open)
      return std::string(kWalDir) + "/" + name;
  }
  return "";
}

// A comparable picture of a log's contents.
struct Picture {
  pb::HardState hard_state;
  Index base_index = 0;
  Term base_term = 0;
  std::vector<std::string> entries;  // serialized, from base + 1

  bool operator==(const Picture& o) const {
    return hard_state.SerializeAsString() == o.hard_state.SerializeAsString() && base_index == o.base_index &&
           base_term == o.base_term && entries == o.entries;
  }
};

Picture picture(const LogStorage& log) {
  Picture p;
  p.hard_state = log.hard_state();
  p.base_index = log.snapshot_metadata().index();
  p.base_term = log.snapshot_metadata().term();
  for (const pb::Entry& e : all_entries(log)) p.entries.push_back(e.SerializeAsString());
  return p;
}

std::string describe(const Picture& p) {
  return "base " + std::to_string(p.base_index) + " entries " + std::to_string(p.entries.size()) + " term " +
         std::to_string(p.hard_state.term()) + " commit " + std::to_string(p.hard_state.commit());
}

// --- torn writes at every byte ----------------------------------------------

TEST(CrashTest, TornLastWriteAtEveryByteRecoversToAPrefixOfIt) {
  // Learn how many bytes the last (unsynced) write puts in the open segment.
  auto run = [](FaultInjectionEnv* env) {
    auto log = testing::open_log(options_on(std::shared_ptr<Env>(env, [](Env*) {}), 1 << 20));
    for (Index i = 1; i <= 5; ++i) EXPECT_TRUE(log->write(append_write({make_entry(i, 1, 40)})).ok());
    LogWrite last = append_write(make_entries(3, 5, 2, 40));  // truncates 3..5, too
    last.hard_state = make_hard_state(2, 1, 2);
    last.sync = false;
    EXPECT_TRUE(log->write(last).ok());
    return log;
  };
  Picture before;
  Picture after;
  {
    FaultInjectionEnv env;
    auto log = run(&env);
    after = picture(*log);
    log.reset();
  }
  {
    core::MemoryLogStorage model;
    model.append(make_entries(1, 5, 1, 40));
    before = picture(model);
  }
  std::uint64_t torn_bytes = 0;
  {
    FaultInjectionEnv env;
    auto log = run(&env);
    torn_bytes = env.unsynced_bytes(open_segment_path(env));
    env.crash();
  }
  ASSERT_GT(torn_bytes, 100u);
  for (std::uint64_t keep = 0; keep <= torn_bytes; ++keep) {
    FaultInjectionEnv env;
    {
      auto log = run(&env);
      env.crash_tearing(open_segment_path(env), keep);
    }
    auto log = testing::open_log(options_on(std::shared_ptr<Env>(&env, [](Env*) {}), 1 << 20));
    ASSERT_TRUE(log) << "keep " << keep;
    const Picture got = picture(*log);
    if (keep == torn_bytes) {
      EXPECT_EQ(got, after) << "keep " << keep << ": " << describe(got);
    } else if (got == before) {
      // Nothing of the torn write survived; a partial first record was cut off.
      if (keep > 0) {
        EXPECT_TRUE(log->recovery().torn_tail.has_value()) << keep;
      }
    } else {
      // Records are recovered one by one, so a torn batch may leave a prefix of its
      // records: entries 1..2, then some of the new term-2 entries 3..5. The synced
      // entries it replaced were never acknowledged by this write, and the log is a
      // prefix of the log the write was making: safe for Raft.
      ASSERT_GE(got.entries.size(), 3u) << "keep " << keep << ": " << describe(got);
      ASSERT_LE(got.entries.size(), after.entries.size()) << "keep " << keep << ": " << describe(got);
      for (std::size_t i = 0; i < got.entries.size(); ++i) {
        EXPECT_EQ(got.entries[i], after.entries[i]) << "keep " << keep << " entry " << i + 1;
      }
      EXPECT_TRUE(got.hard_state.SerializeAsString() == before.hard_state.SerializeAsString() ||
                  got.hard_state.SerializeAsString() == after.hard_state.SerializeAsString())
          << "keep " << keep << ": " << describe(got);
    }
    // The log goes on from there.
    EXPECT_TRUE(log->write(append_write({make_entry(log->last_index() + 1, 3)})).ok());
  }
}

TEST(CrashTest, CutFileAtEveryOffsetOfTheLastRecords) {
  // The same, from the file's side: the open segment's bytes cut at every offset
  // past the last synced record (the rest reads as preallocated zeros).
  FaultInjectionEnv env;
  std::string bytes;
  std::string path;
  std::uint64_t synced_end = 0;
  {
    auto log = testing::open_log(options_on(std::shared_ptr<Env>(&env, [](Env*) {}), 1 << 16));
    log->write(append_write(make_entries(1, 3, 1, 30)));
    path = open_segment_path(env);
    synced_end = scan_segment(env.contents(path), true).valid_bytes;
    log->write(append_write(make_entries(4, 6, 1, 30)));
    bytes = env.contents(path);
  }
  const std::uint64_t full_end = scan_segment(bytes, true).valid_bytes;
  for (std::uint64_t cut = synced_end; cut <= full_end; ++cut) {
    FaultInjectionEnv fresh;
    fresh.create_dir(kWalDir);
    fresh.set_contents(path, bytes.substr(0, cut) + std::string(bytes.size() - cut, '\0'));
    Result<WalImage> image = read_wal(fresh, kWalDir);
    ASSERT_TRUE(image.ok()) << cut << ": " << image.error().message;
    // Each whole record that made it is kept; a cut one is dropped.
    const Index last = image.value().last_index();
    EXPECT_GE(last, 3u);
    EXPECT_LE(last, 6u);
    EXPECT_EQ(image.value().torn_tail.has_value(), cut != synced_end && cut != full_end &&
                                                       scan_segment(bytes.substr(0, cut), true).tail !=
                                                           SegmentScan::Tail::kClean)
        << cut;
    if (cut == full_end) {
      EXPECT_EQ(last, 6u);
    }
  }
}

// --- bit flips -----------------------------------------------------------------

TEST(CrashTest, EveryFlippedBitIsDetected) {
  FaultInjectionEnv env;
  Picture original;
  {
    auto log = testing::open_log(options_on(std::shared_ptr<Env>(&env, [](Env*) {}), 1024));
    for (Index i = 1; i <= 48; ++i) log->write(append_write({make_entry(i, 1 + i / 10, 60)}));
    LogWrite hs;
    hs.hard_state = make_hard_state(3, 2, 20);
    log->write(hs);
    original = picture(*log);
  }
  std::vector<std::string> files;
  const std::vector<std::string> names = env.list(kWalDir).value();
  for (const std::string& name : names) files.push_back(std::string(kWalDir) + "/" + name);
  ASSERT_GE(files.size(), 3u);
  std::size_t flips = 0;
  std::size_t errors = 0;
  std::size_t torn = 0;
  for (const std::string& file : files) {
    const std::string bytes = env.contents(file);
    // Every byte of a closed segment; the open one up to a little past its records
    // (the preallocated zeros behave alike).
    std::uint64_t limit = bytes.size();
    if (parse_segment_file_name(file.substr(std::strlen(kWalDir) + 1))->open) {
      limit = std::min<std::uint64_t>(bytes.size(), scan_segment(bytes, true).valid_bytes + 64);
    }
    for (std::uint64_t pos = 0; pos < limit; ++pos) {
      std::string damaged = bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << (pos % 8)));
      env.set_contents(file, damaged);
      Result<WalImage> image = read_wal(env, kWalDir);
      ++flips;
      if (!image.ok()) {
        ++errors;
        EXPECT_NE(image.error().message.find(file), std::string::npos) << image.error().message;
        EXPECT_NE(image.error().message.find("offset"), std::string::npos) << image.error().message;
      } else {
        // Only possible in the open segment: reported as a torn tail at or before the
        // flipped byte, with every record before it intact.
        ASSERT_TRUE(image.value().torn_tail.has_value()) << file << " byte " << pos << " silently accepted";
        EXPECT_LE(image.value().torn_tail->offset, pos);
        EXPECT_NE(file.find(image.value().torn_tail->file_name), std::string::npos);
        EXPECT_LE(image.value().last_index(), original.base_index + original.entries.size());
        ++torn;
      }
    }
    env.set_contents(file, bytes);
  }
  EXPECT_GT(errors, flips / 2);
  RecordProperty("flips", static_cast<int>(flips));
  RecordProperty("torn", static_cast<int>(torn));
  // And with the damage repaired, the log is as it was.
  auto log = testing::open_log(options_on(std::shared_ptr<Env>(&env, [](Env*) {}), 1024));
  EXPECT_EQ(picture(*log), original);
}

// --- crashes between any two operations of a random workload -------------------------

// One step of the workload, applied both to the model and to the log.
struct Step {
  enum Kind { kAppend, kHardState, kCompact, kInstall } kind;
  LogWrite write;
  pb::SnapshotMetadata point;
};

std::vector<Step> random_workload(std::uint32_t seed) {
  std::mt19937 rng(seed);
  core::MemoryLogStorage model;
  std::vector<Step> steps;
  Term term = 1;
  for (int n = 0; n < 40; ++n) {
    Step step;
    const int dice = static_cast<int>(rng() % 100);
    const Index first = model.first_index();
    const Index last = model.last_index();
    if (dice < 60 || last < first) {
      // Append, sometimes overwriting a suffix with a newer term.
      Index from = last + 1;
      if (dice < 15 && last >= first) {
        from = first + rng() % (last - first + 1);
        ++term;
      }
      const Index count = 1 + rng() % 6;
      step.kind = Step::kAppend;
      step.write = append_write(make_entries(from, from + count - 1, term, 20 + rng() % 150));
      if (rng() % 3 == 0) step.write.hard_state = make_hard_state(term, 1, from);
    } else if (dice < 75) {
      step.kind = Step::kHardState;
      ++term;
      step.write.hard_state = make_hard_state(term, rng() % 3, last);
    } else if (dice < 93) {
      step.kind = Step::kCompact;
      const Index to = first + rng() % (last - first + 1);
      step.point = make_point(to, *model.term(to));
    } else {
      step.kind = Step::kInstall;
      step.write.snapshot = make_point(last + rng() % 5, ++term);
    }
    switch (step.kind) {
      case Step::kAppend:
      case Step::kHardState:
        model.append(step.write.entries);
        if (step.write.hard_state) model.set_hard_state(*step.write.hard_state);
        break;
      case Step::kCompact:
        model.compact(step.point);
        break;
      case Step::kInstall:
        model.install_snapshot(*step.write.snapshot);
        break;
    }
    steps.push_back(step);
  }
  return steps;
}

// The model's picture after each prefix of the steps: pictures[k] = after k steps.
std::vector<Picture> model_pictures(const std::vector<Step>& steps) {
  core::MemoryLogStorage model;
  std::vector<Picture> out{picture(model)};
  for (const Step& step : steps) {
    if (step.kind == Step::kCompact) {
      model.compact(step.point);
    } else if (step.kind == Step::kInstall) {
      model.install_snapshot(*step.write.snapshot);
    } else {
      model.append(step.write.entries);
      if (step.write.hard_state) model.set_hard_state(*step.write.hard_state);
    }
    out.push_back(picture(model));
  }
  return out;
}

// Runs the steps until one fails; returns how many were acknowledged.
std::size_t run_steps(DurableLog& log, const std::vector<Step>& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    if (step.kind == Step::kCompact) {
      log.compact(step.point);
      if (!log.flush().ok()) return i;
    } else if (!log.write(step.write).ok()) {
      return i;
    }
  }
  return steps.size();
}

TEST(CrashTest, CrashBetweenAnyTwoFileOperationsKeepsAcknowledgedState) {
  constexpr std::uint64_t kSegmentBytes = 1024;
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    const std::vector<Step> steps = random_workload(seed);
    const std::vector<Picture> pictures = model_pictures(steps);
    std::uint64_t total_ops = 0;
    {
      auto env = std::make_shared<FaultInjectionEnv>();
      auto log = testing::open_log(options_on(env, kSegmentBytes));
      ASSERT_EQ(run_steps(*log, steps), steps.size());
      EXPECT_EQ(picture(*log), pictures.back()) << "seed " << seed;
      total_ops = env->mutating_ops();
    }
    for (std::uint64_t crash_at = 0; crash_at <= total_ops; ++crash_at) {
      auto env = std::make_shared<FaultInjectionEnv>();
      std::size_t acked = 0;
      {
        env->freeze_after_ops(crash_at);
        Result<std::shared_ptr<DurableLog>> opened = DurableLog::open(options_on(env, kSegmentBytes));
        if (opened.ok()) acked = run_steps(*opened.value(), steps);
        env->crash();
      }
      Result<std::shared_ptr<DurableLog>> reopened = DurableLog::open(options_on(env, kSegmentBytes));
      ASSERT_TRUE(reopened.ok()) << "seed " << seed << " crash at op " << crash_at << ": "
                                 << reopened.error().message;
      const Picture got = picture(*reopened.value());
      const bool matches = got == pictures[acked] || (acked < steps.size() && got == pictures[acked + 1]);
      ASSERT_TRUE(matches) << "seed " << seed << " crash at op " << crash_at << " after " << acked
                           << " acknowledged steps: got " << describe(got) << ", expected "
                           << describe(pictures[acked]);
    }
  }
}

}  // namespace
}  // namespace raft::storage
