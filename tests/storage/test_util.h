// Helpers shared by the storage tests: entries with recognizable contents, temporary
// directories on the real file system, and a DurableLog opened on any Env.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/storage/durable_log.h"
#include "src/storage/env.h"

namespace raft::storage::testing {

// Where the tests that run the log over an in-memory or fault-injecting Env keep it.
inline constexpr const char* kWalDir = "/wal";

inline pb::Entry make_entry(Index index, Term term, std::size_t data_bytes = 16) {
  pb::Entry entry;
  entry.set_index(index);
  entry.set_term(term);
  std::string data(data_bytes, '\0');
  for (std::size_t i = 0; i < data_bytes; ++i) data[i] = static_cast<char>('a' + (index * 7 + i) % 26);
  entry.set_data(data);
  return entry;
}

inline std::vector<pb::Entry> make_entries(Index first, Index last, Term term, std::size_t data_bytes = 16) {
  std::vector<pb::Entry> out;
  for (Index i = first; i <= last; ++i) out.push_back(make_entry(i, term, data_bytes));
  return out;
}

inline pb::HardState make_hard_state(Term term, NodeId vote, Index commit) {
  pb::HardState state;
  state.set_term(term);
  state.set_vote(vote);
  state.set_commit(commit);
  return state;
}

inline pb::SnapshotMetadata make_point(Index index, Term term) {
  pb::SnapshotMetadata point;
  point.set_index(index);
  point.set_term(term);
  point.mutable_configuration()->add_voters(1);
  return point;
}

inline LogWrite append_write(std::vector<pb::Entry> entries) {
  LogWrite write;
  write.entries = std::move(entries);
  return write;
}

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "raft-storage-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::shared_ptr<DurableLog> open_log(DurableLogOptions options) {
  Result<std::shared_ptr<DurableLog>> log = DurableLog::open(std::move(options));
  if (!log.ok()) {
    ADD_FAILURE() << "open failed: " << log.error().message;
    return nullptr;
  }
  return log.value();
}

inline constexpr std::uint64_t kNoLimitBytes = ~std::uint64_t{0};

// Every entry of the log, read through the LogStorage interface.
inline std::vector<pb::Entry> all_entries(const LogStorage& log) {
  std::vector<pb::Entry> out;
  if (log.last_index() >= log.first_index()) {
    log.entries(log.first_index(), log.last_index() + 1, kNoLimitBytes, &out);
  }
  return out;
}



}  // namespace raft::storage::testing
