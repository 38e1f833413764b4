// raft-bench floor: the physical floor under one replicated write on this machine.
//
// A write acknowledged by a 3-node cluster needs at least one fdatasync of a small
// append (leader and followers sync in parallel) and two loopback round trips (client
// to leader, leader to follower and back). This prints both, measured here and now,
// so a 1-connection latency can be read against them (bench/compare-etcd prints it
// next to its table). When the three nodes share one disk, as in compare-etcd, their
// syncs queue at the device: the second floor measures a sync while three run at once.
#include "bench/floor_bench.h"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
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

double median_us(std::vector<double>& samples) {
  std::sort(samples.begin(), samples.end());
  return samples.empty() ? 0 : samples[samples.size() / 2];
}

// pwrite of 100 bytes at the end of a preallocated file, then fdatasync; `writers`
// threads at once, each on its own file, as the nodes of a cluster on one disk do.
double fdatasync_us(const std::string& dir, int rounds, int writers) {
  std::filesystem::create_directories(dir);
  std::vector<std::vector<double>> samples(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&dir, rounds, w, &out = samples[w]] {
      const std::string path = dir + "/floor-" + std::to_string(w);
      const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) die(path);
      if (::posix_fallocate(fd, 0, 64 << 20) != 0) die("fallocate " + path);
      const std::string record(100, 'f');
      for (int i = 0; i < rounds; ++i) {
        const auto start = Clock::now();
        if (::pwrite(fd, record.data(), record.size(), static_cast<off_t>(i) * 100) != 100) die("pwrite " + path);
        if (::fdatasync(fd) != 0) die("fdatasync " + path);
        out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
      ::close(fd);
      std::filesystem::remove(path);
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<double> all;
  for (const std::vector<double>& s : samples) all.insert(all.end(), s.begin(), s.end());
  return median_us(all);
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
  CLI11_PARSE(app, argc, argv);

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
