// raft-bench wal: the durable log's group commit against the disk's raw limits.
//
// Two kinds of figures, measured by the same process on the same directory:
//  - raw: one thread doing pwrite + fdatasync per entry into a preallocated file (the
//    best a naive log can do), and the sequential bandwidth of 1 MiB pwrite +
//    fdatasync (what the disk can absorb at all);
//  - wal: N appenders, each appending one entry and waiting for it to be durable
//    before the next (closed loop), through storage::DurableLog. Appends that arrive
//    while a sync runs share the next one. By default an appender is a slot that
//    re-appends from its completion callback, as a Raft leader's proposals arrive
//    (raft-bench does the same); with --threads each is an OS thread blocking on its
//    append, which on a small machine mostly measures the scheduler.
// The goals of docs/storage-format.md ("Speed") are read off the printed ratios:
// 256 appenders of 100 B against raw 100 B (>= 20x), and 16 KiB wal MB/s against the
// sequential bandwidth (>= 80%).
#include "bench/wal_bench.h"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bench/die.h"
#include "bench/parse_list.h"
#include "src/storage/durable_log.h"

namespace raft::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Figures {
  double entries_per_second = 0;
  double mb_per_second = 0;  // payload bytes, 10^6
  double syncs_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
}

// A fresh log in dir/wal.
std::shared_ptr<storage::DurableLog> open_fresh_log(const std::string& dir, std::uint64_t zero_ahead_bytes) {
  std::filesystem::remove_all(dir + "/wal");
  storage::DurableLogOptions options;
  options.dir = dir + "/wal";
  options.zero_ahead_bytes = zero_ahead_bytes;
  auto opened = storage::DurableLog::open(options);
  if (!opened.ok()) die("wal", opened.error().message);
  return std::move(opened.value());
}

// Figures of `latencies` (ms, one per durable entry of `size` bytes) over `elapsed`
// seconds with `syncs` fdatasyncs.
Figures figures_of(std::vector<double>& latencies, std::size_t size, double elapsed, std::uint64_t syncs) {
  std::sort(latencies.begin(), latencies.end());
  Figures f;
  f.entries_per_second = static_cast<double>(latencies.size()) / elapsed;
  f.mb_per_second = static_cast<double>(latencies.size() * size) / elapsed / 1e6;
  f.syncs_per_second = static_cast<double>(syncs) / elapsed;
  f.p50_ms = percentile(latencies, 0.5);
  f.p99_ms = percentile(latencies, 0.99);
  return f;
}

// One thread, pwrite + fdatasync per write of `size` bytes, sequential offsets in a
// file preallocated 64 MiB at a time (as the log preallocates its segments).
Figures raw_write_sync(const std::string& dir, std::size_t size, double seconds) {
  constexpr off_t kChunk = 64 << 20;
  const std::string path = dir + "/raw";
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) die("wal", path + ": " + std::strerror(errno));
  const std::string buffer(size, 'r');
  off_t offset = 0;
  off_t allocated = 0;
  std::uint64_t writes = 0;
  std::vector<double> latencies;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    if (offset + static_cast<off_t>(size) > allocated) {
      if (const int rc = ::posix_fallocate(fd, allocated, kChunk); rc != 0 && rc != EOPNOTSUPP) {
        die("wal", path + ": fallocate: " + std::strerror(rc));
      }
      allocated += kChunk;
    }
    const auto sent = Clock::now();
    if (::pwrite(fd, buffer.data(), size, offset) != static_cast<ssize_t>(size))
      die("wal", path + ": short write");
    if (::fdatasync(fd) != 0) die("wal", path + ": fdatasync: " + std::strerror(errno));
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    offset += static_cast<off_t>(size);
    ++writes;
  }
  const double elapsed = seconds_since(start);
  ::close(fd);
  std::filesystem::remove(path);
  return figures_of(latencies, size, elapsed, writes);
}

// `appenders` threads, each appending one entry of `size` bytes and waiting until the
// log reports it durable. Indexes are assigned and writes submitted under one mutex,
// so submission order is index order (the log's requirement), as in a Raft leader.
Figures wal_appender_threads(const std::string& dir, std::size_t size, int appenders, double seconds,
                             std::uint64_t zero_ahead_bytes) {
  std::shared_ptr<storage::DurableLog> log = open_fresh_log(dir, zero_ahead_bytes);

  std::mutex submit_mu;
  Index next_index = 1;
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(appenders));
  const std::string payload(size, 'w');

  auto appender = [&](std::vector<double>& mine) {
    std::mutex done_mu;
    std::condition_variable done_cv;
    while (!stop.load(std::memory_order_relaxed)) {
      bool done = false;
      std::optional<Error> failure;
      const auto sent = Clock::now();
      {
        std::lock_guard lock(submit_mu);
        LogWrite write;
        pb::Entry& entry = write.entries.emplace_back();
        entry.set_term(1);
        entry.set_index(next_index++);
        entry.set_data(payload);
        log->write_async(std::move(write), [&](const Result<Index>& result) {
          std::lock_guard done_lock(done_mu);
          if (!result.ok()) failure = result.error();
          done = true;
          done_cv.notify_one();
        });
      }
      std::unique_lock done_lock(done_mu);
      done_cv.wait(done_lock, [&] { return done; });
      if (failure) die("wal", failure->message);
      mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    }
  };

  const storage::DurableLogStats before = log->stats();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& mine : latencies) threads.emplace_back(appender, std::ref(mine));
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& thread : threads) thread.join();
  const double elapsed = seconds_since(start);
  const storage::DurableLogStats after = log->stats();
  log->close();
  std::filesystem::remove_all(dir + "/wal");

  std::vector<double> all;
  for (const auto& mine : latencies) all.insert(all.end(), mine.begin(), mine.end());
  return figures_of(all, size, elapsed, after.syncs - before.syncs);
}

