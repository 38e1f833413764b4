// raftd's client API (../shared/RAFTD-API.md): the HTTP routes, mapped onto the
// library. Writes go through the leader (a follower forwards them, a node that is
// not the leader and knows none retries until the request deadline), linearizable
// reads use the node's read barrier (ReadIndex, served by followers too), and every
// failure is a JSON error whose status says whether the operation may have happened
// (504) or certainly did not (everything else).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "raft/node.h"
#include "src/http/client.h"
#include "src/http/server.h"
#include "src/raftd/events.h"
#include "src/raftd/kv_store.h"
#include "src/raftd/metrics.h"

namespace raftd {

struct ApiOptions {
  std::string name;            // this node's name, e.g. "n1"
  std::string peer_address;    // host:port
  std::string client_address;  // host:port
  std::size_t max_key_bytes = 1024;
  std::size_t max_value_bytes = 1 << 20;
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds retry_interval{20};
};

class Api {
 public:
  using Clock = std::chrono::steady_clock;

  Api(boost::asio::io_context& io, raft::Node& node, KvStore& kv, raft::http::Client& client, Metrics& metrics,
      EventLog& events, ApiOptions options, std::function<raft::TransportStats()> transport_stats);

  // The http::Server handler.
  void handle(raft::http::Request&& request, raft::http::Responder respond);

  // Housekeeping run periodically by raftd: record this node's client address in
  // the membership, and (on the leader) promote learners that caught up.
  void maintain();

 private:
  struct WriteContext;
  struct ReadContext;

  void handle_kv_put(raft::http::Request&& request, const std::string& key, raft::http::Responder respond);
  void handle_kv_delete(raft::http::Request&& request, const std::string& key, raft::http::Responder respond);
  void handle_kv_get(const raft::http::Request& request, const std::string& key, raft::http::Responder respond);
  void handle_kv_list(const raft::http::Request& request, raft::http::Responder respond);
  void handle_status(raft::http::Responder respond);
  void handle_cluster(raft::http::Responder respond);
  void handle_members_get(raft::http::Responder respond);
  void handle_members_post(raft::http::Request&& request, raft::http::Responder respond);
  void handle_members_put(raft::http::Request&& request, const std::string& name, raft::http::Responder respond);
  void handle_members_delete(raft::http::Request&& request, const std::string& name, raft::http::Responder respond);
  void handle_transfer(raft::http::Request&& request, raft::http::Responder respond);
  void handle_snapshot(raft::http::Responder respond);
  void handle_metrics(raft::http::Responder respond);
  void handle_stats(raft::http::Responder respond);
  void handle_events(raft::http::Responder respond);

  void run_write(std::shared_ptr<WriteContext> context);
  // This node does not lead: forward the write to the leader, or wait for one.
  void route_write(std::shared_ptr<WriteContext> context);
  void run_read(std::shared_ptr<ReadContext> context);
  void retry_write(std::shared_ptr<WriteContext> context);
  void retry_read(std::shared_ptr<ReadContext> context);
  // Leader-only admin operations: run `action` here if leader, else forward.
  void on_leader(raft::http::Request&& request, raft::http::Responder respond,
                 std::function<void(raft::http::Responder)> action);
  void forward(const std::string& address, raft::http::Request request,
               std::function<void(raft::http::Response*, const raft::http::ClientError*)> done);

  std::string status_json() const;
  std::string members_json(const raft::NodeStatus& status) const;
  std::string leader_client_address(const raft::NodeStatus& status) const;
  std::string name_of(raft::NodeId id, const raft::NodeStatus& status) const;

  boost::asio::io_context& io_;
  raft::Node& node_;
  KvStore& kv_;
  raft::http::Client& client_;
  Metrics& metrics_;
  EventLog& events_;
  ApiOptions options_;
  std::function<raft::TransportStats()> transport_stats_;
  bool promoting_ = false;  // maintain(): one promotion at a time
  bool registering_ = false;
};

}  // namespace raftd
