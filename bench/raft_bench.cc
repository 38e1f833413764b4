// raft-bench: library-level throughput and latency of a replicated state machine,
// without any client protocol in the way. N nodes run in this process; proposers
// call Node::propose() directly on the leader and wait for each result before sending
// the next (closed loop), so `concurrency` is the number of commands in flight.
//
//   raft-bench wal [--sizes ..] [--appenders ..]   the durable log alone (wal_bench.cc)
//   raft-bench floor                                fdatasync and loopback latency (floor_bench.cc)
//   raft-bench [--nodes 3] [--storage memory|wal] [--transport local|http]
//              [--sizes 100,1024] [--concurrency 1,16,64,256] [--seconds 5]
//
// Prints one row per (size, concurrency): ops/s, p50/p99/p99.9 latency, CPU seconds
// per 1,000 ops (whole process: all nodes), and the process's peak RSS.
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "bench/floor_bench.h"
#include "bench/wal_bench.h"
#include "raft/memory_stores.h"
#include "raft/node.h"
#include "src/node/default_stores.h"
#include "tests/node/local_transport.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The cheapest possible state machine: counts bytes, so the benchmark measures Raft.
class NullMachine final : public raft::StateMachine {
 public:
  std::string apply(raft::Index, std::string_view command) override {
    bytes_ += command.size();
    return {};
  }
  void save(std::ostream& out) override { out << bytes_; }
  void restore(std::istream& in) override { in >> bytes_; }

 private:
  std::uint64_t bytes_ = 0;
};

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

long peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

