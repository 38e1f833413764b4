// The smallest complete program on the raft library: a replicated counter.
// Three nodes run in this process, talking HTTP over loopback and keeping their logs
// on disk under ./counter-data; each "add N" command is committed on a majority,
// then applied by every node's state machine.
#include <cstdio>
#include <string>
#include <thread>

#include "raft/node.h"

class Counter : public raft::StateMachine {
 public:
  std::string apply(raft::Index, std::string_view command) override {
    value_ += std::stoll(std::string(command));
    return std::to_string(value_);
  }
  void save(std::ostream& out) override { out << value_; }
  void restore(std::istream& in) override { in >> value_; }

 private:
  long long value_ = 0;
};

int main() {
  std::vector<raft::Peer> cluster = {{1, "n1", "127.0.0.1:17101", ""},
                                     {2, "n2", "127.0.0.1:17102", ""},
                                     {3, "n3", "127.0.0.1:17103", ""}};
  std::vector<std::unique_ptr<raft::Node>> nodes;
  for (const raft::Peer& peer : cluster) {
    raft::NodeOptions options;
    options.id = peer.id;
    options.data_dir = "counter-data/" + peer.name;
    options.listen_address = peer.peer_address;
    options.initial_cluster = cluster;
    auto node = raft::Node::open(options, std::make_shared<Counter>());
    if (!node.ok()) {
      std::fprintf(stderr, "cannot open %s: %s\n", peer.name.c_str(), node.error().message.c_str());
      return 1;
    }
    nodes.push_back(std::move(node.value()));
  }
  for (int i = 1; i <= 10; ++i) {
    // Only the leader takes proposals; the others answer kNotLeader with a hint.
    for (int attempt = 0;; ++attempt) {
      raft::Node& node = *nodes[static_cast<std::size_t>(attempt) % nodes.size()];
      raft::Result<std::string> total = node.propose(std::to_string(i)).get();
      if (total.ok()) {
        std::printf("add %d -> counter = %s (via n%llu)\n", i, total.value().c_str(),
                    static_cast<unsigned long long>(node.id()));
        break;
      }
      if (attempt > 300) return 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return 0;
}
