// raftd as a black box: real processes on loopback, driven exactly as RAFTD-API.md
// says, through crashes (SIGKILL), pauses (SIGSTOP), restarts and membership
// changes. The last test runs concurrent clients through faults and checks the whole
// history for linearizability with the simulator's checker.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "src/raftd/names.h"
#include "tests/sim/linearizability.h"
#include "tests/system/raftd_cluster.h"

namespace raft::system_test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Fast timings so the suite stays short; the defaults are exercised by the demo.
const std::vector<std::string> kFastFlags = {"--heartbeat-interval", "20", "--election-timeout", "150", "--tick", "5",
                                             "--snapshot-threshold", "200", "--snapshot-trailing", "20",
                                             "--request-timeout", "3000"};

std::string any_running_client(RaftdCluster& cluster) { return cluster.client(cluster.running_names().front()); }

// Writes until acknowledged (retrying 503 "not performed"); returns the log index.
std::uint64_t put(RaftdCluster& cluster, const std::string& key, const std::string& value) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    for (const std::string& name : cluster.running_names()) {
      const HttpReply reply = http_call(cluster.client(name), "PUT", "/v1/kv/" + key, value);
      if (reply.status == 200) return json::parse(reply.body).at("index").get<std::uint64_t>();
    }
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "could not write " << key;
  return 0;
}

std::optional<std::string> get(const std::string& client, const std::string& key) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const HttpReply reply = http_call(client, "GET", "/v1/kv/" + key);
    if (reply.status == 200) return reply.body;
    if (reply.status == 404) return std::nullopt;
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "could not read " << key << " from " << client;
  return std::nullopt;
}

TEST(Raftd, KilledLeaderIsReplacedWithin2sAndNoAcknowledgedWriteIsLost) {
  RaftdCluster cluster(3, kFastFlags);
  const std::string leader = cluster.wait_for_leader();
  ASSERT_FALSE(leader.empty());
  for (int i = 0; i < 50; ++i) put(cluster, "k" + std::to_string(i), "v" + std::to_string(i));
  cluster.kill(leader);
  const auto killed_at = Clock::now();
  const std::string next = cluster.wait_for_leader(5s, leader);
  const auto elapsed = Clock::now() - killed_at;
  ASSERT_FALSE(next.empty());
  EXPECT_LT(elapsed, 2s) << "new leader after " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
                         << " ms";
  for (const std::string& name : cluster.running_names()) {
    for (int i = 0; i < 50; ++i) EXPECT_EQ(get(cluster.client(name), "k" + std::to_string(i)), "v" + std::to_string(i));
  }
}

TEST(Raftd, PausedNodesCatchUpAndAPausedLeaderStepsDown) {
  RaftdCluster cluster(3, kFastFlags);
  const std::string leader = cluster.wait_for_leader();
  ASSERT_FALSE(leader.empty());
  // A paused follower misses writes, then catches up.
  std::string follower;
  for (const std::string& name : cluster.names()) {
    if (name != leader) follower = name;
  }
  cluster.pause(follower);
  for (int i = 0; i < 30; ++i) put(cluster, "p" + std::to_string(i), "x");
  cluster.resume(follower);
  EXPECT_EQ(get(cluster.client(follower), "p29"), "x");
  // A paused leader is replaced; once resumed it follows the new one.
  cluster.pause(leader);
  const std::string next = cluster.wait_for_leader(5s, leader);
  ASSERT_FALSE(next.empty());
  put(cluster, "after", "pause");
  cluster.resume(leader);
  EXPECT_EQ(get(cluster.client(leader), "after"), "pause");
  const auto status = json::parse(http_call(cluster.client(leader), "GET", "/v1/status").body);
  EXPECT_NE(status.value("state", ""), "leader");
}

TEST(Raftd, RestartingEveryNodeKeepsAllData) {
  RaftdCluster cluster(3, kFastFlags);
  ASSERT_FALSE(cluster.wait_for_leader().empty());
  for (int i = 0; i < 300; ++i) put(cluster, "r" + std::to_string(i), std::to_string(i));  // crosses snapshots
  for (const std::string& name : cluster.names()) cluster.stop(name);
  for (const std::string& name : cluster.names()) cluster.restart(name);
  ASSERT_FALSE(cluster.wait_for_leader().empty());
  for (const std::string& name : cluster.names()) {
    for (int i = 0; i < 300; i += 37) EXPECT_EQ(get(cluster.client(name), "r" + std::to_string(i)), std::to_string(i));
  }
}

