#include "src/wal/record.h"

#include <cstring>

#include "src/util/crc32c.h"

namespace raft::wal {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  char bytes[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                   static_cast<char>(v >> 24)};
  out.append(bytes, 4);
}

std::uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint32_t>(u[0]) | static_cast<std::uint32_t>(u[1]) << 8 |
         static_cast<std::uint32_t>(u[2]) << 16 | static_cast<std::uint32_t>(u[3]) << 24;
}

std::uint32_t record_crc(RecordType type, std::string_view payload) {
  const auto t = static_cast<char>(type);
  return util::crc32c_extend(util::crc32c(&t, 1), payload.data(), payload.size());
}

}  // namespace

void append_record(std::string& out, RecordType type, std::string_view payload) {
  put_u32(out, util::mask_crc(record_crc(type, payload)));
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  out.push_back(static_cast<char>(type));
  out.append(payload);
}

ReadResult read_record(std::string_view data, std::size_t offset) {
  ReadResult result;
  result.next_offset = offset;
  if (offset >= data.size()) return result;  // clean end
  const std::size_t remaining = data.size() - offset;
  if (remaining < kRecordHeaderBytes) {
    // Only zero padding left is a clean end; anything else is a torn header.
    for (std::size_t i = offset; i < data.size(); ++i) {
      if (data[i] != 0) {
        result.kind = ReadResult::Kind::kTorn;
        result.problem = "truncated record header";
        return result;
      }
    }
    return result;
  }
  const char* p = data.data() + offset;
  const std::uint32_t masked = get_u32(p);
  const std::uint32_t length = get_u32(p + 4);
  const auto type = static_cast<RecordType>(static_cast<unsigned char>(p[8]));
  if (masked == 0 && length == 0 && p[8] == 0) {
    // Preallocated zeros: a clean end if nothing but zeros follows.
    for (std::size_t i = offset; i < data.size(); ++i) {
      if (data[i] != 0) {
        result.kind = ReadResult::Kind::kTorn;
        result.problem = "zeroed record followed by data";
        return result;
      }
    }
    return result;
  }
  if (length > kMaxRecordBytes || length > remaining - kRecordHeaderBytes) {
    result.kind = ReadResult::Kind::kTorn;
    result.problem = "record length " + std::to_string(length) + " runs past the end of the file";
    return result;
  }
  const std::string_view payload(p + kRecordHeaderBytes, length);
  if (util::unmask_crc(masked) != record_crc(type, payload)) {
    result.kind = ReadResult::Kind::kTorn;
    result.problem = "checksum mismatch";
    return result;
  }
  if (type < RecordType::kEntry || type > RecordType::kReset) {
    result.kind = ReadResult::Kind::kTorn;
    result.problem = "unknown record type " + std::to_string(static_cast<int>(type));
    return result;
  }
  result.kind = ReadResult::Kind::kRecord;
  result.type = type;
  result.payload = payload;
  result.next_offset = offset + kRecordHeaderBytes + length;
  return result;
}

}  // namespace raft::wal
