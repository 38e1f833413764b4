#include "src/node/default_stores.h"

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
  (void)options;
  transport = nullptr;
  return make_error(ErrorCode::kInvalidArgument, "no transport given and the HTTP transport is not linked in");
}

}  // namespace raft
