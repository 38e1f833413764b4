#include "src/node/default_stores.h"

#include "src/transport/http_peer_transport.h"

namespace raft {

Status open_default_stores(const NodeOptions& options, std::shared_ptr<LogStore>& log_store,
                           std::shared_ptr<SnapshotStore>& snapshot_store) {
  log_store = options.log_store;
  snapshot_store = options.snapshot_store;
  if (log_store && snapshot_store) return Ok{};
  // The durable write-ahead log is wired in by the storage work (issue 5).
  return make_error(ErrorCode::kInvalidArgument,
                    "no log_store/snapshot_store given and durable storage is not linked in");
}

Status open_default_transport(const NodeOptions& options, std::shared_ptr<Transport>& transport) {
  transport = options.transport;
  if (transport) return Ok{};
  std::string address = options.listen_address;
  if (address.empty()) {
    for (const Peer& peer : options.initial_cluster) {
      if (peer.id == options.id) address = peer.peer_address;
    }
  }
  if (address.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no transport given and no listen address for the HTTP transport");
  }
  transport::HttpTransportOptions http;
  http.listen_address = address;
  http.cluster_id = options.cluster_id;
  transport = std::make_shared<transport::HttpPeerTransport>(http);
  return Ok{};
}

}  // namespace raft
