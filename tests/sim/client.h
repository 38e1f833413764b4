// A simulated client: issues one operation at a time (get, put, compare-and-set,
// delete) on a small key set, to a random node or the leader it last heard of, and
// records what it observed in the shared history for the linearizability checker.
//
// One operation may take several attempts. An attempt answered "not leader", "busy"
// or "lost" certainly had no effect: the client retries (after a short backoff) and
// leaves the attempt out of the history. An answered attempt is recorded with its
// call and return times. An attempt with no answer by attempt_timeout_ms has an
// unknown outcome: it is recorded as never returned (it may take effect at any later
// time, or never) and the client moves on to a fresh operation, because retrying a
// write that may have happened would write its value twice.
//
// A get is served through the log, by ReadIndex or by the leader's lease (drawn per
// operation from the seed's weights); ReadIndex and lease reads go, with the seed's
// probability, to a random node (a follower forwards them to the leader) instead of
// the leader last heard of.
//
// Written values are unique ("c<client>.<n>"), so a read names the write it saw. A
// compare-and-set expects the value the client last saw for the key.
//
// Phases: running (the safety phase), then drain(): finish the current operation and
// complete drain_ops more, then done. The liveness checker waits for every client to
// be done.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/core/rng.h"
#include "tests/sim/config.h"
#include "tests/sim/linearizability.h"
#include "tests/sim/requests.h"

namespace raft::sim {

class ClientEnv {
 public:
  virtual ~ClientEnv() = default;
  virtual Time now() const = 0;
  virtual void send_request(core::NodeId to, ClientRequest&& request) = 0;
  // Calls client.on_timer(timer) after `delay_ms`.
  virtual void set_timer(int client, Time delay_ms, std::uint64_t timer) = 0;
  // An operation was acknowledged (for the "acknowledged writes are never lost" check).
  virtual void on_acknowledged(int client, const ClientReply& reply, const Operation& op) = 0;
};

class SimClient {
 public:
  SimClient(int id, int node_count, const ClientConfig& config, std::uint64_t seed, ClientEnv& env,
            std::vector<Operation>& history);

  void start();
  void on_timer(std::uint64_t timer);
  void on_reply(const ClientReply& reply);
  void drain();

  int id() const { return id_; }
  bool done() const { return state_ == State::kDone; }
  // "client 2: waiting 1.2s for cas(k1, c1.4 -> c2.7) at node 3, attempt 3".
  std::string describe() const;

  std::uint64_t completed() const { return completed_; }
  std::uint64_t unknown() const { return unknown_; }

 private:
  enum class State { kThinking, kWaiting, kBackingOff, kDone };

  void think();
  void begin_operation();
  void send_attempt();
  void after_operation();
  core::NodeId pick_node();
  void arm(Time delay_ms);

  int id_;
  int node_count_;
  ClientConfig config_;
  core::Rng rng_;
  ClientEnv& env_;
  std::vector<Operation>& history_;

  State state_ = State::kThinking;
  bool draining_ = false;
  bool pending_at_drain_ = false;  // the operation in progress when drain() was called
  int drained_ = 0;                // operations completed since (not counting that one)
  std::uint64_t timer_ = 0;        // the armed timer; older ones are void

  Command command_;  // the current operation
  ReadPath read_path_ = ReadPath::kLog;
  std::uint64_t attempt_ = 0;  // the current attempt's id
  std::uint64_t attempt_counter_ = 0;
  core::NodeId target_ = core::kNoNode;
  Time call_time_ = 0;
  Time operation_start_ = 0;
  int attempts_ = 0;

  core::NodeId leader_hint_ = core::kNoNode;
  std::uint64_t next_value_ = 1;
  std::map<std::string, std::string> last_seen_;  // key -> value last observed
  std::uint64_t completed_ = 0;
  std::uint64_t unknown_ = 0;
};

}  // namespace raft::sim
