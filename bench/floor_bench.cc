// raft-bench floor: the physical floor under one replicated write on this machine.
//
// A write acknowledged by a 3-node cluster needs at least one fdatasync of a small
// append (leader and followers sync in parallel) and two loopback round trips (client
// to leader, leader to follower and back). This prints both, measured here and now,
// so a 1-connection latency can be read against them (bench/compare-etcd prints it
// next to its table). When the three nodes share one disk, as in compare-etcd, their
// syncs queue at the device: the second floor measures a sync while three run at once.
// With --sync-methods it compares instead the ways of making an append durable.
#include "bench/floor_bench.h"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace raft::bench {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "raft-bench floor: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

double percentile_us(std::vector<double>& samples, double fraction) {
  std::sort(samples.begin(), samples.end());
  if (samples.empty()) return 0;
  return samples[std::min(samples.size() - 1, static_cast<std::size_t>(fraction * static_cast<double>(samples.size())))];
}

double median_us(std::vector<double>& samples) { return percentile_us(samples, 0.5); }

// How an append is made durable: the log's way (pwrite, then fdatasync) and the
// ways that fold the sync into the write, which --sync-methods compares.
enum class SyncMethod { kFdatasync, kRwfDsync, kODsync, kODirect };

struct AppendRun {
  SyncMethod method = SyncMethod::kFdatasync;
  std::size_t bytes = 100;  // per append; a multiple of 4 KiB for kODirect
  // Zeros written and synced before the run, as the log keeps ahead of its newest
  // record; otherwise fallocated (unwritten extents).
  bool over_zeros = false;
};

// `rounds` appends of `run.bytes` each at the end of a file, each made durable before
// the next; `writers` threads at once, each on its own file, as the nodes of a cluster
// on one disk do. Returns every append's latency in microseconds.
std::vector<double> append_latencies_us(const std::string& dir, int rounds, int writers, const AppendRun& run) {
  std::filesystem::create_directories(dir);
  std::vector<std::vector<double>> samples(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&dir, rounds, w, &run, &out = samples[w]] {
      const std::string path = dir + "/floor-" + std::to_string(w);
      const off_t size = static_cast<off_t>(run.bytes) * rounds;
      int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) die(path);
      if (run.over_zeros) {
        const std::string zeros(1 << 20, '\0');
        for (off_t at = 0; at < size; at += static_cast<off_t>(zeros.size())) {
          if (::pwrite(fd, zeros.data(), zeros.size(), at) != static_cast<ssize_t>(zeros.size())) die("zero " + path);
        }
        if (::fsync(fd) != 0) die("fsync " + path);
      } else if (::posix_fallocate(fd, 0, std::max<off_t>(size, 64 << 20)) != 0) {
        die("fallocate " + path);
      }
      int flags = O_WRONLY | O_CLOEXEC;
      if (run.method == SyncMethod::kODsync) flags |= O_DSYNC;
      if (run.method == SyncMethod::kODirect) flags |= O_DSYNC | O_DIRECT;
      ::close(fd);
      fd = ::open(path.c_str(), flags);
      if (fd < 0) die("open " + path);
      // O_DIRECT needs the buffer aligned to the device's logical block.
      void* buffer = std::aligned_alloc(4096, (run.bytes + 4095) / 4096 * 4096);
      if (buffer == nullptr) die("aligned_alloc");
      std::memset(buffer, 'f', run.bytes);
      for (int i = 0; i < rounds; ++i) {
        const off_t at = static_cast<off_t>(i) * static_cast<off_t>(run.bytes);
        const auto start = Clock::now();
        ssize_t written = 0;
        if (run.method == SyncMethod::kRwfDsync) {
          iovec piece{buffer, run.bytes};
          written = ::pwritev2(fd, &piece, 1, at, RWF_DSYNC);
        } else {
          written = ::pwrite(fd, buffer, run.bytes, at);
        }
        if (written != static_cast<ssize_t>(run.bytes)) die("write " + path);
        if (run.method == SyncMethod::kFdatasync && ::fdatasync(fd) != 0) die("fdatasync " + path);
        out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
      std::free(buffer);
      ::close(fd);
      std::filesystem::remove(path);
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<double> all;
  for (const std::vector<double>& s : samples) all.insert(all.end(), s.begin(), s.end());
  return all;
}

// pwrite of 100 bytes at the end of a preallocated file, then fdatasync.
double fdatasync_us(const std::string& dir, int rounds, int writers) {
  std::vector<double> samples = append_latencies_us(dir, rounds, writers, AppendRun{});
  return median_us(samples);
}

// The log makes each batch durable with pwrite and fdatasync. Folding the sync into
// the write (RWF_DSYNC, O_DSYNC) saves a system call, and O_DIRECT the page cache:
// this prints what each costs here, so the choice rests on a measurement.
void compare_sync_methods(const std::string& dir, int rounds) {
  struct Named {
    SyncMethod method;
    const char* name;
  };
  const Named methods[] = {{SyncMethod::kFdatasync, "pwrite + fdatasync"},
                           {SyncMethod::kRwfDsync, "pwritev2 RWF_DSYNC"},
                           {SyncMethod::kODsync, "O_DSYNC pwrite"},
                           {SyncMethod::kODirect, "O_DIRECT|O_DSYNC pwrite"}};
  std::printf("durable 4 KiB appends over zeros, p50 / p99 us:\n");
  std::printf("%-24s %18s %18s\n", "method", "1 writer", "3 writers at once");
  for (const Named& named : methods) {
    std::printf("%-24s", named.name);
    for (const int writers : {1, 3}) {
      std::vector<double> samples =
          append_latencies_us(dir, rounds, writers, AppendRun{named.method, 4096, /*over_zeros=*/true});
      std::printf(" %8.1f / %7.1f", percentile_us(samples, 0.5), percentile_us(samples, 0.99));
    }
    std::printf("\n");
  }
}

// One byte there and back over a TCP connection on 127.0.0.1 (Nagle off).
double loopback_round_trip_us(int rounds) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0) die("bind");
  if (::listen(listener, 1) != 0) die("listen");
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) die("getsockname");

  std::thread echo([listener] {
    const int peer = ::accept(listener, nullptr, nullptr);
    if (peer < 0) return;
    char byte = 0;
    while (::read(peer, &byte, 1) == 1) {
      if (::write(peer, &byte, 1) != 1) break;
    }
    ::close(peer);
  });
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0 || ::connect(client, reinterpret_cast<sockaddr*>(&address), length) != 0) die("connect");
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<double> samples;
  char byte = 'p';
  for (int i = 0; i < rounds; ++i) {
    const auto start = Clock::now();
    if (::write(client, &byte, 1) != 1 || ::read(client, &byte, 1) != 1) die("round trip");
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  ::close(client);
  echo.join();
  ::close(listener);
  return median_us(samples);
}

}  // namespace

