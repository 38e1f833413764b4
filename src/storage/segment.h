// Segment files of the write-ahead log: their names, their header record, and the
// scan that decides what a damaged record means (docs/storage-format.md).
//
//   DIR/wal-0000000001-00000000000000000001-00000000000000004096.closed
//   DIR/wal-0000000002-00000000000000004097-00000000000000008190.closed
//   DIR/wal-0000000003.open
//
// A segment has a sequence number (replay order; contiguous, so a missing file is
// noticed) and, once closed, the index range it covers in its name. Exactly one
// segment is open (the newest); it is preallocated, so its tail reads as zeros.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/raft.pb.h"
#include "raft/types.h"
#include "src/storage/record.h"

namespace raft::storage {

struct SegmentName {
  std::uint64_t seq = 0;
  bool open = true;
  // Closed segments only. first_index: the first entry written to the segment, or
  // (no entry) the index after the log's last when it was created. last_index: the
  // log's last index when the segment was closed. For a segment without entries
  // first_index > last_index.
  Index first_index = 0;
  Index last_index = 0;
};

std::string segment_file_name(const SegmentName& name);
std::optional<SegmentName> parse_segment_file_name(std::string_view file_name);

// The first record of every segment: what replay needs to start from this segment
// when every earlier one was removed by compaction.
struct SegmentHeader {
  std::uint64_t seq = 0;
  Index prev_last_index = 0;    // the log's last index when the segment was created
  pb::SnapshotMetadata base;    // the log's snapshot point then
  pb::HardState hard_state;     // the hard state then
};

inline constexpr std::uint32_t kSegmentMagic = 0x4c415752;  // "RWAL" little-endian
inline constexpr std::uint32_t kFormatVersion = 1;

std::string encode_segment_header(const SegmentHeader& header);
// false with *why on a malformed payload (wrong magic, version, lengths, protobuf).
bool decode_segment_header(std::string_view payload, SegmentHeader* header, std::string* why);

// Payload decoders shared by recovery, the reader path, the dump tool and the fuzz
// targets. false on a payload that is not a valid message of that type.
bool decode_entry(std::string_view payload, pb::Entry* entry);
bool decode_hard_state(std::string_view payload, pb::HardState* state);
bool decode_snapshot_metadata(std::string_view payload, pb::SnapshotMetadata* metadata);

// The result of reading one segment's bytes.
struct SegmentScan {
  enum class Tail {
    kClean,    // records, then the end of the file or zeros to the end
    kTorn,     // open segment: an unreadable record with no readable one after it
               // (a write cut by a crash); everything from bad_offset is dropped
    kCorrupt,  // damage that a crash cannot explain: stop
  };
  std::vector<Record> records;   // every readable record before the tail
  std::uint64_t valid_bytes = 0; // end of the last readable record
  Tail tail = Tail::kClean;
  std::uint64_t bad_offset = 0;  // kTorn/kCorrupt: where
  std::string reason;            // kTorn/kCorrupt: why
};

// Scans a segment. `open_segment`: the newest segment, the only one a crash can
// have left with a torn write. In a closed segment every byte must be a record.
SegmentScan scan_segment(std::string_view data, bool open_segment);

}  // namespace raft::storage
