// raft-bench: library-level throughput and latency of a replicated state machine,
// without any client protocol in the way. N nodes run in this process (or one process
// each, --processes); proposers call Node::propose() directly on the leader and wait
// for each result before sending the next (closed loop), so `concurrency` is the
// number of commands in flight.
//
//   raft-bench wal [--sizes ..] [--appenders ..]   the durable log alone (wal_bench.cc)
//   raft-bench floor                                the latency floors under one write (floor_bench.cc)
//   raft-bench removal                              sync stalls while segments are removed (removal_bench.cc)
//   raft-bench [--nodes 3] [--storage memory|wal] [--transport local|http]
//              [--sizes 100,1024] [--concurrency 1,16,64,256] [--seconds 5]
//
//   raft-bench --processes ...   node 1 here, the others as child processes (HTTP)
//
// Prints one row per (size, concurrency): ops/s, p50/p99/p99.9 latency, CPU seconds
// per 1,000 ops (every process of the cluster), and the largest peak RSS of them.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <mutex>
#include <thread>

#include "bench/floor_bench.h"
#include "bench/removal_bench.h"
#include "bench/parse_list.h"
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

struct Config {
  int nodes = 3;
  std::string storage = "memory";
  std::string transport = "local";
  std::string sizes = "100,1024";
  std::string concurrency = "1,16,64,256";
  double seconds = 5;
  std::string data_dir = "/tmp/raft-bench";
  int base_port = 17400;
  bool processes = false;
};

// The options of node `i` (1-based) of the benchmark cluster.
raft::NodeOptions node_options(const Config& config, int i, raft::testing::LocalHub& hub) {
  std::vector<raft::Peer> peers;
  for (int j = 1; j <= config.nodes; ++j) {
    raft::Peer peer;
    peer.id = static_cast<raft::NodeId>(j);
    peer.peer_address = "127.0.0.1:" + std::to_string(config.base_port + j);
    peers.push_back(peer);
  }
  raft::NodeOptions options;
  options.id = static_cast<raft::NodeId>(i);
  options.initial_cluster = peers;
  options.random_seed = static_cast<std::uint64_t>(i) * 104729;
  options.snapshot_threshold_entries = 100000;
  options.snapshot_trailing_entries = 10000;
  options.max_pending_proposals = 1 << 20;
  if (config.processes && i != 1) {
    // Node 1 (in the driving process) should win the first election.
    options.election_timeout = options.election_timeout * 4;
  }
  if (config.storage == "memory") {
    options.log_store = std::make_shared<raft::MemoryLogStore>();
    options.snapshot_store = std::make_shared<raft::MemorySnapshotStore>();
  } else {
    options.data_dir = config.data_dir + "/n" + std::to_string(i);
  }
  if (config.transport == "local") {
    options.transport = std::make_shared<raft::testing::LocalTransport>(hub, options.id);
  } else {
    options.listen_address = peers[static_cast<std::size_t>(i - 1)].peer_address;
  }
  return options;
}

std::unique_ptr<raft::Node> open_node(const Config& config, int i, raft::testing::LocalHub& hub) {
  auto opened = raft::Node::open(node_options(config, i, hub), std::make_shared<NullMachine>());
  if (!opened.ok()) {
    std::fprintf(stderr, "raft-bench: node %d: %s\n", i, opened.error().message.c_str());
    std::exit(1);
  }
  return std::move(opened.value());
}

// CPU seconds and peak RSS (MiB) of another process, from /proc.
std::pair<double, long> process_usage(pid_t pid) {
  double cpu = 0;
  long peak_kib = 0;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (const std::size_t paren = text.rfind(')'); paren != std::string::npos) {
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    for (int n = 3; n <= 15 && fields >> field; ++n) {
      if (n == 14 || n == 15) cpu += std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) peak_kib = std::stol(line.substr(6));
  }
  return {cpu, peak_kib / 1024};
}

// All nodes in this process, or (--processes) node 1 here and the others in child
// processes running `raft-bench node N` with the same flags, over HTTP.
class Cluster {
 public:
  Cluster(const Config& config, const std::vector<std::string>& args) : config_(config) {
    std::filesystem::remove_all(config.data_dir);
    if (config.processes) {
      for (int i = 2; i <= config.nodes; ++i) {
        const pid_t pid = ::fork();
        if (pid < 0) {
          std::perror("raft-bench: fork");
          std::exit(1);
        }
        if (pid == 0) {
          std::vector<std::string> child_args = {"/proc/self/exe", "node", std::to_string(i)};
          child_args.insert(child_args.end(), args.begin(), args.end());
          std::vector<char*> argv;
          for (std::string& a : child_args) argv.push_back(a.data());
          argv.push_back(nullptr);
          ::execv("/proc/self/exe", argv.data());
          std::perror("raft-bench: exec");
          std::_Exit(127);
        }
        children_.push_back(pid);
      }
      nodes_.push_back(open_node(config, 1, hub_));
      return;
    }
    for (int i = 1; i <= config.nodes; ++i) nodes_.push_back(open_node(config, i, hub_));
  }

