// Real raftd processes on 127.0.0.1 for system tests: start, stop (SIGTERM),
// kill (SIGKILL), pause (SIGSTOP) and resume, restart on the same data directory, and
// a blocking HTTP client to talk to them. Ports are picked free at start; data lives
// in a temporary directory removed at the end; every process is killed when the
// cluster object goes away, whatever happened.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace raft::system_test {

struct HttpReply {
  int status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
  std::string raft_index;  // X-Raft-Index header
  bool maybe_sent = false;  // with status 0: whether the request may have arrived
};

// One blocking request (its own io_context); safe to call from many threads.
HttpReply http_call(const std::string& address, const std::string& method, const std::string& target,
                    const std::string& body = "", std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends raw bytes to host:port and returns whatever comes back before the peer closes
// or the timeout passes.
std::string raw_exchange(const std::string& address, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(2));

class RaftdCluster {
 public:
  struct Member {
    std::string name;
    std::string peer;
    std::string client;
    std::string data_dir;
    pid_t pid = 0;
    bool paused = false;
  };

  // Starts `n` founding members n1..n<n>. raftd's path comes from the RAFTD_BIN
  // environment variable.
  explicit RaftdCluster(int n, std::vector<std::string> extra_flags = {});
  ~RaftdCluster();
  RaftdCluster(const RaftdCluster&) = delete;
  RaftdCluster& operator=(const RaftdCluster&) = delete;

  // Starts a new node that joins through `via` (a member's name).
  void join(const std::string& name, const std::string& via);

  void kill(const std::string& name);     // SIGKILL, wait
  void stop(const std::string& name);     // SIGTERM, wait (must exit within 5 s)
  void restart(const std::string& name);  // same flags and data dir
  // Restarts with `once` added to its flags for this start only.
  void restart(const std::string& name, const std::vector<std::string>& once);
  // A stopped member starts again with its ports, an empty data directory and
  // --join through `via`.
  void rejoin_empty(const std::string& name, const std::string& via);
  void pause(const std::string& name);    // SIGSTOP
  void resume(const std::string& name);   // SIGCONT
  bool running(const std::string& name) const;

  // The leader's name as most live members see it, waiting up to `limit`; "" if none.
  std::string wait_for_leader(std::chrono::milliseconds limit = std::chrono::seconds(10),
                              const std::string& not_this = "");
  const Member& member(const std::string& name) const { return members_.at(name); }
  std::vector<std::string> names() const;
  std::vector<std::string> running_names() const;
  std::string client(const std::string& name) const { return members_.at(name).client; }

 private:
  void spawn(Member& member, const std::vector<std::string>& flags);
  std::vector<std::string> flags_for(const Member& member) const;

  std::string binary_;
  std::string root_;
  std::string initial_cluster_;
  std::vector<std::string> extra_flags_;
  std::map<std::string, Member> members_;
  std::map<std::string, std::vector<std::string>> launch_flags_;
};

}  // namespace raft::system_test
