// `raft-bench floor`: the physical floor under one replicated write on this machine
// (see floor_bench.cc).
#pragma once

namespace raft::bench {

// argv[0] is "floor"; the rest are the subcommand's flags. Returns the exit code.
int floor_bench_main(int argc, char** argv);

}  // namespace raft::bench