// Polls a node's /v1/status until it says "removed": true (up to 10 s).
bool becomes_removed(const std::string& client) {
  for (int i = 0; i < 400; ++i) {
    const HttpReply reply = http_call(client, "GET", "/v1/status");
    if (reply.status == 200 && json::parse(reply.body).value("removed", false)) return true;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}

// A removed node's client requests fail at once with why, not after a wait.
void expect_refused_as_removed(const std::string& client) {
  const HttpReply put = http_call(client, "PUT", "/v1/kv/on-removed", "x");
  EXPECT_EQ(put.status, 503) << put.body;
  EXPECT_NE(put.body.find("removed from the cluster"), std::string::npos) << put.body;
  for (const char* consistency : {"", "?consistency=stale", "?consistency=lease"}) {
    const HttpReply get = http_call(client, "GET", std::string("/v1/kv/on-removed") + consistency);
    EXPECT_EQ(get.status, 503) << consistency << ": " << get.body;
    EXPECT_NE(get.body.find("removed from the cluster"), std::string::npos)
        << consistency << ": " << get.body;
  }
}

TEST(Raftd, AFourthNodeJoinsAndIsPromotedThenAnotherIsRemovedAndLearnsIt) {
  RaftdCluster cluster(3, kFastFlags);
  ASSERT_FALSE(cluster.wait_for_leader().empty());
  for (int i = 0; i < 20; ++i) put(cluster, "j" + std::to_string(i), "y");
  cluster.join("n4", "n1");
  bool voter = false;
  for (int i = 0; i < 200 && !voter; ++i) {
    const auto members = json::parse(http_call(cluster.client("n1"), "GET", "/v1/members").body)["members"];
    for (const auto& m : members) voter = voter || (m.value("id", "") == "n4" && m.value("voter", false));
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_TRUE(voter) << "n4 was not promoted";
  EXPECT_EQ(get(cluster.client("n4"), "j19"), "y");
  // n1 knew only n1..n3 at start; its event log names the newcomer too.
  const auto events = json::parse(http_call(cluster.client("n1"), "GET", "/v1/events").body)["events"];
  const std::string n4_id = std::to_string(raftd::node_id_from_name("n4"));
  bool named = false;
  for (const auto& e : events) {
    const std::string text = e.value("text", "");
    EXPECT_EQ(text.find(n4_id), std::string::npos) << text;
    named = named || (e.value("kind", "") == "membership" && text.find("n4") != std::string::npos);
  }
  EXPECT_TRUE(named) << events.dump();
  // A follower other than n4 is paused while it is removed, so it never receives the
  // entry that removes it (the leader stops replicating to it once the entry is
  // appended): back, it reads the notice the leader sent when the removal committed
  // (had that been lost, the members would tell it when it asks them for votes).
  const std::string leader = cluster.wait_for_leader();
  const std::string victim = leader == "n2" ? "n3" : "n2";
  cluster.pause(victim);
  const HttpReply removed = http_call(cluster.client("n4"), "DELETE", "/v1/members/" + victim);
  ASSERT_EQ(removed.status, 200) << removed.body;
  // The change committed on two of the three remaining voters; n1 may be the third,
  // which holds it a heartbeat later.
  std::size_t listed = 0;
  for (int i = 0; i < 200 && listed != 3; ++i) {
    if (i > 0) std::this_thread::sleep_for(25ms);
    listed =
        json::parse(http_call(cluster.client("n1"), "GET", "/v1/members").body)["members"].size();
  }
  EXPECT_EQ(listed, 3u);
  cluster.resume(victim);
  ASSERT_TRUE(becomes_removed(cluster.client(victim)));
  const json status = json::parse(http_call(cluster.client(victim), "GET", "/v1/status").body);
  EXPECT_EQ(status.value("state", ""), "follower") << status.dump();
  expect_refused_as_removed(cluster.client(victim));
  const std::string metrics = http_call(cluster.client(victim), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("\nraft_removed 1\n"), std::string::npos);
  bool logged = false;
  const json events_of_victim =
      json::parse(http_call(cluster.client(victim), "GET", "/v1/events").body)["events"];
  for (const auto& e : events_of_victim) {
    logged = logged || (e.value("kind", "") == "membership" &&
                        e.value("text", "").find("removed from the cluster") != std::string::npos);
  }
  EXPECT_TRUE(logged) << events_of_victim.dump();
  EXPECT_FALSE(json::parse(http_call(cluster.client(leader), "GET", "/v1/status").body)
                   .value("removed", false));
  cluster.kill(victim);
  put(cluster, "after-remove", "z");
  EXPECT_EQ(get(cluster.client("n4"), "after-remove"), "z");
}

TEST(Raftd, AVoterThatLostItsDataCannotJoinAgainUntilRemoved) {
  RaftdCluster cluster(3, kFastFlags);
  const std::string leader = cluster.wait_for_leader();
  ASSERT_FALSE(leader.empty());
  const std::string victim = leader == "n3" ? "n2" : "n3";
  cluster.kill(victim);
  const RaftdCluster::Member& m = cluster.member(victim);
  const std::string join = json{{"id", victim}, {"peer", m.peer}, {"client", m.client}}.dump();
  // Its blank replacement would vote again in terms the old one voted in.
  const HttpReply refused = http_call(cluster.client(leader), "POST", "/v1/members", join);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("remove it"), std::string::npos) << refused.body;
  const HttpReply removed = http_call(cluster.client(leader), "DELETE", "/v1/members/" + victim);
  ASSERT_EQ(removed.status, 200) << removed.body;
  const HttpReply joined = http_call(cluster.client(leader), "POST", "/v1/members", join);
  EXPECT_EQ(joined.status, 200) << joined.body;
  // A retried join of a learner is answered as the first one was.
  EXPECT_EQ(http_call(cluster.client(leader), "POST", "/v1/members", join).status, 200);
}

TEST(Raftd, ValueAtTheLimitIsStoredAndOneByteMoreIs413) {
  RaftdCluster cluster(3, kFastFlags);
  ASSERT_FALSE(cluster.wait_for_leader().empty());
  const std::string at_limit(1 << 20, 'a');
  const std::string client = any_running_client(cluster);
  HttpReply reply;
  for (int i = 0; i < 20; ++i) {
    reply = http_call(client, "PUT", "/v1/kv/big", at_limit);
    if (reply.status == 200) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(get(client, "big")->size(), at_limit.size());
  EXPECT_EQ(http_call(client, "PUT", "/v1/kv/big", at_limit + "b").status, 413);
  EXPECT_EQ(http_call(client, "PUT", "/v1/kv/" + std::string(1025, 'k'), "v").status, 413);
}

// The value of the first sample line of `metric` (exact name and labels), or -1.
double metric_value(const std::string& text, const std::string& metric) {
  const std::string prefix = "\n" + metric + " ";
  const std::size_t at = text.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + prefix.size()));
}

