// raftd's replicated state: an ordered key-value map behind the StateMachine
// interface. Writes arrive only through apply() (the apply thread); HTTP handlers
// read concurrently under a shared lock.
#pragma once

#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "raft/state_machine.h"

namespace raftd {

class KvStore final : public raft::StateMachine {
 public:
  // StateMachine. apply() decodes a KvCommand and returns an encoded KvResult; an
  // undecodable command is answered with an error result, never applied.
  std::string apply(raft::Index index, std::string_view command) override;
  void save(std::ostream& out) override;
  void restore(std::istream& in) override;

  // Reads (any thread).
  std::optional<std::string> get(const std::string& key) const;
  // Up to `limit` pairs whose key starts with `prefix`, in key order.
  std::vector<std::pair<std::string, std::string>> list(const std::string& prefix, std::size_t limit) const;
  raft::Index applied_index() const;
  std::size_t size() const;

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::string> data_;
  raft::Index applied_index_ = 0;
};

}  // namespace raftd
