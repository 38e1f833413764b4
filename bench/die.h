// How raft-bench's subcommands stop on a failure: one line on stderr that names the
// subcommand, then exit status 1.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace raft::bench {

// "raft-bench <subcommand>: <what>"
[[noreturn]] inline void die(const char* subcommand, const std::string& what) {
  std::fprintf(stderr, "raft-bench %s: %s\n", subcommand, what.c_str());
  std::exit(1);
}

// The same, with the reason errno gives for the system call that just failed.
[[noreturn]] inline void die_errno(const char* subcommand, const std::string& what) {
  const int error = errno;  // before anything below can allocate and change it
  die(subcommand, what + ": " + std::strerror(error));
}

}  // namespace raft::bench
