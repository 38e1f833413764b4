// raftd: a replicated key-value server on the raft library, and the library's best
// example. Flags, start-up and shutdown live here; the HTTP API is api.cc and the
// state machine kv_store.cc. Contract: ../shared/RAFTD-API.md.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "raft/node.h"
#include "src/http/client.h"
#include "src/http/server.h"
#include "src/raftd/api.h"
#include "src/raftd/events.h"
#include "src/raftd/kv_store.h"
#include "src/raftd/names.h"

namespace {

using namespace std::chrono_literals;

struct Flags {
  std::string id = "n1";
  std::string data_dir = "raftd-data";
  std::string listen_peer = "127.0.0.1:7001";
  std::string listen_client = "127.0.0.1:8001";
  std::string initial_cluster;
  std::string join;
  bool force_new_cluster = false;
  std::uint64_t cluster_id = 0x7261667464;  // "raftd"
  int heartbeat_ms = 50;
  int election_ms = 250;
  int tick_ms = 10;
  std::uint64_t snapshot_threshold = 10000;
  std::uint64_t snapshot_trailing = 1000;
  double snapshot_log_ratio = 4;
  int request_timeout_ms = 5000;
  std::size_t max_value_bytes = 1 << 20;
  std::uint32_t max_inflight_appends = 256;
  std::uint64_t max_append_bytes = 1 << 20;
  bool coalesce_appends = true;
  bool narrow_read_rounds = true;
  bool apply_on_loop = true;
  int lease_drift_margin_ms = 20;
  std::string client_io = "io_uring";
  int client_threads = 2;
  bool quiet = false;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "raftd: %s\n", message.c_str());
  std::exit(1);
}

std::pair<std::string, std::uint16_t> split_address(const std::string& address, const char* flag) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) die(std::string(flag) + ": expected host:port, got '" + address + "'");
  const std::string port_text = address.substr(colon + 1);
  char* end = nullptr;
  const unsigned long port = std::strtoul(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port == 0 || port > 65535) {
    die(std::string(flag) + ": bad port in '" + address + "'");
  }
  return {address.substr(0, colon), static_cast<std::uint16_t>(port)};
}

std::vector<raft::Peer> parse_initial_cluster(const std::string& text) {
  std::vector<raft::Peer> peers;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      die("--initial-cluster: expected name=host:port[,name=host:port...], got '" + item + "'");
    }
    raft::Peer peer;
    peer.name = item.substr(0, eq);
    peer.id = raftd::node_id_from_name(peer.name);
    peer.peer_address = item.substr(eq + 1);
    split_address(peer.peer_address, "--initial-cluster");
    for (const raft::Peer& other : peers) {
      if (other.name == peer.name) die("--initial-cluster: '" + peer.name + "' appears twice");
    }
    peers.push_back(std::move(peer));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return peers;
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[96];  // ample for any int values, so -Wformat-truncation stays quiet
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buffer;
}

