// Text-scripted multi-node scenarios: each tests/core/testdata/*.txt is a script of
// commands run on a TestCluster, each followed by the output it must produce:
//
//   # A comment explains the step (comments and blank lines are kept on rewrite).
//   propose 1 x
//   ----
//   ok index=2 term=1
//
// A block is one or more command lines, a line "----", then the expected output up to
// the next blank line. Run with REWRITE_SCENARIOS=1 to regenerate every expected
// output from the actual one (then review the diff).
//
// Commands (node ids are numbers; "all" where noted):
//   cluster N [pre_vote=on|off] [check_quorum=on|off] [seed=S]   a new cluster 1..N
//   elect                    tick and deliver until a leader exists
//   campaign N               N starts an election now (skipping PreVote)
//   tick N|all [K]           K ticks (default 1), delivering nothing
//   run K                    K rounds of: tick all, deliver until quiet
//   stabilize                deliver until the network is quiet
//   propose N DATA           a proposal through N
//   isolate N / cut A B / partition A B.. | C D.. / heal     network faults
//   restart N                N restarts from its durable state
//   status                   one line per node
//   log N                    N's durable log
// After every command, each node whose role, term or leader changed prints a line
// "nX: <before> -> <after>"; a block with no output at all prints "ok".
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/core/test_cluster.h"

namespace raft::core::testing {
namespace {

std::filesystem::path testdata_dir() {
  if (const char* root = std::getenv("RAFT_SOURCE_DIR")) {
    return std::filesystem::path(root) / "tests" / "core" / "testdata";
  }
  return std::filesystem::path(__FILE__).parent_path() / "testdata";
}

std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string describe_entry(const pb::Entry& entry) {
  std::string out = std::to_string(entry.index()) + "/" + std::to_string(entry.term());
  if (entry.type() == pb::ENTRY_NORMAL) out += ":" + entry.data();
  if (entry.type() == pb::ENTRY_CONF_CHANGE) out += ":conf";
  return out;
}

// Runs the commands of one script against one cluster.
class Interpreter {
 public:
  // Runs one command line; returns its output lines (none when there is nothing to
  // report: the block then prints "ok").
  std::vector<std::string> run(const std::string& line) {
    const std::vector<std::string> words = split(line);
    std::vector<std::string> out;
    if (words.empty()) return {"error: empty command"};
    const std::string& command = words[0];
    if (command == "cluster") {
      create(words);
      return {};
    }
    if (!cluster_) return {"error: no cluster (use: cluster N)"};
    const std::map<NodeId, std::string> before = states();
    try {
      execute(words, out);
    } catch (const std::exception& e) {
      out.push_back(std::string("error: ") + e.what());
    }
    const std::map<NodeId, std::string> after = states();
    for (const auto& [id, state] : after) {
      if (before.at(id) != state)
        out.push_back("n" + std::to_string(id) + ": " + before.at(id) + " -> " + state);
    }
    return out;
  }

 private:
  static NodeId node_id(const std::string& word) {
    std::size_t used = 0;
    const unsigned long long id = std::stoull(word, &used);
    if (used != word.size() || id == 0) throw std::invalid_argument("bad node id: " + word);
    return id;
  }

  void create(const std::vector<std::string>& words) {
    if (words.size() < 2) throw std::invalid_argument("usage: cluster N [options]");
    const int n = std::stoi(words[1]);
    bool pre_vote = true, check_quorum = true;
    std::uint64_t seed = 1;
    for (std::size_t i = 2; i < words.size(); ++i) {
      const std::string& w = words[i];
      if (w == "pre_vote=on" || w == "pre_vote=off") {
        pre_vote = w.ends_with("on");
      } else if (w == "check_quorum=on" || w == "check_quorum=off") {
        check_quorum = w.ends_with("on");
      } else if (w.starts_with("seed=")) {
        seed = std::stoull(w.substr(5));
      } else {
        throw std::invalid_argument("unknown cluster option: " + w);
      }
    }
    cluster_ = std::make_unique<TestCluster>(n, seed, [=](Options& o) {
      o.pre_vote = pre_vote;
      o.check_quorum = check_quorum;
    });
  }