  ~Cluster() {
    nodes_.clear();
    for (pid_t pid : children_) ::kill(pid, SIGTERM);
    for (pid_t pid : children_) ::waitpid(pid, nullptr, 0);
  }

  raft::Node& wait_for_leader() {
    for (int i = 0; i < 1000; ++i) {
      for (auto& node : nodes_) {
        if (node->status().role == raft::NodeRole::kLeader) return *node;
      }
      std::this_thread::sleep_for(10ms);
    }
    std::fprintf(stderr, "raft-bench: no leader%s\n", config_.processes ? " in this process (node 1)" : "");
    std::exit(1);
  }

  // CPU seconds used so far by every process of the cluster (this one included).
  double cpu_seconds_all() const {
    double total = cpu_seconds();
    for (pid_t pid : children_) total += process_usage(pid).first;
    return total;
  }
  // The largest peak RSS of the cluster's processes, MiB.
  long peak_rss_mib_max() const {
    long peak = peak_rss_mib();
    for (pid_t pid : children_) peak = std::max(peak, process_usage(pid).second);
    return peak;
  }

 private:
  const Config config_;
  raft::testing::LocalHub hub_;
  std::vector<std::unique_ptr<raft::Node>> nodes_;
  std::vector<pid_t> children_;
};

// `raft-bench node N <flags>`: node N of a --processes cluster, until SIGTERM.
int run_child_node(const Config& config, int id) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the node's threads start
  raft::testing::LocalHub hub;
  std::unique_ptr<raft::Node> node = open_node(config, id, hub);
  int received = 0;
  sigwait(&signals, &received);
  node->stop();
  return 0;
}

struct Point {
  double ops_per_second = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0;
  double cpu_seconds_per_1k = 0;
  std::uint64_t errors = 0;
};

Point run_point(const Cluster& cluster, raft::Node& leader, std::size_t size, std::size_t concurrency,
                double seconds) {
  const std::string command(size, 'x');
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<double> latencies;
  latencies.reserve(1 << 20);
  std::atomic<std::uint64_t> errors{0};
  std::size_t running = concurrency;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const double cpu_start = cluster.cpu_seconds_all();

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
  const double cpu = cluster.cpu_seconds_all() - cpu_start;
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
  if (argc > 1 && std::string_view(argv[1]) == "removal") return raft::bench::removal_bench_main(argc - 1, argv + 1);
  int child_id = 0;  // `raft-bench node N <flags>`: a child of --processes
  if (argc > 2 && std::string_view(argv[1]) == "node") {
    child_id = std::atoi(argv[2]);
    argc -= 2;
    argv += 2;
  }
  const std::vector<std::string> flags(argv + 1, argv + argc);
  Config config;
  CLI::App app{"raft-bench: library-level throughput and latency of a raft cluster"};
  app.add_option("--nodes", config.nodes)->capture_default_str()->check(CLI::Range(1, 9));
  app.add_option("--storage", config.storage, "memory or wal")->capture_default_str()->check(CLI::IsMember({"memory", "wal"}));
  app.add_option("--transport", config.transport, "local or http")->capture_default_str()->check(CLI::IsMember({"local", "http"}));
  app.add_flag("--processes", config.processes, "One process per node (implies --transport http); proposers run in node 1's");
  app.add_option("--sizes", config.sizes, "Command sizes in bytes")->capture_default_str();
  app.add_option("--concurrency", config.concurrency, "Commands in flight")->capture_default_str();
  app.add_option("--seconds", config.seconds, "Seconds per point")->capture_default_str();
  app.add_option("--data-dir", config.data_dir, "Where wal storage lives (wiped)")->capture_default_str();
  app.add_option("--base-port", config.base_port, "http transport ports start after this")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (config.processes) config.transport = "http";
  if (child_id != 0) return run_child_node(config, child_id);

  Cluster cluster(config, flags);
  raft::Node& leader = cluster.wait_for_leader();
  std::printf("raft-bench: %d nodes in %s, storage=%s, transport=%s, %.0f s per point\n", config.nodes,
              config.processes ? "one process each" : "one process", config.storage.c_str(), config.transport.c_str(),
              config.seconds);
  std::printf("%8s %6s %12s %9s %9s %9s %12s %9s %7s\n", "bytes", "conc", "ops/s", "p50 ms", "p99 ms", "p99.9 ms",
              "cpu s/1k op", "rss MiB", "errors");
  for (std::uint64_t size : raft::bench::parse_list(config.sizes)) {
    for (std::uint64_t concurrency : raft::bench::parse_list(config.concurrency)) {
      run_point(cluster, leader, size, concurrency, std::min(1.0, config.seconds / 5));  // warm-up
      const Point p = run_point(cluster, leader, size, concurrency, config.seconds);
      std::printf("%8llu %6llu %12.0f %9.3f %9.3f %9.3f %12.4f %9ld %7llu\n", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(concurrency), p.ops_per_second, p.p50_ms, p.p99_ms, p.p999_ms,
                  p.cpu_seconds_per_1k, cluster.peak_rss_mib_max(), static_cast<unsigned long long>(p.errors));
      std::fflush(stdout);
    }
  }
  return 0;
}