// `appenders` appends in flight: each completion callback records its latency and
// appends the next entry, so no thread waits. Submission happens under one mutex, so
// it is in index order (the log's requirement), as in a Raft leader.
Figures wal_appenders_in_flight(const std::string& dir, std::size_t size, int appenders, double seconds,
                                std::uint64_t zero_ahead_bytes) {
  std::shared_ptr<storage::DurableLog> log = open_fresh_log(dir, zero_ahead_bytes);

  std::mutex mu;  // next_index, submission order, latencies, running
  std::condition_variable all_stopped;
  Index next_index = 1;
  int running = appenders;
  std::vector<double> latencies;
  latencies.reserve(1 << 22);
  const std::string payload(size, 'w');
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));

  std::function<void()> append_next = [&] {
    std::lock_guard lock(mu);
    if (Clock::now() >= end) {
      if (--running == 0) all_stopped.notify_one();
      return;
    }
    LogWrite write;
    pb::Entry& entry = write.entries.emplace_back();
    entry.set_term(1);
    entry.set_index(next_index++);
    entry.set_data(payload);
    log->write_async(std::move(write), [&, sent = Clock::now()](const Result<Index>& result) {
      if (!result.ok()) die("wal", result.error().message);
      {
        std::lock_guard done_lock(mu);
        latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
      }
      append_next();
    });
  };

  const storage::DurableLogStats before = log->stats();
  for (int i = 0; i < appenders; ++i) append_next();
  {
    std::unique_lock lock(mu);
    all_stopped.wait(lock, [&] { return running == 0; });
  }
  const double elapsed = seconds_since(start);
  const storage::DurableLogStats after = log->stats();
  log->close();
  std::filesystem::remove_all(dir + "/wal");

  return figures_of(latencies, size, elapsed, after.syncs - before.syncs);
}

void print_row(const char* what, std::size_t size, int appenders, const Figures& f, const std::string& note) {
  std::printf("%-5s %8zu %9d %12.0f %9.1f %10.0f %10.1f %8.3f %8.3f  %s\n", what, size, appenders,
              f.entries_per_second, f.mb_per_second, f.syncs_per_second,
              f.syncs_per_second > 0 ? f.entries_per_second / f.syncs_per_second : 0, f.p50_ms, f.p99_ms,
              note.c_str());
  std::fflush(stdout);
}

std::string ratio(const char* label, double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%s %.2f", label, value);
  return text;
}

}  // namespace

int wal_bench_main(int argc, char** argv) {
  std::string dir = "./raft-bench-wal";
  std::string sizes = "100,1024,16384";
  std::string appenders = "1,16,256";
  double seconds = 3;
  bool threads = false;
  std::uint64_t zero_ahead_bytes = storage::DurableLogOptions{}.zero_ahead_bytes;
  CLI::App app{"raft-bench wal: durable log group commit against raw write+fdatasync on the same disk"};
  app.add_option("--dir", dir, "Scratch directory on the disk to measure (wiped)")->capture_default_str();
  app.add_option("--sizes", sizes, "Entry sizes in bytes")->capture_default_str();
  app.add_option("--appenders", appenders, "Concurrent appenders")->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds per point")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--threads", threads, "One OS thread per appender instead of in-flight appends");
  app.add_option("--zero-ahead", zero_ahead_bytes,
                 "Bytes the log keeps zeroed past its newest record (0: fallocate alone)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) die("wal", dir + ": " + error.message());

  std::printf("raft-bench wal: dir=%s, %.0f s per point, appenders are %s, zero-ahead %llu B; MB = 10^6 payload "
              "bytes\n",
              dir.c_str(), seconds, threads ? "threads" : "appends in flight",
              static_cast<unsigned long long>(zero_ahead_bytes));
  std::printf("%-5s %8s %9s %12s %9s %10s %10s %8s %8s\n", "kind", "bytes", "appenders", "entries/s", "MB/s",
              "syncs/s", "entries/sync", "p50 ms", "p99 ms");
  const Figures sequential = raw_write_sync(dir, 1 << 20, seconds);
  print_row("raw", 1 << 20, 1, sequential, "sequential bandwidth (1 MiB write+fdatasync)");
  for (std::uint64_t size : parse_list(sizes)) {
    const Figures raw = raw_write_sync(dir, size, seconds);
    print_row("raw", size, 1, raw, "write+fdatasync per entry");
    for (std::uint64_t count : parse_list(appenders)) {
      const int n = static_cast<int>(count);
      const Figures wal = threads ? wal_appender_threads(dir, size, n, seconds, zero_ahead_bytes)
                                  : wal_appenders_in_flight(dir, size, n, seconds, zero_ahead_bytes);
      print_row("wal", size, n, wal,
                ratio("x raw entries/s", wal.entries_per_second / raw.entries_per_second) + ", " +
                    ratio("of sequential MB/s", wal.mb_per_second / sequential.mb_per_second));
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace raft::bench
