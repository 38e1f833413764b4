// Record framing of the write-ahead log (docs/storage-format.md):
//
//   record := masked_crc32c:u32le  length:u32le  type:u8  payload[length]
//
// The CRC covers the type byte and the payload. A reader distinguishes a clean end
// (no more bytes, or only zero padding from preallocation), a torn record (the bytes
// end inside it, or its checksum fails) and a record it does not know.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace raft::wal {

enum class RecordType : std::uint8_t {
  kEntry = 1,      // payload: pb::Entry. Appending index i drops every entry >= i first.
  kHardState = 2,  // payload: pb::HardState (the latest one wins)
  kCompact = 3,    // payload: pb::SnapshotMetadata; entries <= its index are dropped
  kReset = 4,      // payload: pb::SnapshotMetadata; every entry is dropped (snapshot install)
};

inline constexpr std::size_t kRecordHeaderBytes = 9;
inline constexpr std::uint32_t kMaxRecordBytes = 256u << 20;

// Appends one framed record to `out`.
void append_record(std::string& out, RecordType type, std::string_view payload);

struct ReadResult {
  enum class Kind { kRecord, kEnd, kTorn } kind = Kind::kEnd;
  RecordType type = RecordType::kEntry;
  std::string_view payload;
  std::size_t next_offset = 0;  // after this record
  std::string problem;          // for kTorn: what was wrong
};

// Reads the record at `offset` of `data`.
ReadResult read_record(std::string_view data, std::size_t offset);

}  // namespace raft::wal