TEST(Raftd, MetricsGiveTheOperatorsFigures) {
  RaftdCluster cluster(3, kFastFlags);
  const std::string leader = cluster.wait_for_leader();
  ASSERT_FALSE(leader.empty());
  for (int i = 0; i < 20; ++i) put(cluster, "m" + std::to_string(i), "v");
  const HttpReply reply = http_call(cluster.client(leader), "GET", "/metrics");
  ASSERT_EQ(reply.status, 200);
  const std::string& text = reply.body;
  EXPECT_GE(metric_value(text, "raft_term"), 1);
  EXPECT_EQ(metric_value(text, "raft_storage_failed"), 0);
  EXPECT_EQ(metric_value(text, "raft_role{role=\"leader\"}"), 1);
  EXPECT_GE(metric_value(text, "raft_commit_index"), 20);
  EXPECT_GE(metric_value(text, "raft_applied_index"), 20);
  EXPECT_GE(metric_value(text, "raft_proposals_committed_total"), 20);
  EXPECT_GE(metric_value(text, "raftd_write_latency_seconds_count"), 20);
  // Every write was fsynced on the leader: at least one sync, each timed.
  EXPECT_GE(metric_value(text, "raft_disk_sync_latency_seconds_count"), 1);
  EXPECT_GT(metric_value(text, "raft_disk_sync_latency_seconds_sum"), 0);
  EXPECT_GE(metric_value(text, "raft_disk_sync_latency_seconds_bucket{le=\"+Inf\"}"),
            metric_value(text, "raft_disk_sync_latency_seconds_count"));
  EXPECT_GT(metric_value(text, "raft_transport_bytes_sent_total"), 0);
  // Each answer found its client thread asleep (one client, one write at a time).
  EXPECT_GE(metric_value(text, "raftd_http_wakeups_total"), 1);
  for (const std::string& name : cluster.names()) {
    if (name == leader) continue;
    EXPECT_GE(metric_value(text, "raft_peer_lag_entries{peer=\"" + name + "\"}"), 0) << name << "\n" << text;
  }
}

