#include "src/storage/segment.h"

#include <charconv>
#include <cstdio>

namespace raft::storage {

namespace {

void put_u32(std::uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Reads little-endian integers from a payload, remembering overruns.
struct Cursor {
  std::string_view data;
  bool ok = true;
  std::uint64_t get(int bytes) {
    if (data.size() < static_cast<std::size_t>(bytes)) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[i])) << (8 * i);
    data.remove_prefix(static_cast<std::size_t>(bytes));
    return v;
  }
  std::string_view take(std::uint64_t n) {
    if (data.size() < n) {
      ok = false;
      return {};
    }
    std::string_view out = data.substr(0, n);
    data.remove_prefix(n);
    return out;
  }
};

bool parse_u64(std::string_view s, std::uint64_t* out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool all_zero(std::string_view data) {
  for (char c : data) {
    if (c != 0) return false;
  }
  return true;
}

}  // namespace

std::string segment_file_name(const SegmentName& name) {
  char buf[96];
  if (name.open) {
    std::snprintf(buf, sizeof buf, "wal-%010llu.open", static_cast<unsigned long long>(name.seq));
  } else {
    std::snprintf(buf, sizeof buf, "wal-%010llu-%020llu-%020llu.closed", static_cast<unsigned long long>(name.seq),
                  static_cast<unsigned long long>(name.first_index),
                  static_cast<unsigned long long>(name.last_index));
  }
  return buf;
}

std::optional<SegmentName> parse_segment_file_name(std::string_view file_name) {
  if (!file_name.starts_with("wal-")) return std::nullopt;
  file_name.remove_prefix(4);
  SegmentName name;
  if (file_name.ends_with(".open")) {
    file_name.remove_suffix(5);
    name.open = true;
    if (!parse_u64(file_name, &name.seq)) return std::nullopt;
    return name;
  }
  if (!file_name.ends_with(".closed")) return std::nullopt;
  file_name.remove_suffix(7);
  name.open = false;
  const std::size_t a = file_name.find('-');
  if (a == std::string_view::npos) return std::nullopt;
  const std::size_t b = file_name.find('-', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  if (!parse_u64(file_name.substr(0, a), &name.seq) ||
      !parse_u64(file_name.substr(a + 1, b - a - 1), &name.first_index) ||
      !parse_u64(file_name.substr(b + 1), &name.last_index)) {
    return std::nullopt;
  }
  return name;
}

std::string encode_segment_header(const SegmentHeader& header) {
  std::string out;
  put_u32(kSegmentMagic, &out);
  put_u32(kFormatVersion, &out);
  put_u64(header.seq, &out);
  put_u64(header.prev_last_index, &out);
  const std::string base = header.base.SerializeAsString();
  put_u32(static_cast<std::uint32_t>(base.size()), &out);
  out += base;
  const std::string hard_state = header.hard_state.SerializeAsString();
  put_u32(static_cast<std::uint32_t>(hard_state.size()), &out);
  out += hard_state;
  return out;
}

bool decode_segment_header(std::string_view payload, SegmentHeader* header, std::string* why) {
  Cursor c{payload};
  const auto magic = static_cast<std::uint32_t>(c.get(4));
  const auto version = static_cast<std::uint32_t>(c.get(4));
  header->seq = c.get(8);
  header->prev_last_index = c.get(8);
  const std::string_view base = c.take(c.get(4));
  const std::string_view hard_state = c.take(c.get(4));
  if (!c.ok || !c.data.empty()) {
    *why = "malformed segment header";
    return false;
  }
  if (magic != kSegmentMagic) {
    *why = "bad segment magic";
    return false;
  }
  if (version != kFormatVersion) {
    *why = "unsupported format version " + std::to_string(version);
    return false;
  }
  if (!decode_snapshot_metadata(base, &header->base) || !decode_hard_state(hard_state, &header->hard_state)) {
    *why = "malformed protobuf in segment header";
    return false;
  }
  if (header->base.index() > header->prev_last_index) {
    *why = "segment header snapshot index " + std::to_string(header->base.index()) + " is past its last index " +
           std::to_string(header->prev_last_index);
    return false;
  }
  return true;
}

bool decode_entry(std::string_view payload, pb::Entry* entry) {
  if (payload.size() > static_cast<std::size_t>(INT32_MAX)) return false;
  if (!entry->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return false;
  // Index 0 is "none"; an entry always has a real position.
  return entry->index() != 0 && pb::EntryType_IsValid(entry->type());
}

bool decode_hard_state(std::string_view payload, pb::HardState* state) {
  if (payload.size() > static_cast<std::size_t>(INT32_MAX)) return false;
  return state->ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

bool decode_snapshot_metadata(std::string_view payload, pb::SnapshotMetadata* metadata) {
  if (payload.size() > static_cast<std::size_t>(INT32_MAX)) return false;
  return metadata->ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

SegmentScan scan_segment(std::string_view data, bool open_segment) {
  SegmentScan scan;
  RecordReader reader(data);
  Record record;
  RecordReader::Outcome outcome;
  while ((outcome = reader.next(&record)) == RecordReader::Outcome::kRecord) scan.records.push_back(record);
  scan.valid_bytes = reader.offset();
  const std::string_view rest = data.substr(scan.valid_bytes);
  if (outcome == RecordReader::Outcome::kEnd) {
    if (rest.empty()) return scan;
    if (!open_segment) {
      scan.tail = SegmentScan::Tail::kCorrupt;
      scan.bad_offset = scan.valid_bytes;
      scan.reason = "closed segment has " + std::to_string(rest.size()) + " bytes of zeros after its last record";
      return scan;
    }
    if (all_zero(rest)) return scan;  // preallocated, never written
    scan.reason = "record header of zeros followed by data";
  } else {
    scan.reason = reader.reason();
  }
  scan.bad_offset = scan.valid_bytes;
  // A crash tears only the last write: nothing readable can follow it. A readable
  // record after the damage means acknowledged history is damaged.
  if (open_segment) {
    std::size_t last_nonzero = rest.size();
    while (last_nonzero > 0 && rest[last_nonzero - 1] == 0) --last_nonzero;
    for (std::uint64_t off = 1; off + kRecordHeaderBytes <= last_nonzero; ++off) {
      if (valid_record_at(data, scan.valid_bytes + off)) {
        scan.tail = SegmentScan::Tail::kCorrupt;
        scan.reason += "; a valid record follows at offset " + std::to_string(scan.valid_bytes + off);
        return scan;
      }
    }
    scan.tail = SegmentScan::Tail::kTorn;
    return scan;
  }
  scan.tail = SegmentScan::Tail::kCorrupt;
  return scan;
}

}  // namespace raft::storage