std::vector<std::uint64_t> parse_list(const std::string& text) {
  std::vector<std::uint64_t> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t comma = text.find(',', start);
    out.push_back(std::stoull(text.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

struct Config {
  int nodes = 3;
  std::string storage = "memory";
  std::string transport = "local";
  std::string sizes = "100,1024";
  std::string concurrency = "1,16,64,256";
  double seconds = 5;
  std::string data_dir = "/tmp/raft-bench";
  int base_port = 17400;
};

class Cluster {
 public:
  explicit Cluster(const Config& config) {
    std::vector<raft::Peer> peers;
    for (int i = 1; i <= config.nodes; ++i) {
      raft::Peer peer;
      peer.id = static_cast<raft::NodeId>(i);
      peer.peer_address = "127.0.0.1:" + std::to_string(config.base_port + i);
      peers.push_back(peer);
    }
    std::filesystem::remove_all(config.data_dir);
    for (int i = 1; i <= config.nodes; ++i) {
      raft::NodeOptions options;
      options.id = static_cast<raft::NodeId>(i);
      options.initial_cluster = peers;
      options.random_seed = static_cast<std::uint64_t>(i) * 104729;
      options.snapshot_threshold_entries = 100000;
      options.snapshot_trailing_entries = 10000;
      options.max_pending_proposals = 1 << 20;
      if (config.storage == "memory") {
        options.log_store = std::make_shared<raft::MemoryLogStore>();
        options.snapshot_store = std::make_shared<raft::MemorySnapshotStore>();
      } else {
        options.data_dir = config.data_dir + "/n" + std::to_string(i);
      }
      if (config.transport == "local") {
        options.transport = std::make_shared<raft::testing::LocalTransport>(hub_, options.id);
      } else {
        options.listen_address = peers[static_cast<std::size_t>(i - 1)].peer_address;
      }
      auto opened = raft::Node::open(options, std::make_shared<NullMachine>());
      if (!opened.ok()) {
        std::fprintf(stderr, "raft-bench: node %d: %s\n", i, opened.error().message.c_str());
        std::exit(1);
      }
      nodes_.push_back(std::move(opened.value()));
    }
  }

  raft::Node& wait_for_leader() {
    for (int i = 0; i < 1000; ++i) {
      for (auto& node : nodes_) {
        if (node->status().role == raft::NodeRole::kLeader) return *node;
      }
      std::this_thread::sleep_for(10ms);
    }
    std::fprintf(stderr, "raft-bench: no leader\n");
    std::exit(1);
  }

 private:
  raft::testing::LocalHub hub_;
  std::vector<std::unique_ptr<raft::Node>> nodes_;
};

struct Point {
  double ops_per_second = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0;
  double cpu_seconds_per_1k = 0;
  std::uint64_t errors = 0;
};

Point run_point(raft::Node& leader, std::size_t size, std::size_t concurrency, double seconds) {
  const std::string command(size, 'x');
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<double> latencies;
  latencies.reserve(1 << 20);
  std::atomic<std::uint64_t> errors{0};
  std::size_t running = concurrency;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const double cpu_start = cpu_seconds();

  // Each in-flight slot re-proposes from the completion callback: no thread per slot.
  std::function<void()> issue = [&] {
    if (Clock::now() >= end) {
      std::lock_guard lock(mutex);
      if (--running == 0) done_cv.notify_all();
      return;
    }
    const auto sent = Clock::now();
    leader.propose(command, [&, sent](raft::Result<std::string> result) {
      if (result.ok()) {
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
        std::lock_guard lock(mutex);
        latencies.push_back(ms);
      } else {
        errors.fetch_add(1);
      }
      issue();
    });
  };
  for (std::size_t i = 0; i < concurrency; ++i) issue();
  {
    std::unique_lock lock(mutex);
    done_cv.wait(lock, [&] { return running == 0; });
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_start;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    if (latencies.empty()) return 0.0;
    return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(q * static_cast<double>(latencies.size())))];
  };
  Point point;
  point.ops_per_second = static_cast<double>(latencies.size()) / elapsed;
  point.p50_ms = pct(0.5);
  point.p99_ms = pct(0.99);
  point.p999_ms = pct(0.999);
  point.cpu_seconds_per_1k = latencies.empty() ? 0 : cpu / static_cast<double>(latencies.size()) * 1000;
  point.errors = errors.load();
  return point;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "wal") return raft::bench::wal_bench_main(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "floor") return raft::bench::floor_bench_main(argc - 1, argv + 1);
  Config config;
  CLI::App app{"raft-bench: library-level throughput and latency of a raft cluster in one process"};
  app.add_option("--nodes", config.nodes)->capture_default_str()->check(CLI::Range(1, 9));
  app.add_option("--storage", config.storage, "memory or wal")->capture_default_str()->check(CLI::IsMember({"memory", "wal"}));
  app.add_option("--transport", config.transport, "local or http")->capture_default_str()->check(CLI::IsMember({"local", "http"}));
  app.add_option("--sizes", config.sizes, "Command sizes in bytes")->capture_default_str();
  app.add_option("--concurrency", config.concurrency, "Commands in flight")->capture_default_str();
  app.add_option("--seconds", config.seconds, "Seconds per point")->capture_default_str();
  app.add_option("--data-dir", config.data_dir, "Where wal storage lives (wiped)")->capture_default_str();
  app.add_option("--base-port", config.base_port, "http transport ports start after this")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  Cluster cluster(config);
  raft::Node& leader = cluster.wait_for_leader();
  std::printf("raft-bench: %d nodes in one process, storage=%s, transport=%s, %.0f s per point\n", config.nodes,
              config.storage.c_str(), config.transport.c_str(), config.seconds);
  std::printf("%8s %6s %12s %9s %9s %9s %12s %9s %7s\n", "bytes", "conc", "ops/s", "p50 ms", "p99 ms", "p99.9 ms",
              "cpu s/1k op", "rss MiB", "errors");
  for (std::uint64_t size : parse_list(config.sizes)) {
    for (std::uint64_t concurrency : parse_list(config.concurrency)) {
      run_point(leader, size, concurrency, std::min(1.0, config.seconds / 5));  // warm-up
      const Point p = run_point(leader, size, concurrency, config.seconds);
      std::printf("%8llu %6llu %12.0f %9.3f %9.3f %9.3f %12.4f %9ld %7llu\n", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(concurrency), p.ops_per_second, p.p50_ms, p.p99_ms, p.p999_ms,
                  p.cpu_seconds_per_1k, peak_rss_mib(), static_cast<unsigned long long>(p.errors));
      std::fflush(stdout);
    }
  }
  return 0;
}