// Runs raftd with `flags` and returns its exit status and what it printed.
std::pair<int, std::string> run_raftd(const std::string& flags) {
  const char* binary = std::getenv("RAFTD_BIN");
  if (binary == nullptr) throw std::runtime_error("RAFTD_BIN must name the raftd binary");
  FILE* pipe = ::popen((std::string(binary) + " " + flags + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  std::string output;
  char chunk[512];
  while (std::fgets(chunk, sizeof chunk, pipe) != nullptr) output += chunk;
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(Raftd, TuningFlagsOutOfRangeAreRefusedByName) {
  for (const std::string flag : {"--max-inflight-appends 0", "--max-append-bytes 100", "--max-append-bytes lots",
                                 "--coalesce-appends maybe", "--narrow-read-rounds maybe", "--apply-on-loop maybe",
                                 "--lease-drift-margin -1", "--lease-drift-margin 250", "--client-threads 0"}) {
    const auto [status, output] = run_raftd(flag);
    EXPECT_NE(status, 0) << flag;
    EXPECT_NE(output.find(flag.substr(0, flag.find(' '))), std::string::npos) << flag << ": " << output;
  }
}

// A window of one append and appends of at most 1 KiB: every concurrent write still
// reaches every node.
TEST(Raftd, TightPipelineLimitsStillReplicateEveryWrite) {
  std::vector<std::string> flags = kFastFlags;
  for (const char* extra : {"--max-inflight-appends", "1", "--max-append-bytes", "1024"}) flags.emplace_back(extra);
  RaftdCluster cluster(3, flags);
  ASSERT_FALSE(cluster.wait_for_leader().empty());
  const std::string value(300, 'v');  // a few entries fill an append
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&cluster, &value, w] {
      for (int i = 0; i < 25; ++i) put(cluster, "w" + std::to_string(w) + "-" + std::to_string(i), value);
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (const std::string& name : cluster.names()) {
    for (int w = 0; w < 4; ++w) {
      for (int i = 0; i < 25; ++i) {
        const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
        // The node's own copy, which may trail the leader's for a moment.
        HttpReply reply;
        for (int attempt = 0; attempt < 100; ++attempt) {
          reply = http_call(cluster.client(name), "GET", "/v1/kv/" + key + "?consistency=stale");
          if (reply.status == 200) break;
          std::this_thread::sleep_for(20ms);
        }
        ASSERT_EQ(reply.status, 200) << name << " lacks " << key;
        EXPECT_EQ(reply.body, value) << name << " " << key;
      }
    }
  }
}

// The voters listed by a member's /v1/members (or, for a failure message, its failed
// answer).
std::vector<std::string> voters_seen_by(const std::string& client) {
  std::vector<std::string> voters;
  const HttpReply reply = http_call(client, "GET", "/v1/members");
  if (reply.status != 200) return {"status " + std::to_string(reply.status) + ": " + reply.body};
  const json answer = json::parse(reply.body);
  for (const auto& m : answer.at("members")) {
    if (m.value("voter", false)) voters.push_back(m.value("id", ""));
  }
  std::sort(voters.begin(), voters.end());
  return voters;
}

// Disaster recovery: two of three members are lost for good; the survivor restarts
// with --force-new-cluster and serves every acknowledged write alone, and the lost
// members come back as new ones from empty data directories.
TEST(Raftd, ASurvivorOfALostMajorityRecoversWithForceNewClusterAndTheOthersRejoinEmpty) {
  RaftdCluster cluster(3, kFastFlags);
  const std::string survivor = cluster.wait_for_leader();
  ASSERT_FALSE(survivor.empty());
  for (int i = 0; i < 250; ++i)
    put(cluster, "d" + std::to_string(i), std::to_string(i));  // crosses a snapshot
  std::vector<std::string> lost;
  for (const std::string& name : cluster.names()) {
    if (name != survivor) lost.push_back(name);
  }
  for (const std::string& name : lost) cluster.kill(name);
  EXPECT_NE(http_call(cluster.client(survivor), "PUT", "/v1/kv/stuck", "x").status, 200)
      << "no majority";

  cluster.restart(survivor, {"--force-new-cluster"});
  ASSERT_EQ(cluster.wait_for_leader(), survivor);
  EXPECT_EQ(voters_seen_by(cluster.client(survivor)), std::vector<std::string>{survivor});
  for (int i = 0; i < 250; i += 7)
    EXPECT_EQ(get(cluster.client(survivor), "d" + std::to_string(i)), std::to_string(i));
  put(cluster, "after", "recovery");

  // A lost member started again with its old data hears from the survivor (which no
  // longer knows its address but answers at the one its stream gives) that it is not
  // a member, and serves nothing.
  cluster.restart(lost[0]);
  ASSERT_TRUE(becomes_removed(cluster.client(lost[0])));
  expect_refused_as_removed(cluster.client(lost[0]));
  cluster.kill(lost[0]);

  for (const std::string& name : lost) cluster.rejoin_empty(name, survivor);
  std::vector<std::string> all = cluster.names();
  std::sort(all.begin(), all.end());
  for (int i = 0; i < 400 && voters_seen_by(cluster.client(survivor)) != all; ++i)
    std::this_thread::sleep_for(25ms);
  ASSERT_EQ(voters_seen_by(cluster.client(survivor)), all)
      << "the rejoined members were not promoted";

  // The new cluster stands without the survivor: its two new members elect a leader
  // and serve everything.
  cluster.kill(survivor);
  const std::string leader = cluster.wait_for_leader();
  ASSERT_FALSE(leader.empty());
  EXPECT_NE(leader, survivor);
  EXPECT_EQ(get(cluster.client(leader), "after"), "recovery");
  for (int i = 0; i < 250; i += 7)
    EXPECT_EQ(get(cluster.client(leader), "d" + std::to_string(i)), std::to_string(i));
}

TEST(Raftd, ForceNewClusterNeedsAFormerMembersData) {
  const std::filesystem::path empty =
      std::filesystem::temp_directory_path() / ("raftd-force-" + std::to_string(::getpid()));
  std::filesystem::remove_all(empty);
  const auto [status, output] = run_raftd("--force-new-cluster --data-dir " + empty.string() +
                                          " --listen-peer 127.0.0.1:1 --listen-client 127.0.0.1:1");
  EXPECT_NE(status, 0);
  EXPECT_NE(output.find("former member's data"), std::string::npos) << output;
  EXPECT_TRUE(std::filesystem::is_empty(empty)) << "nothing written";
  const auto [join_status, join_output] = run_raftd("--force-new-cluster --join 127.0.0.1:1");
  EXPECT_NE(join_status, 0);
  EXPECT_NE(join_output.find("--force-new-cluster and --join"), std::string::npos) << join_output;
  std::filesystem::remove_all(empty);
}

TEST(Raftd, GarbageOnBothPortsDoesNotHurtTheNode) {
  RaftdCluster cluster(3, kFastFlags);
  ASSERT_FALSE(cluster.wait_for_leader().empty());
  const auto& n1 = cluster.member("n1");
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::string junk(1 + rng() % 4000, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    raw_exchange(n1.client, junk, 200ms);
    raw_exchange(n1.peer, junk, 200ms);
  }
  raw_exchange(n1.peer, "POST /raft/messages HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 500ms);
  raw_exchange(n1.client, "GET /v1/kv/%zz HTTP/1.1\r\n\r\n", 500ms);
  EXPECT_EQ(http_call(n1.client, "GET", "/v1/status").status, 200);
  put(cluster, "still", "alive");
  EXPECT_EQ(get(n1.client, "still"), "alive");
}

// Concurrent clients through kills, restarts and pauses; the recorded history must be
// linearizable and every acknowledged write must survive.
TEST(Raftd, HistoryUnderFaultsIsLinearizable) {
  const std::uint64_t seed = 20261122;
  RecordProperty("seed", std::to_string(seed));
  RaftdCluster cluster(3, kFastFlags);
  ASSERT_FALSE(cluster.wait_for_leader().empty());
  std::mutex mutex;
  std::vector<sim::Operation> history;
  const auto t0 = Clock::now();
  auto now_us = [&] { return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()); };
  std::atomic<bool> stop{false};
  std::mutex cluster_mutex;  // the fault thread changes processes while clients pick nodes

  auto client_loop = [&](int id) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(id));
    int counter = 0;
    while (!stop) {
      std::string address;
      {
        std::lock_guard lock(cluster_mutex);
        const auto names = cluster.running_names();
        if (names.empty()) continue;
        address = cluster.client(names[rng() % names.size()]);
      }
      const std::string key = "x" + std::to_string(rng() % 3);
      const int kind = static_cast<int>(rng() % 3);
      sim::Operation op;
      op.client = id;
      op.key = key;
      op.call_time = now_us();
      if (kind == 0) {
        op.kind = sim::OpKind::kPut;
        op.value = std::to_string(id) + "-" + std::to_string(counter++);
        const HttpReply r = http_call(address, "PUT", "/v1/kv/" + key, op.value, 2s);
        if (r.status == 200) op.return_time = now_us();
        else if (r.status == 0 || r.status == 504) op.return_time = sim::kNeverReturned;
        else continue;  // certainly not performed
      } else if (kind == 1) {
        op.kind = sim::OpKind::kGet;
        const HttpReply r = http_call(address, "GET", "/v1/kv/" + key, "", 2s);
        if (r.status == 200) op.read_value = r.body;
        else if (r.status != 404) continue;  // a failed read constrains nothing
        op.return_time = now_us();
      } else {
        op.kind = sim::OpKind::kCas;
        op.expected = std::to_string(rng() % 4) + "-" + std::to_string(rng() % 3);
        std::optional<std::string> seen;
        op.value = std::to_string(id) + "-" + std::to_string(counter++);
        const HttpReply r = http_call(address, "PUT", "/v1/kv/" + key + "?prev_value=" + op.expected, op.value, 2s);
        if (r.status == 200 || r.status == 412) {
          op.applied = r.status == 200;
          op.return_time = now_us();
        } else if (r.status == 0 || r.status == 504) {
          op.return_time = sim::kNeverReturned;
        } else {
          continue;
        }
      }
      std::lock_guard lock(mutex);
      history.push_back(std::move(op));
    }
  };

  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(client_loop, i);
  std::mt19937_64 rng(seed);
  const auto names = cluster.names();
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(700ms);
    const std::string victim = names[rng() % names.size()];
    std::lock_guard lock(cluster_mutex);
    switch (rng() % 3) {
      case 0: cluster.kill(victim); break;
      case 1: cluster.pause(victim); break;
      default: cluster.stop(victim); break;
    }
    std::this_thread::sleep_for(500ms);
    if (cluster.member(victim).paused) {
      cluster.resume(victim);
    } else {
      cluster.restart(victim);
    }
  }
  std::this_thread::sleep_for(500ms);
  stop = true;
  for (std::thread& t : clients) t.join();

  ASSERT_GT(history.size(), 50u) << "too few operations completed";
  const sim::CheckResult result = sim::check_history(history);
  EXPECT_TRUE(result.linearizable) << "seed " << seed << ": " << (result.gave_up ? "gave up: " : "") << result.explanation;
  std::size_t acknowledged = 0;
  for (const sim::Operation& op : history) acknowledged += op.has_returned() && op.kind != sim::OpKind::kGet;
  std::printf("history: %zu operations, %zu acknowledged writes, seed %llu\n", history.size(), acknowledged,
              static_cast<unsigned long long>(seed));
}

}  // namespace
}  // namespace raft::system_test
