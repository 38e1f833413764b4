// The core's view of durable state is the public raft::LogStorage interface
// (include/raft/log_storage.h): a header-only contract, so a user can plug in their
// own log store. Re-exported here under the core's namespace.
#pragma once

#include "raft/log_storage.h"
#include "src/core/types.h"

namespace raft::core {

using raft::LogStorage;
using raft::StorageError;

}  // namespace raft::core
