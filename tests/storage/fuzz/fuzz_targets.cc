#include "tests/storage/fuzz/fuzz_targets.h"

#include <cstdlib>
#include <memory>
#include <string_view>

#include "src/storage/fault_injection_env.h"
#include "src/storage/segment.h"
#include "src/storage/wal_image.h"

namespace raft::storage::fuzz {

namespace {

void decode_payload(const Record& record) {
  pb::Entry entry;
  pb::HardState state;
  pb::SnapshotMetadata metadata;
  SegmentHeader header;
  std::string why;
  switch (record.type) {
    case RecordType::kEntry: decode_entry(record.payload, &entry); break;
    case RecordType::kHardState: decode_hard_state(record.payload, &state); break;
    case RecordType::kCompact:
    case RecordType::kInstallSnapshot:
    case RecordType::kSnapshotMetadata: decode_snapshot_metadata(record.payload, &metadata); break;
    case RecordType::kSegmentHeader: decode_segment_header(record.payload, &header, &why); break;
    case RecordType::kZero: std::abort();  // the reader never returns one
  }
}

}  // namespace

int record_reader_one_input(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (bool open : {true, false}) {
    const SegmentScan scan = scan_segment(bytes, open);
    if (scan.valid_bytes > size) std::abort();
    std::uint64_t offset = 0;
    for (const Record& record : scan.records) {
      if (record.offset != offset) std::abort();  // records are contiguous
      offset += record.size();
      decode_payload(record);
    }
    if (offset != scan.valid_bytes) std::abort();
    if (!open && scan.tail == SegmentScan::Tail::kTorn) std::abort();
  }
  FaultInjectionEnv env;
  env.create_dir("/wal");
  env.set_contents("/wal/wal-0000000001.open", std::string(bytes));
  Result<WalImage> image = read_wal(env, "/wal");
  if (image.ok()) {
    const WalImage& wal = image.value();
    for (const EntryLocation& location : wal.locations) {
      if (location.offset + record_bytes(location.payload_bytes) > size) std::abort();
    }
  }
  return 0;
}

int entry_decode_one_input(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  pb::Entry entry;
  if (decode_entry(bytes, &entry)) {
    pb::Entry again;
    if (!decode_entry(entry.SerializeAsString(), &again)) std::abort();
    if (again.index() != entry.index() || again.term() != entry.term() || again.data() != entry.data() ||
        again.type() != entry.type()) {
      std::abort();
    }
  }
  pb::HardState state;
  decode_hard_state(bytes, &state);
  pb::SnapshotMetadata metadata;
  decode_snapshot_metadata(bytes, &metadata);
  SegmentHeader header;
  std::string why;
  if (decode_segment_header(bytes, &header, &why)) {
    SegmentHeader again;
    if (!decode_segment_header(encode_segment_header(header), &again, &why)) std::abort();
  }
  return 0;
}

}  // namespace raft::storage::fuzz
