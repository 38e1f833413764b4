// `raft-bench removal`: what removing obsolete log segments does to the syncs of
// logs on the same disk (see removal_bench.cc).
#pragma once

namespace raft::bench {

// argv[0] is "removal"; the rest are the subcommand's flags. Returns the exit code.
int removal_bench_main(int argc, char** argv);

}  // namespace raft::bench
