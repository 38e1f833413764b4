// Real processes, real files: a child appends in a loop and reports each durable
// index; it is killed with SIGKILL at a random moment after its first report (so a
// slow start, as under ASan with other tests running, cannot leave a round with
// nothing to check), several times over the same directory. After each kill, every
// index it reported durable must be in the log, every entry must be one it wrote,
// and the log must open cleanly.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "src/storage/durable_log.h"
#include "tests/storage/crash_child.h"
#include "tests/storage/test_util.h"

#ifndef STORAGE_CRASH_CHILD
#error "STORAGE_CRASH_CHILD must name the crash child executable"
#endif

namespace raft::storage {
namespace {

struct ChildRun {
  Index max_durable = 0;
  std::string output;
  int status = 0;
};

// Starts the child, waits (up to 30 s) for its first durable report, lets it run
// `after_first_report` more and kills it.
ChildRun run_and_kill(const std::string& dir, Term term,
                      std::chrono::milliseconds after_first_report) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    const std::string term_arg = std::to_string(term);
    ::execl(STORAGE_CRASH_CHILD, STORAGE_CRASH_CHILD, dir.c_str(), term_arg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  ChildRun run;
  std::mutex mutex;
  std::condition_variable changed;
  bool ended = false;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
      std::lock_guard lock(mutex);
      run.output.append(buf, static_cast<std::size_t>(n));
      changed.notify_all();
    }
    std::lock_guard lock(mutex);
    ended = true;
    changed.notify_all();
  });
  {
    std::unique_lock lock(mutex);
    // Stdout carries nothing but the reports.
    changed.wait_for(lock, std::chrono::seconds(30), [&] { return !run.output.empty() || ended; });
  }
  std::this_thread::sleep_for(after_first_report);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &run.status, 0);
  reader.join();
  ::close(fds[0]);
  std::istringstream lines(run.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof()) break;  // a line cut by the kill
    if (line.rfind("D ", 0) == 0) run.max_durable = std::max<Index>(run.max_durable, std::stoull(line.substr(2)));
  }
  return run;
}

TEST(SigkillTest, EveryReportedDurableIndexSurvivesKill) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/wal";
  std::mt19937 rng(std::random_device{}());
  Index reported = 0;
  for (Term round = 1; round <= 8; ++round) {
    const auto lifetime = std::chrono::milliseconds(rng() % 600);
    const ChildRun run = run_and_kill(dir, round, lifetime);
    ASSERT_TRUE(WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL)
        << "round " << round << ": the child ended on its own (status " << run.status << ")";
    reported = std::max(reported, run.max_durable);
    DurableLogOptions options;
    options.dir = dir;
    options.max_segment_bytes = 256 << 10;
    Result<std::shared_ptr<DurableLog>> log = DurableLog::open(options);
    ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.error().message;
    const DurableLog& l = *log.value();
    EXPECT_GT(run.max_durable, 0u) << "round " << round << " reported nothing durable in 30 s";
    ASSERT_GE(l.last_index(), reported) << "round " << round << ": reported durable " << reported
                                        << ", recovered only " << l.last_index();
    if (run.max_durable > 0) {
      EXPECT_EQ(l.hard_state().term(), round) << "the newest hard state is the one of this round";
    }
    std::vector<pb::Entry> entries;
    l.entries(l.first_index(), l.last_index() + 1, ~std::uint64_t{0}, &entries);
    Term previous_term = 0;
    for (const pb::Entry& e : entries) {
      ASSERT_TRUE(crash_child_entry_valid(e)) << "entry " << e.index();
      ASSERT_GE(e.term(), previous_term);
      previous_term = e.term();
    }
    std::printf("round %llu: killed %lld ms after its first report, %llu reported durable, "
                "%llu recovered%s\n",
                static_cast<unsigned long long>(round), static_cast<long long>(lifetime.count()),
                static_cast<unsigned long long>(run.max_durable),
                static_cast<unsigned long long>(l.last_index()),
                l.recovery().torn_tail ? " (torn tail cut)" : "");
  }
}

}  // namespace
}  // namespace raft::storage
