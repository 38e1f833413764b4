// raftd's replicated state: an ordered key-value map behind the StateMachine
// interface. Writes arrive only through apply() (the apply thread); HTTP handlers
// read concurrently under a shared lock.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
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
  // The snapshot's bytes, built in memory on the apply thread and written out on the
  // node's snapshot thread: applies wait for the copy but not for the disk. The walk
  // over the keys in order is most of the copy's cost (bench/kv_bench, 200,000 keys:
  // about 68 ms, where the former save() took 76 ms before writing anything), and the
  // copy holds the image's size in memory until written.
  std::unique_ptr<raft::CapturedState> capture() override;
  void restore(std::istream& in) override;

  // Reads (any thread).
  std::optional<std::string> get(const std::string& key) const;
  // Up to `limit` pairs whose key starts with `prefix`, in key order.
  std::vector<std::pair<std::string, std::string>> list(const std::string& prefix,
                                                        std::size_t limit) const;
  raft::Index applied_index() const;
  std::size_t size() const;

 private:
  // The snapshot image of the current state (save()'s bytes).
  std::string image() const;

  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };

  using Pairs = boost::unordered_flat_map<std::string, std::string, KeyHash, std::equal_to<>>;
  using Keys = std::set<std::string, std::less<>>;

  mutable std::shared_mutex mutex_;
  // pairs_ answers point lookups; keys_ keeps the same keys in order for list() and
  // save(). A flat table holds key and value header in one slot: a lookup touches the
  // slot's group, the slot (a short key is compared there) and the value's bytes.
  // The node-based index it replaced (a hash node viewing a std::map node) cost two
  // more cache misses per lookup: in the profiles it was a quarter of the leader's
  // loop thread under GETs and a sixth of a follower under PUTs. Short keys are
  // stored twice for it. Invariant: keys_ holds exactly the keys of pairs_.
  Pairs pairs_;
  Keys keys_;
  std::uint64_t pair_bytes_ = 0;  // the bytes of every key and value in pairs_
  raft::Index applied_index_ = 0;
};

}  // namespace raftd
