#include "src/node/default_stores.h"

#include "src/storage/durable_log.h"
#include "src/storage/snapshot_store.h"
#include "src/transport/http_transport.h"

namespace raft {

Status open_default_stores(const NodeOptions& options, std::shared_ptr<LogStore>& log_store,
                           std::shared_ptr<SnapshotStore>& snapshot_store) {
  log_store = options.log_store;
  snapshot_store = options.snapshot_store;
  if (log_store && snapshot_store) return Ok{};
  if (options.data_dir.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "data_dir is required unless both stores are given");
  }
  // The defaults are the durable log and file snapshots of src/storage
  // (docs/storage-format.md): <data_dir>/wal and <data_dir>/snapshots.
  if (!log_store) {
    storage::DurableLogOptions log_options;
    log_options.dir = options.data_dir + "/wal";
    auto opened = storage::DurableLog::open(log_options);
    if (!opened.ok()) return opened.error();
    log_store = std::move(opened).value();
  }
  if (!snapshot_store) {
    storage::FileSnapshotStoreOptions snapshot_options;
    snapshot_options.dir = options.data_dir + "/snapshots";
    auto opened = storage::FileSnapshotStore::open(snapshot_options);
    if (!opened.ok()) return opened.error();
    snapshot_store = std::move(opened).value();
  }
  return Ok{};
}

Status open_default_transport(const NodeOptions& options, std::shared_ptr<Transport>& transport,
                              boost::asio::io_context* io) {
  transport = options.transport;
  if (transport) return Ok{};
  // Where the others reach this node: its own record, when it has one (it may listen
  // on a wildcard address).
  std::string advertised;
  for (const Peer& peer : options.initial_cluster) {
    if (peer.id == options.id) advertised = peer.peer_address;
  }
  std::string address = options.listen_address.empty() ? advertised : options.listen_address;
  if (address.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no transport given and no listen address for the HTTP transport");
  }
  transport::HttpTransportOptions http;
  http.listen_address = address;
  http.advertise_address = advertised;
  http.cluster_id = options.cluster_id;
  http.io_context = io;
  transport = std::make_shared<transport::HttpTransport>(http);
  return Ok{};
}

}  // namespace raft
