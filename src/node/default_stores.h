// The defaults a Node gets when NodeOptions leaves a plug-in empty: the durable
// write-ahead log and file snapshots under data_dir, and the HTTP transport.
#pragma once

#include <memory>

#include "raft/options.h"
#include "raft/result.h"

namespace boost::asio {
class io_context;
}

namespace raft {

// Fills `log_store` and `snapshot_store` from the options' own, or opens the
// defaults in options.data_dir.
Status open_default_stores(const NodeOptions& options, std::shared_ptr<LogStore>& log_store,
                           std::shared_ptr<SnapshotStore>& snapshot_store);

// Fills `transport` with the options' own, or the HTTP transport listening on the
// options' address; with `io`, that transport runs on `io` instead of its own thread
// (see HttpTransportOptions::io_context for what that asks of the caller).
Status open_default_transport(const NodeOptions& options, std::shared_ptr<Transport>& transport,
                              boost::asio::io_context* io = nullptr);

}  // namespace raft
