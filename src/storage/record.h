// Record framing of the write-ahead log (docs/storage-format.md, "Records").
//
//   +----------------+----------------+------+-------------------+
//   | masked CRC32C  | payload length | type | payload ...       |
//   |   4 bytes LE   |   4 bytes LE   |  1   | `length` bytes    |
//   +----------------+----------------+------+-------------------+
//
// The CRC covers the length, the type and the payload, so a damaged length is caught
// like any other damaged byte. It is masked (raft::util::mask_crc) as LevelDB does.
// Type 0 never appears in a record: a header of zeros is how preallocated, never
// written space reads, so the reader can tell "no more records" from damage.
//
// This file only frames bytes. What a damaged record means (torn tail or corruption)
// is decided by the segment scanner (segment.h), which knows where the record is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace raft::storage {

enum class RecordType : std::uint8_t {
  kZero = 0,            // never written: preallocated space
  kSegmentHeader = 1,   // first record of every segment (segment.h)
  kEntry = 2,           // a pb::Entry; an index <= the last one truncates first
  kHardState = 3,       // a pb::HardState
  kCompact = 4,         // a pb::SnapshotMetadata: entries up to its index dropped
  kInstallSnapshot = 5, // a pb::SnapshotMetadata: the whole log replaced by it
  kSnapshotMetadata = 6, // snapshot files only: the metadata after the data
};
inline constexpr std::uint8_t kMaxRecordType = 6;

const char* to_string(RecordType type);

inline constexpr std::size_t kRecordHeaderBytes = 9;
// Larger payloads are refused by the writer and read as damage. Bounds what one
// damaged length field can make the reader believe.
inline constexpr std::uint32_t kMaxRecordPayloadBytes = 1u << 30;

// Appends one framed record to *out.
void append_record(RecordType type, std::string_view payload, std::string* out);

// The size of a record with `payload_bytes` of payload.
inline constexpr std::uint64_t record_bytes(std::uint64_t payload_bytes) {
  return kRecordHeaderBytes + payload_bytes;
}

struct Record {
  RecordType type = RecordType::kZero;
  std::string_view payload;
  std::uint64_t offset = 0;  // of the header, from the start of the buffer
  std::uint64_t size() const { return record_bytes(payload.size()); }
};

// Reads framed records from a buffer holding one segment file.
class RecordReader {
 public:
  enum class Outcome {
    kRecord,  // *record holds the next record
    kEnd,     // the end: end of the buffer, or a header of zeros (never written)
    kBad,     // a record that cannot be read: reason() says why, offset() where
  };

  explicit RecordReader(std::string_view data) : data_(data) {}

  Outcome next(Record* record);
  // The offset of the next record to read (after kBad: of the bad one).
  std::uint64_t offset() const { return offset_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string_view data_;
  std::uint64_t offset_ = 0;
  std::string reason_;
};

// Whether a whole, valid record starts at `offset` (for telling a torn tail from
// damage followed by good records).
bool valid_record_at(std::string_view data, std::uint64_t offset);

}  // namespace raft::storage
