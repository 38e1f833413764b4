// raft-bench removal: how long the syncs of logs on one disk stall while obsolete
// segments are removed, with a plain unlink against SegmentRemover's synced steps.
//
// The scene is a 3-node cluster on one disk right after a snapshot: each node's
// log removes a written segment at the same moment while all three keep appending.
// Here `--logs` threads append 128 bytes and fdatasync in a loop, each on its own
// preallocated file, while as many segments of `--segment-mib` are removed at once,
// one per thread. Printed per method: how long the removals took, and the p50, p99
// and maximum of the syncs that overlapped them. On a file system that discards
// freed blocks online (ext4 `discard`), the plain unlink is where the stall shows.
#include "bench/removal_bench.h"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/die.h"
#include "src/storage/env.h"
#include "src/storage/segment_remover.h"

namespace raft::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A written (not just allocated) file of `bytes`, synced, as a full closed segment is.
void write_segment(const std::string& path, std::uint64_t bytes) {
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) die_errno("removal", path);
  if (::posix_fallocate(fd, 0, static_cast<off_t>(bytes)) != 0)
    die_errno("removal", "fallocate " + path);
  const std::string chunk(1 << 20, 's');
  for (std::uint64_t off = 0; off < bytes; off += chunk.size()) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), bytes - off));
    if (::pwrite(fd, chunk.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n))
      die_errno("removal", "pwrite " + path);
  }
  if (::fsync(fd) != 0) die_errno("removal", "fsync " + path);
  ::close(fd);
}

struct Sample {
  Clock::time_point start;
  double micros;
};

struct Outcome {
  double removal_ms = 0;
  std::vector<double> overlapping_us;  // syncs that started while removals ran
};

Outcome run(const std::string& dir, int logs, std::uint64_t segment_bytes, std::uint64_t step_bytes, bool plain) {
  std::filesystem::create_directories(dir);
  for (int i = 0; i < logs; ++i) {
    write_segment(dir + "/wal-" + std::to_string(i + 1) + "-1-1.closed", segment_bytes);
  }
  ::sync();
  std::this_thread::sleep_for(std::chrono::seconds(1));

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<Sample> samples;
  std::vector<std::thread> appenders;
  for (int i = 0; i < logs; ++i) {
    appenders.emplace_back([&, i] {
      const std::string path = dir + "/append-" + std::to_string(i);
      const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) die_errno("removal", path);
      if (::posix_fallocate(fd, 0, 64 << 20) != 0) die_errno("removal", "fallocate " + path);
      if (::fsync(fd) != 0) die_errno("removal", "fsync " + path);
      const std::string record(128, 'a');
      std::vector<Sample> mine;
      for (off_t off = 0; !stop.load() && off + 128 <= (64 << 20); off += 128) {
        const auto start = Clock::now();
        if (::pwrite(fd, record.data(), record.size(), off) != 128)
          die_errno("removal", "pwrite " + path);
        if (::fdatasync(fd) != 0) die_errno("removal", "fdatasync " + path);
        mine.push_back({start, std::chrono::duration<double, std::micro>(Clock::now() - start).count()});
      }
      ::close(fd);
      std::filesystem::remove(path);
      std::lock_guard lock(mu);
      samples.insert(samples.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  const auto begin = Clock::now();
  std::vector<std::thread> removers;
  std::shared_ptr<storage::Env> env = storage::posix_env();
  for (int i = 0; i < logs; ++i) {
    removers.emplace_back([&, i] {
      const std::string name = "wal-" + std::to_string(i + 1) + "-1-1.closed";
      if (plain) {
        if (::unlink((dir + "/" + name).c_str()) != 0) die_errno("removal", "unlink " + name);
        return;
      }
      storage::SegmentRemover remover(*env, dir, step_bytes, [](const Error& error) {
        std::fprintf(stderr, "raft-bench removal: %s\n", error.message.c_str());
        std::exit(1);
      });
      remover.remove({storage::ObsoleteSegment{static_cast<std::uint64_t>(i + 1), name, nullptr}});
      remover.wait_idle();
    });
  }
  for (std::thread& t : removers) t.join();
  const auto end = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (std::thread& t : appenders) t.join();

  Outcome out;
  out.removal_ms = std::chrono::duration<double, std::milli>(end - begin).count();
  for (const Sample& s : samples) {
    if (s.start >= begin && s.start <= end) out.overlapping_us.push_back(s.micros);
  }
  std::sort(out.overlapping_us.begin(), out.overlapping_us.end());
  std::filesystem::remove_all(dir);
  return out;
}

double at(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
}

}  // namespace

int removal_bench_main(int argc, char** argv) {
  std::string dir = "./raft-bench-removal";
  int logs = 3;
  std::uint64_t segment_mib = 64;
  std::uint64_t step_kib = 1024;
  int rounds = 2;
  CLI::App app{"raft-bench removal: sync stalls while obsolete segments are removed"};
  app.add_option("--dir", dir, "Scratch directory on the disk to measure")->capture_default_str();
  app.add_option("--logs", logs, "Logs appending, and segments removed at once")->capture_default_str()->check(CLI::Range(1, 16));
  app.add_option("--segment-mib", segment_mib, "Size of each removed segment")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--step-kib", step_kib, "SegmentRemover's step")->capture_default_str()->check(CLI::Range(1, 1 << 22));
  app.add_option("--rounds", rounds, "Rounds of each method, alternating")->capture_default_str()->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  std::printf("%d logs appending 128 B + fdatasync; %d segments of %llu MiB removed at once\n", logs, logs,
              static_cast<unsigned long long>(segment_mib));
  std::printf("%-22s %12s %8s %10s %10s %10s\n", "method", "removal ms", "syncs", "p50 us", "p99 us", "max us");
  for (int round = 0; round < rounds; ++round) {
    for (const bool plain : {true, false}) {
      const Outcome o = run(dir, logs, segment_mib << 20, step_kib << 10, plain);
      const std::string method = plain ? "unlink" : "steps of " + std::to_string(step_kib) + " KiB";
      std::printf("%-22s %12.1f %8zu %10.0f %10.0f %10.0f\n", method.c_str(), o.removal_ms, o.overlapping_us.size(),
                  at(o.overlapping_us, 0.5), at(o.overlapping_us, 0.99),
                  o.overlapping_us.empty() ? 0 : o.overlapping_us.back());
    }
  }
  return 0;
}

}  // namespace raft::bench
