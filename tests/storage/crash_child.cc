// The process that the SIGKILL test kills: appends to a real log in a loop and
// prints "D <index>" on stdout each time the log reports an index durable.
//   storage_crash_child DIR TERM
// Entries carry TERM and contents derived from (index, term), so the parent can check
// every entry it finds. Every ~2000 entries it compacts, so segments are also
// removed while it may be killed.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>

#include "src/storage/durable_log.h"
#include "tests/storage/crash_child.h"

int main(int argc, char** argv) {
  using namespace raft;
  using namespace raft::storage;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR TERM\n", argv[0]);
    return 2;
  }
  DurableLogOptions options;
  options.dir = argv[1];
  options.max_segment_bytes = 256 << 10;
  const Term term = std::strtoull(argv[2], nullptr, 10);
  Result<std::shared_ptr<DurableLog>> opened = DurableLog::open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
    return 1;
  }
  DurableLog& log = *opened.value();
  std::mt19937 rng(static_cast<std::uint32_t>(term * 7919));

  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  constexpr int kWindow = 32;
  Index next = log.last_index() + 1;
  Index last_compaction = log.snapshot_metadata().index();
  for (;;) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return outstanding < kWindow; });
      ++outstanding;
    }
    LogWrite write;
    const Index count = 1 + rng() % 8;
    for (Index i = 0; i < count; ++i) write.entries.push_back(crash_child_entry(next + i, term, rng() % 2000));
    next += count;
    pb::HardState state;
    state.set_term(term);
    state.set_vote(1);
    state.set_commit(next - 1);
    write.hard_state = state;
    log.write_async(std::move(write), [&](const Result<Index>& result) {
      if (!result.ok()) {
        std::fprintf(stderr, "write: %s\n", result.error().message.c_str());
        std::_Exit(1);
      }
      char line[64];
      const int n = std::snprintf(line, sizeof line, "D %llu\n", static_cast<unsigned long long>(result.value()));
      if (::write(1, line, static_cast<std::size_t>(n)) != n) std::_Exit(1);
      std::lock_guard lock(mu);
      --outstanding;
      cv.notify_one();
    });
    if (next - last_compaction > 2000) {
      const Index to = next - 1000;
      if (std::optional<Term> t = log.term(to)) {
        pb::SnapshotMetadata point;
        point.set_index(to);
        point.set_term(*t);
        log.compact(point);
        last_compaction = to;
      }
    }
  }
}
