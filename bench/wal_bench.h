// `raft-bench wal`: the durable log's throughput next to the raw limits of the same
// disk (see wal_bench.cc).
#pragma once

namespace raft::bench {

// argv[0] is "wal"; the rest are the subcommand's flags. Returns the exit code.
int wal_bench_main(int argc, char** argv);

}  // namespace raft::bench
