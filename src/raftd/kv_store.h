// raftd's replicated state: an ordered key-value map behind the StateMachine
// interface. Writes arrive only through apply() (the apply thread); HTTP handlers
// read concurrently under a shared lock.
#pragma once

#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
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
  std::vector<std::pair<std::string, std::string>> list(const std::string& prefix,
                                                        std::size_t limit) const;
  raft::Index applied_index() const;
  std::size_t size() const;

 private:
  using Map = std::map<std::string, std::string>;

  // Called under the unique lock. Rebuilds index_ from data_.
  void reindex();

  mutable std::shared_mutex mutex_;
  // data_ keeps the keys in order for list(); index_ answers point lookups with one
  // hash probe. In the leader's profile the tree walk (a string compare and a likely
  // cache miss per level) was raftd's largest own function, for reads and writes alike.
  // Invariant: index_ holds exactly one entry per pair of data_, whose key is a view of
  // that pair's key (a std::map node never moves, so the view stays valid until the
  // pair is erased).
  Map data_;
  std::unordered_map<std::string_view, Map::iterator> index_;
  raft::Index applied_index_ = 0;
};

}  // namespace raftd
