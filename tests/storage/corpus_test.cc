// Fuzz regression inputs: every file under tests/storage/corpus/<target>/ goes
// through the same function as the libFuzzer target, in every build (gcc included).
// A crash found by fuzzing is fixed, then its input is added here.
//
// Regenerate the seed inputs (valid segments and payloads) with
//   storage_test --gtest_also_run_disabled_tests --gtest_filter='*WriteSeedCorpus*'
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "src/storage/record.h"
#include "src/storage/segment.h"
#include "tests/storage/fuzz/fuzz_targets.h"
#include "tests/storage/test_util.h"

#ifndef STORAGE_CORPUS_DIR
#error "STORAGE_CORPUS_DIR must name tests/storage/corpus"
#endif

namespace raft::storage {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> inputs(const std::string& target) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(fs::path(STORAGE_CORPUS_DIR) / target)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

TEST(CorpusTest, RecordReaderInputs) {
  const auto all = inputs("record_reader");
  ASSERT_GE(all.size(), 5u);
  for (const std::string& input : all) {
    fuzz::record_reader_one_input(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  }
}

TEST(CorpusTest, EntryDecodeInputs) {
  const auto all = inputs("entry_decode");
  ASSERT_GE(all.size(), 5u);
  for (const std::string& input : all) {
    fuzz::entry_decode_one_input(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  }
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(CorpusTest, DISABLED_WriteSeedCorpus) {
  const fs::path root(STORAGE_CORPUS_DIR);
  SegmentHeader header;
  header.seq = 1;
  std::string segment;
  append_record(RecordType::kSegmentHeader, encode_segment_header(header), &segment);
  write_file(root / "record_reader" / "header_only", segment);
  for (Index i = 1; i <= 4; ++i) {
    append_record(RecordType::kEntry, testing::make_entry(i, 1, 8 * i).SerializeAsString(), &segment);
  }
  append_record(RecordType::kHardState, testing::make_hard_state(1, 1, 3).SerializeAsString(), &segment);
  write_file(root / "record_reader" / "entries_and_hard_state", segment);
  write_file(root / "record_reader" / "preallocated_tail", segment + std::string(64, '\0'));
  write_file(root / "record_reader" / "torn_tail", segment.substr(0, segment.size() - 3));
  std::string truncating = segment;
  append_record(RecordType::kEntry, testing::make_entry(2, 2, 5).SerializeAsString(), &truncating);
  append_record(RecordType::kCompact, testing::make_point(1, 1).SerializeAsString(), &truncating);
  write_file(root / "record_reader" / "truncate_and_compact", truncating);
  std::string install = segment;
  append_record(RecordType::kInstallSnapshot, testing::make_point(10, 3).SerializeAsString(), &install);
  append_record(RecordType::kEntry, testing::make_entry(11, 3, 4).SerializeAsString(), &install);
  write_file(root / "record_reader" / "install_snapshot", install);
  std::string flipped = segment;
  flipped[20] ^= 1;
  write_file(root / "record_reader" / "flipped_bit", flipped);
  write_file(root / "record_reader" / "empty", "");

  write_file(root / "entry_decode" / "entry", testing::make_entry(7, 2, 30).SerializeAsString());
  pb::Entry conf = testing::make_entry(8, 2, 0);
  conf.set_type(pb::ENTRY_CONF_CHANGE);
  write_file(root / "entry_decode" / "conf_change_entry", conf.SerializeAsString());
  write_file(root / "entry_decode" / "hard_state", testing::make_hard_state(4, 2, 9).SerializeAsString());
  write_file(root / "entry_decode" / "snapshot_metadata", testing::make_point(100, 5).SerializeAsString());
  write_file(root / "entry_decode" / "segment_header", encode_segment_header(header));
  write_file(root / "entry_decode" / "empty", "");
  write_file(root / "entry_decode" / "bad_varint", std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11));
}

}  // namespace
}  // namespace raft::storage
