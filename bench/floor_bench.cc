// raft-bench floor: the physical floor under one replicated write on this machine.
//
// A write acknowledged by a 3-node cluster needs at least one fdatasync of a small
// append (leader and followers sync in parallel) and two loopback round trips (client
// to leader, leader to follower and back). This prints both, measured here and now,
// so a 1-connection latency can be read against them (bench/compare-etcd prints it
// next to its table). When the three nodes share one disk, as in compare-etcd, their
// syncs queue at the device: the second floor measures a sync while three run at once.
// The third floor is a whole replicated write with nothing but the system calls it
// needs (replicated_write_us), so the least any three-node cluster can take here.
// With --sync-methods it compares instead the ways of making an append durable.
#include "bench/floor_bench.h"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/die.h"

namespace raft::bench {
namespace {

using Clock = std::chrono::steady_clock;

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
      if (fd < 0) die_errno("floor", path);
      if (run.over_zeros) {
        const std::string zeros(1 << 20, '\0');
        for (off_t at = 0; at < size; at += static_cast<off_t>(zeros.size())) {
          if (::pwrite(fd, zeros.data(), zeros.size(), at) != static_cast<ssize_t>(zeros.size()))
            die_errno("floor", "zero " + path);
        }
        if (::fsync(fd) != 0) die_errno("floor", "fsync " + path);
      } else if (::posix_fallocate(fd, 0, std::max<off_t>(size, 64 << 20)) != 0) {
        die_errno("floor", "fallocate " + path);
      }
      int flags = O_WRONLY | O_CLOEXEC;
      if (run.method == SyncMethod::kODsync) flags |= O_DSYNC;
      if (run.method == SyncMethod::kODirect) flags |= O_DSYNC | O_DIRECT;
      ::close(fd);
      fd = ::open(path.c_str(), flags);
      if (fd < 0) die_errno("floor", "open " + path);
      // O_DIRECT needs the buffer aligned to the device's logical block.
      void* buffer = std::aligned_alloc(4096, (run.bytes + 4095) / 4096 * 4096);
      if (buffer == nullptr) die_errno("floor", "aligned_alloc");
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
        if (written != static_cast<ssize_t>(run.bytes)) die_errno("floor", "write " + path);
        if (run.method == SyncMethod::kFdatasync && ::fdatasync(fd) != 0)
          die_errno("floor", "fdatasync " + path);
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

// A TCP listener on an ephemeral port of 127.0.0.1; `address` is where it listens.
int listen_on_loopback(sockaddr_in& address) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die_errno("floor", "socket");
  address = sockaddr_in{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0)
    die_errno("floor", "bind");
  if (::listen(listener, 1) != 0) die_errno("floor", "listen");
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    die_errno("floor", "getsockname");
  return listener;
}

int connect_to(const sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    die_errno("floor", "connect");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int accept_one(int listener) {
  const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) die_errno("floor", "accept");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// One byte there and back over a TCP connection on 127.0.0.1 (Nagle off).
double loopback_round_trip_us(int rounds) {
  sockaddr_in address{};
  const int listener = listen_on_loopback(address);
  std::thread echo([listener] {
    const int peer = accept_one(listener);
    char byte = 0;
    while (::read(peer, &byte, 1) == 1) {
      if (::write(peer, &byte, 1) != 1) break;
    }
    ::close(peer);
  });
  const int client = connect_to(address);
  std::vector<double> samples;
  char byte = 'p';
  for (int i = 0; i < rounds; ++i) {
    const auto start = Clock::now();
    if (::write(client, &byte, 1) != 1 || ::read(client, &byte, 1) != 1)
      die_errno("floor", "round trip");
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  ::close(client);
  echo.join();
  ::close(listener);
  return median_us(samples);
}

// False at end of stream.
bool read_exactly(int fd, char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, data, size);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("floor", "read");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void write_exactly(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("floor", "write");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// A node's log for the replicated floor: preallocated, as the log's segments are.
int open_floor_log(const std::string& path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) die_errno("floor", path);
  if (::posix_fallocate(fd, 0, 64 << 20) != 0) die_errno("floor", "fallocate " + path);
  return fd;
}

constexpr std::size_t kFloorWriteBytes = 100;

// Appends `write` at `at` and syncs it, as each node of the replicated floor does.
void append_durably(int log, const std::array<char, kFloorWriteBytes>& write, off_t& at, const std::string& path) {
  if (::pwrite(log, write.data(), write.size(), at) != static_cast<ssize_t>(write.size()))
    die_errno("floor", "pwrite " + path);
  at += static_cast<off_t>(write.size());
  if (::fdatasync(log) != 0) die_errno("floor", "fdatasync " + path);
}

// Reads what acknowledgements (a byte each) a follower has sent, at least one.
void read_acknowledgements(int follower, std::uint64_t& acknowledged) {
  char acks[64];
  const ssize_t n = ::read(follower, acks, sizeof acks);
  if (n <= 0) die_errno("floor", "a follower of the replicated floor");
  acknowledged += static_cast<std::uint64_t>(n);
}

// The follower of the replicated floor, in a process of its own: appends and syncs
// every write the leader sends, then acknowledges it with one byte.
[[noreturn]] void run_floor_follower(int listener, const std::string& path) {
  const int leader = accept_one(listener);
  ::close(listener);
  const int log = open_floor_log(path);
  std::array<char, kFloorWriteBytes> write{};
  off_t at = 0;
  while (read_exactly(leader, write.data(), write.size())) {
    append_durably(log, write, at, path);
    write_exactly(leader, "a", 1);
  }
  ::close(log);
  ::unlink(path.c_str());
  ::_exit(0);
}

// The leader of the replicated floor: sends each client write to both followers,
// appends and syncs its own copy meanwhile, and answers once its sync and one
// follower's acknowledgement are in (a majority of three). The slower follower's
// acknowledgements are taken as they come.
void run_floor_leader(int listener, const std::array<sockaddr_in, 2>& followers, const std::string& path) {
  const std::array<int, 2> to = {connect_to(followers[0]), connect_to(followers[1])};
  const int client = accept_one(listener);
  const int log = open_floor_log(path);
  std::array<char, kFloorWriteBytes> write{};
  std::array<std::uint64_t, 2> acknowledged = {0, 0};
  std::uint64_t sent = 0;
  off_t at = 0;
  while (read_exactly(client, write.data(), write.size())) {
    for (const int follower : to) write_exactly(follower, write.data(), write.size());
    ++sent;
    append_durably(log, write, at, path);
    while (acknowledged[0] < sent && acknowledged[1] < sent) {
      std::array<pollfd, 2> ready = {pollfd{to[0], POLLIN, 0}, pollfd{to[1], POLLIN, 0}};
      if (::poll(ready.data(), ready.size(), -1) < 0 && errno != EINTR) die_errno("floor", "poll");
      for (std::size_t i = 0; i < ready.size(); ++i) {
        if ((ready[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) read_acknowledgements(to[i], acknowledged[i]);
      }
    }
    write_exactly(client, "c", 1);
  }
  // Every acknowledgement read before closing: unread data would turn the close into
  // a reset, which the follower would take for a failure.
  for (std::size_t i = 0; i < to.size(); ++i) {
    while (acknowledged[i] < sent) read_acknowledgements(to[i], acknowledged[i]);
  }
  for (const int follower : to) ::close(follower);
  ::close(client);
  ::close(log);
  ::unlink(path.c_str());
}

// A 100-byte write replicated to three nodes with nothing in the way: a client, a
// leader and two followers on 127.0.0.1, the followers in processes of their own,
// each node syncing its own file on this disk; no HTTP, no encoding, no event loop.
// The client's p50 is the least any three-node cluster on this machine can take.
double replicated_write_us(const std::string& dir, int rounds) {
  std::filesystem::create_directories(dir);
  std::array<sockaddr_in, 2> follower_addresses{};
  std::array<pid_t, 2> followers{};
  std::fflush(nullptr);  // a follower that exits must not print the parent's buffered output again
  for (std::size_t i = 0; i < followers.size(); ++i) {
    const int listener = listen_on_loopback(follower_addresses[i]);
    followers[i] = ::fork();
    if (followers[i] < 0) die_errno("floor", "fork");
    if (followers[i] == 0) run_floor_follower(listener, dir + "/follower-" + std::to_string(i));
    ::close(listener);
  }
  sockaddr_in leader_address{};
  const int leader_listener = listen_on_loopback(leader_address);
  std::thread leader([&] { run_floor_leader(leader_listener, follower_addresses, dir + "/leader"); });
  const int client = connect_to(leader_address);
  std::array<char, kFloorWriteBytes> write{};
  write.fill('w');
  std::vector<double> samples;
  char answer = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto start = Clock::now();
    write_exactly(client, write.data(), write.size());
    if (!read_exactly(client, &answer, 1)) die_errno("floor", "the leader of the replicated floor");
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  ::close(client);
  leader.join();
  ::close(leader_listener);
  for (const pid_t pid : followers) {
    int status = 0;
    if (::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "raft-bench floor: a follower of the replicated floor failed\n");
      std::exit(1);
    }
  }
  return median_us(samples);
}

}  // namespace

int floor_bench_main(int argc, char** argv) {
  std::string dir = "./raft-bench-floor";
  int rounds = 2000;
  CLI::App app{"raft-bench floor: fdatasync of a small append, a loopback round trip, a bare replicated write"};
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
  const double replicated = replicated_write_us(dir, rounds);
  std::filesystem::remove_all(dir);
  const double rtt = loopback_round_trip_us(rounds);
  std::printf("fdatasync of a 100 B append (p50): %.1f us\n", sync);
  std::printf("the same, 3 files syncing at once: %.1f us (three nodes sharing this disk)\n", shared_sync);
  std::printf("loopback TCP round trip (p50):     %.1f us\n", rtt);
  std::printf("floor of one replicated write:     %.1f us (one fdatasync + two round trips)\n", sync + 2 * rtt);
  std::printf("the same, nodes sharing the disk:  %.1f us (one shared-disk fdatasync + two round trips)\n",
              shared_sync + 2 * rtt);
  std::printf("bare replicated write (p50):       %.1f us (leader and two followers over TCP, each syncing its own\n"
              "                                   file here; the leader answers on its sync and one follower's)\n",
              replicated);
  return 0;
}

}  // namespace raft::bench
