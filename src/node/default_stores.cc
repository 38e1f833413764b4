#include "src/node/default_stores.h"

#include <filesystem>

#include "src/transport/http_peer_transport.h"
#include "src/wal/file_snapshot_store.h"
#include "src/wal/wal_log_store.h"

namespace raft {

Status open_default_stores(const NodeOptions& options, std::shared_ptr<LogStore>& log_store,
                           std::shared_ptr<SnapshotStore>& snapshot_store) {
  log_store = options.log_store;
  snapshot_store = options.snapshot_store;
  if (log_store && snapshot_store) return Ok{};
  if (options.data_dir.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "data_dir is required unless both stores are given");
  }
  try {
    if (!log_store) {
      wal::WalOptions wal_options;
      wal_options.dir = options.data_dir + "/wal";
      std::filesystem::create_directories(options.data_dir);
      log_store = wal::WalLogStore::open(wal_options);
    }
    if (!snapshot_store) snapshot_store = std::make_shared<wal::FileSnapshotStore>(options.data_dir + "/snapshots");
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kStorage, e.what());
  }
  return Ok{};
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
