// The replicated state machine of the simulation: a tiny key-value store, and the
// encoding of its commands as log entry payloads.
//
// Every node applies committed ENTRY_NORMAL entries to its own KvStore; the client
// that proposed a command gets the result computed by the node that answered it.
// A get goes through the log like a write, or (ReadIndex, lease) is answered by
// get() from a store that has applied the read index.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace raft::sim {

enum class CommandKind : char { kPut = 'P', kGet = 'G', kCas = 'C', kDelete = 'D' };
const char* to_string(CommandKind kind);

struct Command {
  CommandKind kind = CommandKind::kGet;
  std::string key;
  std::string value;     // put, cas: the value written
  std::string expected;  // cas: the value the key must hold
};

// "P|key|value|expected". Keys and values never contain '|'.
std::string encode(const Command& command);
// nullopt for a payload that is not a command.
std::optional<Command> decode(std::string_view payload);

struct KvResult {
  std::optional<std::string> value;  // get: the value read (nullopt: absent)
  bool applied = false;              // put: always; cas: compare matched; delete: key existed
};

class KvStore {
 public:
  KvResult apply(const Command& command);
  // A get without the log.
  KvResult get(const std::string& key) const;
  const std::map<std::string, std::string>& data() const { return data_; }
  // Replaces the whole state (a snapshot restored).
  void restore(std::map<std::string, std::string> data) { data_ = std::move(data); }

 private:
  std::map<std::string, std::string> data_;
};

}  // namespace raft::sim