  std::string state(NodeId id) {
    Raft& raft = cluster_->node(id);
    std::string out = std::string(to_string(raft.role())) + " term=" + std::to_string(raft.term());
    if (raft.role() == Role::kFollower) out += " leader=" + std::to_string(raft.leader());
    return out;
  }

  std::map<NodeId, std::string> states() {
    std::map<NodeId, std::string> out;
    for (NodeId id : cluster_->ids()) out[id] = state(id);
    return out;
  }

  std::string log_line(NodeId id) {
    std::string out;
    for (const pb::Entry& entry : cluster_->log(id))
      out += (out.empty() ? "" : " ") + describe_entry(entry);
    return "[" + out + "]";
  }

  void execute(const std::vector<std::string>& words, std::vector<std::string>& out) {
    const std::string& command = words[0];
    auto arg = [&](std::size_t i) -> const std::string& {
      if (i >= words.size()) throw std::invalid_argument("missing argument for " + command);
      return words[i];
    };
    if (command == "elect") {
      const NodeId leader = cluster_->elect();
      out.push_back("leader " + std::to_string(leader) + " term " +
                    std::to_string(leader == kNoNode ? 0 : cluster_->node(leader).term()));
    } else if (command == "campaign") {
      cluster_->node(node_id(arg(1))).campaign();
      cluster_->process_readies();
    } else if (command == "tick") {
      const int ticks = words.size() > 2 ? std::stoi(words[2]) : 1;
      if (arg(1) == "all") {
        cluster_->tick_all(ticks);
      } else {
        cluster_->tick(node_id(arg(1)), ticks);
      }
    } else if (command == "run") {
      const int rounds = std::stoi(arg(1));
      for (int i = 0; i < rounds; ++i) {
        cluster_->tick_all();
        cluster_->stabilize();
      }
    } else if (command == "stabilize") {
      cluster_->stabilize();
    } else if (command == "propose") {
      const ProposeResult result = cluster_->propose(node_id(arg(1)), arg(2));
      if (result.ok()) {
        out.push_back("ok index=" + std::to_string(result.last_index) +
                      " term=" + std::to_string(result.term));
      } else {
        out.push_back(std::string("rejected: ") + to_string(*result.error));
      }
    } else if (command == "isolate") {
      cluster_->isolate(node_id(arg(1)));
    } else if (command == "cut") {
      cluster_->cut(node_id(arg(1)), node_id(arg(2)));
    } else if (command == "partition") {
      std::vector<NodeId> left, right;
      bool on_right = false;
      for (std::size_t i = 1; i < words.size(); ++i) {
        if (words[i] == "|") {
          on_right = true;
        } else {
          (on_right ? right : left).push_back(node_id(words[i]));
        }
      }
      if (left.empty() || right.empty())
        throw std::invalid_argument("usage: partition A B .. | C D ..");
      for (NodeId a : left) {
        for (NodeId b : right) cluster_->cut(a, b);
      }
    } else if (command == "heal") {
      cluster_->heal();
    } else if (command == "restart") {
      cluster_->restart(node_id(arg(1)));
    } else if (command == "status") {
      for (NodeId id : cluster_->ids()) {
        Raft& raft = cluster_->node(id);
        out.push_back("n" + std::to_string(id) + " " + state(id) +
                      " commit=" + std::to_string(raft.commit_index()) +
                      " last=" + std::to_string(raft.last_index()) + " log=" + log_line(id));
      }
    } else if (command == "log") {
      out.push_back(log_line(node_id(arg(1))));
    } else {
      throw std::invalid_argument("unknown command: " + command);
    }
  }

