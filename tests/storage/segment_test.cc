// Segment names, headers and the torn-versus-corrupt decision (src/storage/segment.h).
#include <gtest/gtest.h>

#include "src/storage/segment.h"

namespace raft::storage {
namespace {

std::string rec(RecordType type, std::string_view payload) {
  std::string out;
  append_record(type, payload, &out);
  return out;
}

std::string three_records() {
  return rec(RecordType::kEntry, "first") + rec(RecordType::kEntry, "second") + rec(RecordType::kEntry, "third");
}

TEST(SegmentNameTest, OpenNameRoundTrips) {
  SegmentName name;
  name.seq = 42;
  name.open = true;
  EXPECT_EQ(segment_file_name(name), "wal-0000000042.open");
  const auto parsed = parse_segment_file_name("wal-0000000042.open");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->open);
  EXPECT_EQ(parsed->seq, 42u);
}

TEST(SegmentNameTest, ClosedNameCarriesIndexRange) {
  SegmentName name;
  name.seq = 3;
  name.open = false;
  name.first_index = 101;
  name.last_index = 200;
  const std::string file = segment_file_name(name);
  EXPECT_EQ(file, "wal-0000000003-00000000000000000101-00000000000000000200.closed");
  const auto parsed = parse_segment_file_name(file);
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->open);
  EXPECT_EQ(parsed->seq, 3u);
  EXPECT_EQ(parsed->first_index, 101u);
  EXPECT_EQ(parsed->last_index, 200u);
}

TEST(SegmentNameTest, ForeignNamesAreIgnored) {
  EXPECT_FALSE(parse_segment_file_name("LOCK"));
  EXPECT_FALSE(parse_segment_file_name("wal-.open"));
  EXPECT_FALSE(parse_segment_file_name("wal-12x.open"));
  EXPECT_FALSE(parse_segment_file_name("wal-1-2.closed"));
  EXPECT_FALSE(parse_segment_file_name("wal-1-2-3.closed.bak"));
  EXPECT_FALSE(parse_segment_file_name("wal--1-2-3.closed"));
}

TEST(SegmentNameTest, HugeSequenceNumbersParse) {
  const auto parsed = parse_segment_file_name("wal-18446744073709551615.open");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->seq, 18446744073709551615ull);
  EXPECT_FALSE(parse_segment_file_name("wal-18446744073709551616.open"));
}

TEST(SegmentHeaderTest, RoundTrips) {
  SegmentHeader header;
  header.seq = 9;
  header.prev_last_index = 77;
  header.base.set_index(50);
  header.base.set_term(4);
  header.base.mutable_configuration()->add_voters(3);
  header.hard_state.set_term(5);
  header.hard_state.set_vote(2);
  SegmentHeader decoded;
  std::string why;
  ASSERT_TRUE(decode_segment_header(encode_segment_header(header), &decoded, &why)) << why;
  EXPECT_EQ(decoded.seq, 9u);
  EXPECT_EQ(decoded.prev_last_index, 77u);
  EXPECT_EQ(decoded.base.index(), 50u);
  EXPECT_EQ(decoded.base.configuration().voters(0), 3u);
  EXPECT_EQ(decoded.hard_state.vote(), 2u);
}

TEST(SegmentHeaderTest, WrongMagicIsRejected) {
  std::string payload = encode_segment_header(SegmentHeader{});
  payload[0] ^= 1;
  SegmentHeader decoded;
  std::string why;
  EXPECT_FALSE(decode_segment_header(payload, &decoded, &why));
  EXPECT_EQ(why, "bad segment magic");
}

TEST(SegmentHeaderTest, FutureVersionIsRejected) {
  std::string payload = encode_segment_header(SegmentHeader{});
  payload[4] = 2;
  SegmentHeader decoded;
  std::string why;
  EXPECT_FALSE(decode_segment_header(payload, &decoded, &why));
  EXPECT_NE(why.find("version"), std::string::npos);
}

TEST(SegmentHeaderTest, TrailingBytesAreRejected) {
  SegmentHeader decoded;
  std::string why;
  EXPECT_FALSE(decode_segment_header(encode_segment_header(SegmentHeader{}) + "x", &decoded, &why));
}

