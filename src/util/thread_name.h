// Names the calling thread (at most 15 characters show), so top -H, perf and gdb
// tell raft's threads apart: raft-loop, raft-apply, raft-snap, raft-wal, raft-walcb,
// raft-walrm, raft-net, http-lane.
#pragma once

#include <pthread.h>

namespace raft::util {

inline void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace raft::util
