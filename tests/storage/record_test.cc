// Record framing (src/storage/record.h): many small cases, each about one rule.
// Records are views into the buffer read, so every buffer is a named local here.
#include <gtest/gtest.h>

#include "src/storage/record.h"
#include "src/util/crc32c.h"

namespace raft::storage {
namespace {

std::string framed(RecordType type, std::string_view payload) {
  std::string out;
  append_record(type, payload, &out);
  return out;
}

std::vector<Record> read_all(std::string_view data, RecordReader::Outcome* last = nullptr) {
  RecordReader reader(data);
  std::vector<Record> out;
  Record record;
  RecordReader::Outcome outcome;
  while ((outcome = reader.next(&record)) == RecordReader::Outcome::kRecord) out.push_back(record);
  if (last) *last = outcome;
  return out;
}

TEST(RecordTest, EmptyBufferIsEnd) {
  RecordReader::Outcome outcome;
  EXPECT_TRUE(read_all("", &outcome).empty());
  EXPECT_EQ(outcome, RecordReader::Outcome::kEnd);
}

TEST(RecordTest, HeaderIsNineBytes) { EXPECT_EQ(framed(RecordType::kEntry, "").size(), kRecordHeaderBytes); }

TEST(RecordTest, RoundTripOneRecord) {
  const std::string data = framed(RecordType::kHardState, "hello");
  const auto records = read_all(data);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, RecordType::kHardState);
  EXPECT_EQ(records[0].payload, "hello");
  EXPECT_EQ(records[0].offset, 0u);
}

TEST(RecordTest, EmptyPayloadRoundTrips) {
  const std::string data = framed(RecordType::kEntry, "");
  const auto records = read_all(data);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].payload.empty());
}

TEST(RecordTest, ManyRecordsKeepOrderAndOffsets) {
  std::string data;
  for (int i = 0; i < 100; ++i) append_record(RecordType::kEntry, std::string(static_cast<std::size_t>(i), 'x'), &data);
  const auto records = read_all(data);
  ASSERT_EQ(records.size(), 100u);
  std::uint64_t offset = 0;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(records[i].payload.size(), static_cast<std::size_t>(i));
    EXPECT_EQ(records[i].offset, offset);
    offset += records[i].size();
  }
}

TEST(RecordTest, LargePayloadRoundTrips) {
  const std::string big(3 << 20, 'q');
  const std::string data = framed(RecordType::kEntry, big);
  const auto records = read_all(data);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].payload, big);
}

TEST(RecordTest, CrcIsMaskedCrcOfLengthTypeAndPayload) {
  const std::string data = framed(RecordType::kEntry, "abc");
  const std::uint32_t stored = static_cast<std::uint8_t>(data[0]) | static_cast<std::uint8_t>(data[1]) << 8 |
                               static_cast<std::uint8_t>(data[2]) << 16 |
                               static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[3])) << 24;
  EXPECT_EQ(util::unmask_crc(stored), util::crc32c(data.data() + 4, data.size() - 4));
}

TEST(RecordTest, ZerosAfterRecordsAreEnd) {
  std::string data = framed(RecordType::kEntry, "a") + std::string(4096, '\0');
  RecordReader::Outcome outcome;
  EXPECT_EQ(read_all(data, &outcome).size(), 1u);
  EXPECT_EQ(outcome, RecordReader::Outcome::kEnd);
}

TEST(RecordTest, FewZerosShorterThanAHeaderAreEnd) {
  RecordReader::Outcome outcome;
  read_all(framed(RecordType::kEntry, "a") + std::string(3, '\0'), &outcome);
  EXPECT_EQ(outcome, RecordReader::Outcome::kEnd);
}

TEST(RecordTest, TruncatedHeaderIsBad) {
  const std::string data = framed(RecordType::kEntry, "abc").substr(0, 5);
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
  EXPECT_EQ(reader.offset(), 0u);
  EXPECT_NE(reader.reason().find("truncated"), std::string::npos);
}

TEST(RecordTest, TruncatedPayloadIsBad) {
  const std::string data = framed(RecordType::kEntry, "abcdef");
  RecordReader reader(std::string_view(data).substr(0, data.size() - 1));
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
  EXPECT_NE(reader.reason().find("past the end"), std::string::npos);
}

TEST(RecordTest, FlippedPayloadBitIsBad) {
  std::string data = framed(RecordType::kEntry, "abcdef");
  data[kRecordHeaderBytes + 2] ^= 0x10;
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
  EXPECT_EQ(reader.reason(), "checksum mismatch");
}

TEST(RecordTest, FlippedCrcBitIsBad) {
  std::string data = framed(RecordType::kEntry, "abcdef");
  data[1] ^= 0x01;
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
}

TEST(RecordTest, FlippedTypeToAnotherValidTypeIsBad) {
  std::string data = framed(RecordType::kEntry, "abcdef");
  data[8] = static_cast<char>(RecordType::kHardState);
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
  EXPECT_EQ(reader.reason(), "checksum mismatch");
}

TEST(RecordTest, UnknownTypeIsBad) {
  std::string data = framed(RecordType::kEntry, "abcdef");
  data[8] = 99;
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
  EXPECT_NE(reader.reason().find("unknown record type"), std::string::npos);
}

TEST(RecordTest, LengthThatShrinksIsCaughtByCrc) {
  std::string data = framed(RecordType::kEntry, "abcdef") + framed(RecordType::kEntry, "x");
  data[4] = 3;  // claims 3 bytes of payload
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
}

TEST(RecordTest, HugeLengthIsBad) {
  std::string data = framed(RecordType::kEntry, "abcdef");
  data[7] = static_cast<char>(0x7f);
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
}

TEST(RecordTest, BadRecordAfterGoodOnesReportsItsOffset) {
  std::string data = framed(RecordType::kEntry, "one") + framed(RecordType::kEntry, "two");
  const std::uint64_t second = framed(RecordType::kEntry, "one").size();
  data[second + kRecordHeaderBytes] ^= 1;
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kRecord);
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
  EXPECT_EQ(reader.offset(), second);
}

TEST(RecordTest, ReaderStaysOnBadRecord) {
  std::string data = framed(RecordType::kEntry, "one");
  data[10] ^= 1;
  RecordReader reader(data);
  Record record;
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
  EXPECT_EQ(reader.next(&record), RecordReader::Outcome::kBad);
  EXPECT_EQ(reader.offset(), 0u);
}

TEST(RecordTest, ValidRecordAtFindsRecordInsideBuffer) {
  const std::string data = std::string(5, '\x55') + framed(RecordType::kEntry, "xyz");
  EXPECT_FALSE(valid_record_at(data, 0));
  EXPECT_TRUE(valid_record_at(data, 5));
  EXPECT_FALSE(valid_record_at(data, 6));
  EXPECT_FALSE(valid_record_at(data, data.size() + 1));
}

TEST(RecordTest, TypeNamesAreDistinct) {
  EXPECT_STREQ(to_string(RecordType::kEntry), "entry");
  EXPECT_STREQ(to_string(RecordType::kCompact), "compact");
  EXPECT_STREQ(to_string(RecordType::kInstallSnapshot), "install-snapshot");
}

}  // namespace
}  // namespace raft::storage
