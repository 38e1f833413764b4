// Recovery, read-only half: reads every segment of a log directory, replays its
// records and says what the log holds, or why it cannot be trusted. DurableLog::open
// builds on it (and then repairs a torn tail); `raft-wal dump` prints it without
// changing a byte.
//
// Replay rules (docs/storage-format.md, "Recovery"):
//   - segments are replayed in sequence order; sequence numbers are contiguous and
//     only the last segment may be open;
//   - the first segment present starts from its header (base, hard state, last
//     index); every later header must agree with the replayed state;
//   - an entry record with index i drops every entry >= i first (truncation); an
//     index past last + 1 is a gap;
//   - compact/install records move the snapshot point;
//   - at the end every index in (snapshot index, last] must be held.
// Any violation is corruption: an error naming the file and offset.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "proto/raft.pb.h"
#include "raft/result.h"
#include "src/storage/env.h"
#include "src/storage/segment.h"

namespace raft::storage {

// Where one live entry is: enough to answer term() and the byte limit of entries()
// without reading, and to read it back.
struct EntryLocation {
  Term term = 0;
  std::uint64_t seq = 0;             // segment
  std::uint64_t offset = 0;          // of the record header in the segment
  std::uint32_t payload_bytes = 0;   // = the entry's encoded size
};

struct SegmentSummary {
  std::string file_name;
  SegmentName name;
  std::uint64_t file_bytes = 0;
  std::uint64_t valid_bytes = 0;     // end of the last readable record
  SegmentHeader header;
  bool has_header = false;
  std::optional<Index> first_entry;  // first entry record's index
  Index last_index = 0;              // the log's last index after this segment
  std::uint64_t records = 0;
};

struct TornTail {
  std::string file_name;
  std::uint64_t offset = 0;          // where the damage starts; cut here
  std::uint64_t dropped_bytes = 0;   // non-zero bytes from offset on
  std::string reason;
};

struct WalImage {
  std::vector<SegmentSummary> segments;  // in sequence order
  pb::SnapshotMetadata base;
  pb::HardState hard_state;
  std::deque<EntryLocation> locations;   // locations[i] is index base.index() + 1 + i
  Index last_index() const { return base.index() + locations.size(); }
  std::optional<TornTail> torn_tail;     // the open segment's torn write, if any
  // Sequence number of the segment holding the newest install-snapshot record (0:
  // none): every segment before it is obsolete.
  std::uint64_t install_seq = 0;
};

// Called for each readable record of each segment, in replay order (the dump tool).
using RecordVisitor = std::function<void(const SegmentSummary& segment, const Record& record)>;

// Reads and replays the log in `dir`. An empty or absent directory is an empty log.
Result<WalImage> read_wal(Env& env, const std::string& dir, const RecordVisitor& visitor = {});

}  // namespace raft::storage
