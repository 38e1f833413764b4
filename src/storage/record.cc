#include "src/storage/record.h"

#include <cassert>
#include <cstring>

#include "src/util/crc32c.h"

namespace raft::storage {

namespace {

void put_u32(std::uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint32_t get_u32(const char* in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

// CRC of length + type + payload.
std::uint32_t record_crc(const char* header, std::string_view payload) {
  std::uint32_t crc = util::crc32c_extend(0, header + 4, 5);
  return util::crc32c_extend(crc, payload.data(), payload.size());
}

}  // namespace

const char* to_string(RecordType type) {
  switch (type) {
    case RecordType::kZero: return "zero";
    case RecordType::kSegmentHeader: return "segment-header";
    case RecordType::kEntry: return "entry";
    case RecordType::kHardState: return "hard-state";
    case RecordType::kCompact: return "compact";
    case RecordType::kInstallSnapshot: return "install-snapshot";
    case RecordType::kSnapshotMetadata: return "snapshot-metadata";
  }
  return "unknown";
}

void append_record(RecordType type, std::string_view payload, std::string* out) {
  assert(type != RecordType::kZero);
  assert(payload.size() <= kMaxRecordPayloadBytes);
  char header[kRecordHeaderBytes];
  put_u32(static_cast<std::uint32_t>(payload.size()), header + 4);
  header[8] = static_cast<char>(type);
  put_u32(util::mask_crc(record_crc(header, payload)), header);
  out->append(header, kRecordHeaderBytes);
  out->append(payload);
}

RecordReader::Outcome RecordReader::next(Record* record) {
  const std::uint64_t left = data_.size() - offset_;
  if (left == 0) return Outcome::kEnd;
  const char* p = data_.data() + offset_;
  if (left < kRecordHeaderBytes) {
    // Zeros to the end are preallocated space; anything else is a cut header.
    for (std::uint64_t i = 0; i < left; ++i) {
      if (p[i] != 0) {
        reason_ = "truncated record header (" + std::to_string(left) + " bytes left)";
        return Outcome::kBad;
      }
    }
    return Outcome::kEnd;
  }
  static constexpr char kZeros[kRecordHeaderBytes] = {};
  if (std::memcmp(p, kZeros, kRecordHeaderBytes) == 0) return Outcome::kEnd;
  const std::uint32_t length = get_u32(p + 4);
  const auto type = static_cast<std::uint8_t>(p[8]);
  if (type == 0 || type > kMaxRecordType) {
    reason_ = "unknown record type " + std::to_string(type);
    return Outcome::kBad;
  }
  if (length > kMaxRecordPayloadBytes || length > left - kRecordHeaderBytes) {
    reason_ = "record length " + std::to_string(length) + " runs past the end of the file (" +
              std::to_string(left - kRecordHeaderBytes) + " bytes left)";
    return Outcome::kBad;
  }
  const std::string_view payload(p + kRecordHeaderBytes, length);
  if (util::unmask_crc(get_u32(p)) != record_crc(p, payload)) {
    reason_ = "checksum mismatch";
    return Outcome::kBad;
  }
  record->type = static_cast<RecordType>(type);
  record->payload = payload;
  record->offset = offset_;
  offset_ += kRecordHeaderBytes + length;
  return Outcome::kRecord;
}

bool valid_record_at(std::string_view data, std::uint64_t offset) {
  if (offset > data.size()) return false;
  RecordReader reader(data.substr(offset));
  Record record;
  return reader.next(&record) == RecordReader::Outcome::kRecord;
}

}  // namespace raft::storage
