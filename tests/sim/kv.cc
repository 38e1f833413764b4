#include "tests/sim/kv.h"

namespace raft::sim {

const char* to_string(CommandKind kind) {
  switch (kind) {
    case CommandKind::kPut: return "put";
    case CommandKind::kGet: return "get";
    case CommandKind::kCas: return "cas";
    case CommandKind::kDelete: return "delete";
  }
  return "?";
}

std::string encode(const Command& command) {
  std::string out;
  out.reserve(4 + command.key.size() + command.value.size() + command.expected.size());
  out += static_cast<char>(command.kind);
  out += '|';
  out += command.key;
  out += '|';
  out += command.value;
  out += '|';
  out += command.expected;
  return out;
}

std::optional<Command> decode(std::string_view payload) {
  if (payload.size() < 4 || payload[1] != '|') return std::nullopt;
  Command command;
  switch (payload[0]) {
    case 'P': command.kind = CommandKind::kPut; break;
    case 'G': command.kind = CommandKind::kGet; break;
    case 'C': command.kind = CommandKind::kCas; break;
    case 'D': command.kind = CommandKind::kDelete; break;
    default: return std::nullopt;
  }
  std::string_view rest = payload.substr(2);
  const auto first = rest.find('|');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = rest.find('|', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  command.key = rest.substr(0, first);
  command.value = rest.substr(first + 1, second - first - 1);
  command.expected = rest.substr(second + 1);
  return command;
}

KvResult KvStore::get(const std::string& key) const {
  KvResult result;
  if (auto it = data_.find(key); it != data_.end()) result.value = it->second;
  return result;
}

KvResult KvStore::apply(const Command& command) {
  KvResult result;
  auto it = data_.find(command.key);
  switch (command.kind) {
    case CommandKind::kPut:
      data_[command.key] = command.value;
      result.applied = true;
      break;
    case CommandKind::kGet:
      if (it != data_.end()) result.value = it->second;
      break;
    case CommandKind::kCas:
      if (it != data_.end() && it->second == command.expected) {
        it->second = command.value;
        result.applied = true;
      }
      break;
    case CommandKind::kDelete:
      if (it != data_.end()) {
        data_.erase(it);
        result.applied = true;
      }
      break;
  }
  return result;
}

}  // namespace raft::sim
