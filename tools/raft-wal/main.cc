// raft-wal dump DIR: prints what a node's data directory holds (segments and their
// index ranges, the snapshot point, the hard state, a torn tail, snapshot files, each
// snapshot's data checked against its size and CRC-32C) without changing a byte. DIR
// is the node's data directory (with wal/ and snapshots/ inside) or a log directory
// itself. Exit status: 0 when the log would recover and every snapshot is intact, 1
// when recovery would refuse the log or a snapshot is damaged (the error names the
// file), 2 on wrong usage.
#include <cstdio>
#include <filesystem>
#include <string>

#include "src/storage/snapshot_store.h"
#include "src/storage/wal_image.h"

namespace {

using raft::storage::Record;
using raft::storage::SegmentSummary;

int usage() {
  std::fprintf(stderr,
               "usage: raft-wal dump [--records] DIR\n"
               "  DIR       a node's data directory (holding wal/ and snapshots/) or a log directory\n"
               "  --records also print one line per record\n");
  return 2;
}

std::string range(const SegmentSummary& s) {
  if (!s.first_entry) return "no entries";
  return std::to_string(*s.first_entry) + ".." + std::to_string(s.last_index);
}

// Returns whether every committed snapshot is intact.
bool print_snapshots(raft::storage::Env& env, const std::string& dir) {
  auto names = env.list(dir);
  if (!names.ok()) return true;  // no snapshot directory: nothing to damage
  bool intact = true;
  std::printf("snapshots in %s:\n", dir.c_str());
  for (const std::string& name : names.value()) {
    if (name.size() < 5 || name.substr(name.size() - 5) != ".snap") {
      std::printf("  %s (not a committed snapshot)\n", name.c_str());
      continue;
    }
    auto info = raft::storage::read_snapshot_info(env, dir, name);
    if (!info.ok()) {
      std::printf("  %s: DAMAGED: %s\n", name.c_str(), info.error().message.c_str());
      intact = false;
      continue;
    }
    const auto& m = info.value().metadata;
    std::printf("  %s: index %llu term %llu, %llu bytes, voters %d, learners %d\n", name.c_str(),
                static_cast<unsigned long long>(m.index()), static_cast<unsigned long long>(m.term()),
                static_cast<unsigned long long>(m.size_bytes()), m.configuration().voters_size(),
                m.configuration().learners_size());
    if (raft::Status data = raft::storage::verify_snapshot(env, dir, info.value()); !data.ok()) {
      std::printf("  %s: DAMAGED data: %s\n", name.c_str(), data.error().message.c_str());
      intact = false;
    }
  }
  return intact;
}

}  // namespace

int main(int argc, char** argv) {
  bool records = false;
  std::string dir;
  if (argc < 3 || std::string(argv[1]) != "dump") return usage();
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--records") {
      records = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return usage();
    } else if (dir.empty()) {
      dir = arg;
    } else {
      return usage();
    }
  }
  if (dir.empty()) return usage();
  std::string wal_dir = dir;
  std::string snapshot_dir;
  if (std::filesystem::is_directory(dir + "/wal")) {
    wal_dir = dir + "/wal";
    snapshot_dir = dir + "/snapshots";
  }
  if (!std::filesystem::is_directory(wal_dir)) {
    std::fprintf(stderr, "raft-wal: %s is not a directory\n", wal_dir.c_str());
    return 2;
  }

  auto env = raft::storage::posix_env();
  raft::storage::RecordVisitor visitor;
  if (records) {
    visitor = [](const SegmentSummary& segment, const Record& record) {
      std::printf("  %s @%llu %s (%zu bytes)\n", segment.file_name.c_str(),
                  static_cast<unsigned long long>(record.offset), raft::storage::to_string(record.type),
                  record.payload.size());
    };
  }
  auto image = raft::storage::read_wal(*env, wal_dir, visitor);
  if (!image.ok()) {
    std::printf("log %s: CORRUPT: %s\n", wal_dir.c_str(), image.error().message.c_str());
    if (!snapshot_dir.empty()) print_snapshots(*env, snapshot_dir);
    return 1;
  }
  const auto& w = image.value();
  std::printf("log %s: %zu segment(s)\n", wal_dir.c_str(), w.segments.size());
  for (const SegmentSummary& s : w.segments) {
    std::printf("  %s: seq %llu, %s, %llu records, %llu valid of %llu bytes\n", s.file_name.c_str(),
                static_cast<unsigned long long>(s.name.seq), range(s).c_str(),
                static_cast<unsigned long long>(s.records), static_cast<unsigned long long>(s.valid_bytes),
                static_cast<unsigned long long>(s.file_bytes));
  }
  std::printf("snapshot point: index %llu term %llu\n", static_cast<unsigned long long>(w.base.index()),
              static_cast<unsigned long long>(w.base.term()));
  std::printf("entries: %llu..%llu (%zu)\n", static_cast<unsigned long long>(w.base.index() + 1),
              static_cast<unsigned long long>(w.last_index()), w.locations.size());
  std::printf("hard state: term %llu vote %llu commit %llu\n", static_cast<unsigned long long>(w.hard_state.term()),
              static_cast<unsigned long long>(w.hard_state.vote()),
              static_cast<unsigned long long>(w.hard_state.commit()));
  if (w.torn_tail) {
    std::printf("torn tail: %s at offset %llu (%llu bytes, %s); cut at the next open\n", w.torn_tail->file_name.c_str(),
                static_cast<unsigned long long>(w.torn_tail->offset),
                static_cast<unsigned long long>(w.torn_tail->dropped_bytes), w.torn_tail->reason.c_str());
  }
  const bool snapshots_intact = snapshot_dir.empty() || print_snapshots(*env, snapshot_dir);
  return snapshots_intact ? 0 : 1;
}
