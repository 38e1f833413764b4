// What the crash child writes, so the SIGKILL test can check every entry it finds.
#pragma once

#include <string>

#include "proto/raft.pb.h"
#include "raft/types.h"

namespace raft::storage {

inline pb::Entry crash_child_entry(Index index, Term term, std::size_t data_bytes) {
  pb::Entry entry;
  entry.set_index(index);
  entry.set_term(term);
  std::string data = std::to_string(index) + "/" + std::to_string(term) + ":";
  while (data.size() < data_bytes) data.push_back(static_cast<char>('A' + (index + data.size()) % 26));
  entry.set_data(data);
  return entry;
}

// Whether `entry` is one the child could have written.
inline bool crash_child_entry_valid(const pb::Entry& entry) {
  const pb::Entry expected = crash_child_entry(entry.index(), entry.term(), entry.data().size());
  return entry.data() == expected.data();
}

}  // namespace raft::storage