TEST(SegmentHeaderTest, ShortPayloadIsRejected) {
  SegmentHeader decoded;
  std::string why;
  const std::string payload = encode_segment_header(SegmentHeader{});
  for (std::size_t n = 0; n < payload.size(); ++n) {
    EXPECT_FALSE(decode_segment_header(payload.substr(0, n), &decoded, &why)) << n;
  }
}

TEST(SegmentHeaderTest, SnapshotPastLastIndexIsRejected) {
  SegmentHeader header;
  header.prev_last_index = 5;
  header.base.set_index(6);
  SegmentHeader decoded;
  std::string why;
  EXPECT_FALSE(decode_segment_header(encode_segment_header(header), &decoded, &why));
}

TEST(DecodeTest, EntryWithIndexZeroIsRejected) {
  pb::Entry entry;
  entry.set_term(1);
  pb::Entry decoded;
  EXPECT_FALSE(decode_entry(entry.SerializeAsString(), &decoded));
  entry.set_index(1);
  EXPECT_TRUE(decode_entry(entry.SerializeAsString(), &decoded));
}

TEST(DecodeTest, GarbageEntryIsRejected) {
  pb::Entry decoded;
  EXPECT_FALSE(decode_entry("\xff\xff\xff", &decoded));
}

TEST(ScanTest, CleanSegmentEndsAtEof) {
  const SegmentScan scan = scan_segment(three_records(), false);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kClean);
  EXPECT_EQ(scan.records.size(), 3u);
  EXPECT_EQ(scan.valid_bytes, three_records().size());
}

TEST(ScanTest, OpenSegmentMayEndInZeros) {
  const SegmentScan scan = scan_segment(three_records() + std::string(1000, '\0'), true);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kClean);
  EXPECT_EQ(scan.records.size(), 3u);
}

TEST(ScanTest, ClosedSegmentMustNotEndInZeros) {
  const SegmentScan scan = scan_segment(three_records() + std::string(1000, '\0'), false);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kCorrupt);
  EXPECT_EQ(scan.bad_offset, three_records().size());
}

TEST(ScanTest, CutLastRecordOfOpenSegmentIsTorn) {
  const std::string data = three_records();
  const SegmentScan scan = scan_segment(data.substr(0, data.size() - 2) + std::string(64, '\0'), true);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kTorn);
  EXPECT_EQ(scan.records.size(), 2u);
  EXPECT_EQ(scan.bad_offset, scan.valid_bytes);
}

TEST(ScanTest, CutLastRecordOfClosedSegmentIsCorrupt) {
  const std::string data = three_records();
  const SegmentScan scan = scan_segment(data.substr(0, data.size() - 2), false);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kCorrupt);
}

TEST(ScanTest, DamageFollowedByAValidRecordIsCorruptEvenWhenOpen) {
  std::string data = three_records();
  data[kRecordHeaderBytes + 1] ^= 0x40;  // inside the first record
  const SegmentScan scan = scan_segment(data + std::string(64, '\0'), true);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kCorrupt);
  EXPECT_EQ(scan.bad_offset, 0u);
  EXPECT_NE(scan.reason.find("a valid record follows"), std::string::npos);
}

TEST(ScanTest, DamageInLastRecordOfOpenSegmentIsTorn) {
  std::string data = three_records();
  data[data.size() - 1] ^= 0x40;
  const SegmentScan scan = scan_segment(data + std::string(64, '\0'), true);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kTorn);
  EXPECT_EQ(scan.records.size(), 2u);
}

TEST(ScanTest, ZeroHoleFollowedByDataIsNotTheEnd) {
  // A header of zeros but data after it: a write whose first sector was lost.
  const std::string data = three_records() + std::string(kRecordHeaderBytes, '\0') + "\x01\x02";
  const SegmentScan scan = scan_segment(data, true);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kTorn);
  EXPECT_EQ(scan.records.size(), 3u);
}

TEST(ScanTest, ZeroHoleFollowedByAValidRecordIsCorrupt) {
  const std::string data = three_records() + std::string(32, '\0') + rec(RecordType::kEntry, "late");
  const SegmentScan scan = scan_segment(data, true);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kCorrupt);
}

TEST(ScanTest, EmptyOpenSegmentIsClean) {
  const SegmentScan scan = scan_segment(std::string(4096, '\0'), true);
  EXPECT_EQ(scan.tail, SegmentScan::Tail::kClean);
  EXPECT_TRUE(scan.records.empty());
}

}  // namespace
}  // namespace raft::storage