// Asks a live member (its client address) to add this node as a learner; returns the
// members it reports, so this node can answer them before it has the configuration.
std::vector<raft::Peer> request_join(const Flags& flags) {
  boost::asio::io_context io;
  raft::http::Client client(io);
  const std::string body = std::string("{\"id\":\"") + flags.id + "\",\"peer\":\"" + flags.listen_peer +
                           "\",\"client\":\"" + flags.listen_client + "\"}";
  for (int attempt = 0; attempt < 50; ++attempt) {
    raft::http::Request request{boost::beast::http::verb::post, "/v1/members", 11};
    request.set(boost::beast::http::field::host, flags.join);
    request.set(boost::beast::http::field::content_type, "application/json");
    request.body() = body;
    std::string outcome;
    bool done = false;
    bool refused = false;  // 409: retrying cannot help
    std::vector<raft::Peer> members;
    client.send(flags.join, std::move(request), [&](raft::http::Response* response, const raft::http::ClientError* error) {
      if (response != nullptr && response->result() == boost::beast::http::status::ok) {
        done = true;
        try {
          const nlohmann::json answer = nlohmann::json::parse(response->body());  // outlives the loop
          for (const auto& m : answer.at("members")) {
            const std::string name = m.value("id", "");
            members.push_back(raft::Peer{raftd::node_id_from_name(name), name, m.value("peer", ""), m.value("client", "")});
          }
        } catch (const std::exception& e) {
          std::fprintf(stderr, "raftd: unexpected join answer '%s': %s\n", response->body().c_str(), e.what());
        }
      } else {
        outcome = response != nullptr ? std::to_string(response->result_int()) + " " + response->body() : error->message;
        refused = response != nullptr && response->result() == boost::beast::http::status::conflict;
      }
    });
    io.run();
    io.restart();
    if (done) return members;
    if (refused) die("the cluster refused the join: " + outcome);
    std::fprintf(stderr, "raftd: join via %s failed (%s); retrying\n", flags.join.c_str(), outcome.c_str());
    std::this_thread::sleep_for(200ms);
  }
  die("could not join the cluster through " + flags.join);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"raftd: a replicated key-value server built on the raft library.\n"
               "With no flags: a single-node cluster, data in ./raftd-data, peers on 127.0.0.1:7001, "
               "clients on 127.0.0.1:8001."};
  app.add_option("--id", flags.id, "This node's name")->capture_default_str();
  app.add_option("--data-dir", flags.data_dir, "Directory for the log and snapshots")->capture_default_str();
  app.add_option("--listen-peer", flags.listen_peer, "host:port for Raft traffic")->capture_default_str();
  app.add_option("--listen-client", flags.listen_client, "host:port for the client API and dashboard")->capture_default_str();
  app.add_option("--initial-cluster", flags.initial_cluster,
                 "Founding members name=host:port,... (the same on every founding node)");
  app.add_option("--join", flags.join, "Client address of a live member: join that cluster as a learner");
  app.add_flag(
      "--force-new-cluster", flags.force_new_cluster,
      "Disaster recovery after losing the majority for good: restart this member, with its data, "
      "as the only voter of a new cluster; the others rejoin with empty data dirs. Use once");
  app.add_option("--cluster-id", flags.cluster_id, "Cluster identity stamped on every message")->capture_default_str();
  app.add_option("--heartbeat-interval", flags.heartbeat_ms, "Heartbeat interval in ms")->capture_default_str()->check(CLI::Range(1, 60000));
  app.add_option("--election-timeout", flags.election_ms,
                 "Election timeout in ms (randomized between it and twice it)")->capture_default_str()->check(CLI::Range(2, 600000));
  app.add_option("--tick", flags.tick_ms, "Consensus clock tick in ms")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--snapshot-threshold", flags.snapshot_threshold,
                 "Take a snapshot every this many applied entries (0: never)")->capture_default_str();
  app.add_option("--snapshot-trailing", flags.snapshot_trailing,
                 "Log entries kept behind a snapshot for slow followers")->capture_default_str();
  app.add_option("--snapshot-log-ratio", flags.snapshot_log_ratio,
                 "Also wait until the commands applied since the last snapshot add up to this many "
                 "times its size (0: count entries only)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--request-timeout", flags.request_timeout_ms, "Client request timeout in ms")->capture_default_str()->check(CLI::Range(10, 600000));
  app.add_option("--max-value-bytes", flags.max_value_bytes, "Largest value accepted")->capture_default_str();
  app.add_option("--max-inflight-appends", flags.max_inflight_appends,
                 "Appends the leader sends a follower ahead of its acknowledgements (the pipelining window)")
      ->capture_default_str()->check(CLI::Range(1, 1 << 16));
  app.add_option("--max-append-bytes", flags.max_append_bytes,
                 "Largest batch of entries in one append message (a larger single entry still goes alone)")
      ->capture_default_str()->check(CLI::Range(std::uint64_t{1} << 10, std::uint64_t{16} << 20));
  app.add_option("--coalesce-appends", flags.coalesce_appends,
                 "While an append to a follower is unanswered, hold back a partial one (off for WAN links)")
      ->capture_default_str();
  app.add_option("--narrow-read-rounds", flags.narrow_read_rounds,
                 "A linearizable read's round asks only the quickest quorum of voters first (off: every voter)")
      ->capture_default_str();
  app.add_option("--apply-on-loop", flags.apply_on_loop,
                 "Apply committed writes on the consensus loop while the apply thread is idle (a key-value "
                 "write takes microseconds; off: always on the apply thread)")
      ->capture_default_str();
  app.add_option("--lease-drift-margin", flags.lease_drift_margin_ms,
                 "Lease reads trust the leader for the election timeout minus this many ms (clock drift)")
      ->capture_default_str()->check(CLI::Range(0, 600000));
  app.add_option("--client-io", flags.client_io,
                 "How the client API's threads do socket I/O: io_uring (epoll where the kernel refuses it) or epoll")
      ->capture_default_str()->check(CLI::IsMember({"io_uring", "epoll"}));
  app.add_option("--client-threads", flags.client_threads,
                 "Threads serving the client API's connections (each connection stays on one)")
      ->capture_default_str()->check(CLI::Range(1, 64));
  app.add_flag("--quiet", flags.quiet, "Log errors only");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (flags.heartbeat_ms >= flags.election_ms) die("--heartbeat-interval must be shorter than --election-timeout");
  if (flags.tick_ms > flags.heartbeat_ms) die("--tick must not exceed --heartbeat-interval");
  if (flags.lease_drift_margin_ms >= flags.election_ms) die("--lease-drift-margin must be shorter than --election-timeout");
  if (!flags.join.empty() && !flags.initial_cluster.empty()) die("--join and --initial-cluster are exclusive");
  if (flags.force_new_cluster && !flags.join.empty())
    die("--force-new-cluster and --join are exclusive");
  if (flags.id.empty()) die("--id must not be empty");
  const auto [client_host, client_port] = split_address(flags.listen_client, "--listen-client");
  split_address(flags.listen_peer, "--listen-peer");
  if (!flags.join.empty()) split_address(flags.join, "--join");

  const raft::NodeId id = raftd::node_id_from_name(flags.id);
  std::vector<raft::Peer> initial;
  if (!flags.initial_cluster.empty()) {
    initial = parse_initial_cluster(flags.initial_cluster);
    bool found = false;
    for (const raft::Peer& p : initial) {
      if (p.id != id) continue;
      found = true;
      if (p.peer_address != flags.listen_peer) {
        die("--initial-cluster gives " + flags.id + " the peer address " + p.peer_address + " but --listen-peer is " +
            flags.listen_peer);
      }
    }
    if (!found) die("--initial-cluster does not name this node (" + flags.id + ")");
  } else if (flags.join.empty()) {
    initial.push_back(raft::Peer{id, flags.id, flags.listen_peer, ""});  // single-node cluster
  }

  std::error_code ec;
  std::filesystem::create_directories(flags.data_dir, ec);
  if (ec) die("cannot create data directory " + flags.data_dir + ": " + ec.message());
  const bool fresh = std::filesystem::is_empty(flags.data_dir, ec);
  if (flags.force_new_cluster && fresh) {
    die("--force-new-cluster needs a former member's data, and " + flags.data_dir + " is empty");
  }

  raftd::EventLog events;
  auto log_line = [&](const std::string& kind, const std::string& text) {
    events.add(kind, text);
    if (!flags.quiet || kind == "error") {
      std::fprintf(stderr, "%s raftd %s %s: %s\n", timestamp().c_str(), flags.id.c_str(), kind.c_str(), text.c_str());
    }
  };

  raft::NodeOptions options;
  options.id = id;
  // A new node asks to be added before it starts: the leader then retries reaching it
  // until it is up, and this node knows the members' addresses from the answer.
  if (!flags.join.empty() && fresh) options.join_peers = request_join(flags);
  options.cluster_id = flags.cluster_id;
  options.data_dir = flags.data_dir;
  options.initial_cluster = initial;
  options.join = !flags.join.empty();
  options.force_new_cluster = flags.force_new_cluster;
  options.listen_address = flags.listen_peer;
  options.tick_interval = std::chrono::milliseconds(flags.tick_ms);
  options.heartbeat_interval = std::chrono::milliseconds(flags.heartbeat_ms);
  options.election_timeout = std::chrono::milliseconds(flags.election_ms);
  options.request_timeout = std::chrono::milliseconds(flags.request_timeout_ms);
  options.snapshot_threshold_entries = flags.snapshot_threshold;
  options.snapshot_trailing_entries = flags.snapshot_trailing;
  options.snapshot_log_ratio = flags.snapshot_log_ratio;
  options.max_command_bytes = flags.max_value_bytes + 4096;
  options.max_inflight_appends = flags.max_inflight_appends;
  options.max_append_bytes = flags.max_append_bytes;
  options.coalesce_appends = flags.coalesce_appends;
  options.narrow_read_rounds = flags.narrow_read_rounds;
  options.apply_on_loop = flags.apply_on_loop;
  // Each lane woken once per batch of answers, not once per answer.
  options.answer_batch = [](const std::function<void()>& answer_all) {
    raft::http::AnswerBatch batch;
    answer_all();
  };
  options.lease_drift_margin = std::chrono::milliseconds(flags.lease_drift_margin_ms);

  auto kv = std::make_shared<raftd::KvStore>();
  raft::NodeEvents node_events;
  // Names for log lines: the nodes known at start (initial cluster or join answer),
  // then every member a configuration names, so nodes that join later read as names too.
  raftd::NameBook names;
  names.learn(id, flags.id);
  for (const raft::Peer& p : initial) names.learn(p.id, p.name);
  for (const raft::Peer& p : options.join_peers) names.learn(p.id, p.name);
  node_events.on_membership_change = [&names](const std::vector<raft::Member>& members) {
    for (const raft::Member& m : members) names.learn(m.peer.id, m.peer.name);
  };
  node_events.on_log = [&](const std::string& raw) {
    const std::string line = names.rewrite(raw);
    const bool membership = line.rfind("configuration", 0) == 0 || line.rfind("membership", 0) == 0;
    const bool leader = line.rfind("leader is", 0) == 0 || line.rfind("now ", 0) == 0;
    const bool snapshot = line.find("snapshot") != std::string::npos;
    const bool error = line.rfind("FATAL", 0) == 0;
    log_line(error ? "error" : membership ? "membership" : leader ? "leader" : snapshot ? "snapshot" : "info", line);
  };

  auto opened = raft::Node::open(options, kv, node_events);
  if (!opened.ok()) die(opened.error().message + " (data dir " + flags.data_dir + ")");
  std::unique_ptr<raft::Node> node = std::move(opened.value());

  boost::asio::io_context io;
  raft::http::Client client(io);
  raftd::ApiOptions api_options;
  api_options.name = flags.id;
  api_options.peer_address = flags.listen_peer;
  api_options.client_address = flags.listen_client;
  api_options.max_value_bytes = flags.max_value_bytes;
  api_options.request_timeout = std::chrono::milliseconds(flags.request_timeout_ms);
  raftd::Metrics metrics;
  raftd::Api api(io, *node, *kv, client, metrics, events, api_options, [&node] { return node->transport_stats(); });

  raft::http::ServerOptions server_options;
  server_options.host = client_host;
  server_options.port = client_port;
  server_options.body_limit_bytes = flags.max_value_bytes + 64 * 1024;
  server_options.threads = flags.client_threads;
  server_options.io = flags.client_io == "epoll" ? raft::http::IoBackend::kEpoll : raft::http::IoBackend::kIoUring;
  raft::http::Server server(io, server_options, [&api](raft::http::Request&& request, raft::http::Responder respond) {
    api.handle(std::move(request), std::move(respond));
  });
  metrics.http_wakeups = [&server] { return server.wakeups(); };
  if (raft::Status s = server.start(); !s.ok()) {
    node->stop();
    die(s.error().message);
  }
  log_line("info", "serving clients on " + flags.listen_client + " (" + raft::http::to_string(server.backend()) +
                       "), peers on " + flags.listen_peer + ", data in " + flags.data_dir);

  // Housekeeping every 200 ms; clean stop on SIGTERM / SIGINT.
  boost::asio::steady_timer maintenance(io);
  std::function<void()> schedule = [&] {
    maintenance.expires_after(200ms);
    maintenance.async_wait([&](const boost::system::error_code& e) {
      if (e) return;
      api.maintain();
      schedule();
    });
  };
  schedule();
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    log_line("info", std::string("received ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping");
    maintenance.cancel();
    server.stop();
    client.close();
    io.stop();
  });

  // The main thread runs the listener, the timers and the forwarding client; the
  // server's lanes serve the connections.
  io.run();
  node->stop();  // logs "stopped" once its files are closed
  return 0;
}