  std::unique_ptr<TestCluster> cluster_;
};

struct Block {
  std::vector<std::string> preamble;  // comments and blank lines before the commands
  std::vector<std::string> commands;
  std::vector<std::string> expected;
  int line = 0;  // of the first command
};

std::vector<Block> parse(std::istream& in, std::string* error) {
  std::vector<Block> blocks;
  Block block;
  enum { kPreamble, kCommands, kOutput } where = kPreamble;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    switch (where) {
      case kPreamble:
        if (line.empty() || line.starts_with("#")) {
          block.preamble.push_back(line);
        } else if (line == "----") {
          *error = "line " + std::to_string(number) + ": ---- without a command";
          return {};
        } else {
          block.commands.push_back(line);
          block.line = number;
          where = kCommands;
        }
        break;
      case kCommands:
        if (line == "----") {
          where = kOutput;
        } else if (line.empty()) {
          *error = "line " + std::to_string(number) + ": blank line before ----";
          return {};
        } else {
          block.commands.push_back(line);
        }
        break;
      case kOutput:
        if (line.empty()) {
          blocks.push_back(std::move(block));
          block = Block();
          block.preamble.push_back(line);
          where = kPreamble;
        } else {
          block.expected.push_back(line);
        }
        break;
    }
  }
  if (where == kCommands) {
    *error = "line " + std::to_string(block.line) + ": command without ----";
    return {};
  }
  if (where == kOutput) blocks.push_back(std::move(block));
  // Trailing comments (after the last block) are kept as a block without commands.
  if (where == kPreamble && !block.preamble.empty()) blocks.push_back(std::move(block));
  return blocks;
}

std::vector<std::string> scenario_files() {
  std::vector<std::string> out;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(testdata_dir(), error)) {
    if (entry.path().extension() == ".txt") out.push_back(entry.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, Run) {
  const std::filesystem::path path = testdata_dir() / (GetParam() + ".txt");
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path;
  std::string error;
  std::vector<Block> blocks = parse(in, &error);
  ASSERT_TRUE(error.empty()) << path << ": " << error;

  const bool rewrite = std::getenv("REWRITE_SCENARIOS") != nullptr;
  Interpreter interpreter;
  for (Block& block : blocks) {
    if (block.commands.empty()) continue;
    std::vector<std::string> actual;
    for (const std::string& command : block.commands) {
      for (std::string& line : interpreter.run(command)) actual.push_back(std::move(line));
    }
    if (actual.empty()) actual.push_back("ok");
    if (rewrite) {
      block.expected = actual;
      continue;
    }
    std::string want, got;
    for (const std::string& line : block.expected) want += line + "\n";
    for (const std::string& line : actual) got += line + "\n";
    EXPECT_EQ(want, got) << path.string() << ":" << block.line << ": " << block.commands.front()
                         << "\n(REWRITE_SCENARIOS=1 regenerates the expected output)";
  }
  if (rewrite) {
    std::ofstream file(path, std::ios::trunc);
    for (const Block& block : blocks) {
      for (const std::string& line : block.preamble) file << line << "\n";
      if (block.commands.empty()) continue;
      for (const std::string& line : block.commands) file << line << "\n";
      file << "----\n";
      for (const std::string& line : block.expected) file << line << "\n";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Testdata, Scenario, ::testing::ValuesIn(scenario_files()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// The interpreter itself must notice a wrong expectation (a checker that cannot fail
// is worth nothing).
TEST(ScenarioInterpreter, ReportsMismatchAndParsesBlocks) {
  std::istringstream script("# comment\ncluster 3\n----\nok\n\nelect\nstatus\n----\nwrong\n");
  std::string error;
  const std::vector<Block> blocks = parse(script, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[1].commands.size(), 2u);
  Interpreter interpreter;
  EXPECT_TRUE(interpreter.run("cluster 3").empty());
  std::vector<std::string> out = interpreter.run("elect");
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(out[0].starts_with("leader ")) << out[0];
  EXPECT_NE(out, blocks[1].expected);
  EXPECT_EQ(interpreter.run("frobnicate")[0], "error: unknown command: frobnicate");

  std::istringstream broken("cluster 3\nelect\n");
  parse(broken, &error);
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace raft::core::testing