int floor_bench_main(int argc, char** argv) {
  std::string dir = "./raft-bench-floor";
  int rounds = 2000;
  CLI::App app{"raft-bench floor: fdatasync latency of a small append and a loopback round trip"};
  app.add_option("--dir", dir, "Scratch directory on the disk to measure")->capture_default_str();
  app.add_option("--rounds", rounds, "Samples of each")->capture_default_str()->check(CLI::PositiveNumber);
  bool sync_methods = false;
  app.add_flag("--sync-methods", sync_methods,
               "Instead: compare ways of making an append durable (fdatasync, RWF_DSYNC, O_DSYNC, O_DIRECT)");
  CLI11_PARSE(app, argc, argv);

  if (sync_methods) {
    compare_sync_methods(dir, rounds);
    std::filesystem::remove_all(dir);
    return 0;
  }
  const double sync = fdatasync_us(dir, rounds, 1);
  const double shared_sync = fdatasync_us(dir, rounds, 3);
  std::filesystem::remove_all(dir);
  const double rtt = loopback_round_trip_us(rounds);
  std::printf("fdatasync of a 100 B append (p50): %.1f us\n", sync);
  std::printf("the same, 3 files syncing at once: %.1f us (three nodes sharing this disk)\n", shared_sync);
  std::printf("loopback TCP round trip (p50):     %.1f us\n", rtt);
  std::printf("floor of one replicated write:     %.1f us (one fdatasync + two round trips)\n", sync + 2 * rtt);
  std::printf("the same, nodes sharing the disk:  %.1f us (one shared-disk fdatasync + two round trips)\n",
              shared_sync + 2 * rtt);
  return 0;
}

}  // namespace raft::bench
