// The wire codec: what a receiver accepts and with which status it refuses the rest,
// and that the sender's concatenated batches are real MessageBatch encodings. Ends
// with the replay of the fuzzing corpus (corpus/, see make_corpus.py).
#include "src/transport/codec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/transport/fuzz_decode.h"
#include "tests/transport/test_support.h"

namespace raft::transport {
namespace {

using testing::append;
using testing::heartbeat;
using testing::metadata_for;

constexpr DecodeLimits kLimits{1, 0, 1 << 20};

TEST(Codec, ConcatenatedElementsAreAMessageBatch) {
  std::vector<pb::Message> messages{heartbeat(1, 2, 3), append(1, 2, 3, 1000), heartbeat(1, 2, 4)};
  pb::MessageBatch reference;
  reference.set_cluster_id(1);
  std::string body = encode_batch_head(1);
  for (pb::Message& m : messages) {
    m.set_cluster_id(1);
    *reference.add_messages() = m;
    body += encode_batch_element(m, UINT64_MAX).value();
  }
  EXPECT_EQ(body, reference.SerializeAsString());
}

TEST(Codec, BatchRoundTrip) {
  const std::vector<pb::Message> sent{heartbeat(1, 2, 3), append(1, 2, 3, 5000)};
  Decoded<std::vector<pb::Message>> decoded = decode_batch(encode_batch(1, sent), kLimits);
  ASSERT_TRUE(decoded.ok()) << decoded.failure().detail;
  ASSERT_EQ(decoded.value().size(), 2u);
  EXPECT_EQ(decoded.value()[0].cluster_id(), 1u);
  EXPECT_EQ(decoded.value()[1].append_request().entries(0).data(),
            sent[1].append_request().entries(0).data());
}

TEST(Codec, ElementAboveTheLimitIsRefusedAtEncoding) {
  const pb::Message big = append(1, 2, 3, 10000);
  EXPECT_FALSE(encode_batch_element(big, 1000).has_value());
  EXPECT_TRUE(encode_batch_element(big, 20000).has_value());
}

DecodeError batch_error(const std::string& body, DecodeLimits limits = kLimits) {
  Decoded<std::vector<pb::Message>> decoded = decode_batch(body, limits);
  EXPECT_FALSE(decoded.ok());
  return decoded.ok() ? DecodeError::kMalformed : decoded.failure().error;
}

TEST(Codec, BatchRefusals) {
  EXPECT_EQ(batch_error("\xff\xff\xff garbage"), DecodeError::kMalformed);
  EXPECT_EQ(batch_error(encode_batch(1, {})), DecodeError::kEmpty);
  EXPECT_EQ(batch_error(encode_batch(2, {heartbeat(1, 2, 3)})), DecodeError::kForeignCluster);
  // A batch that claims this cluster but carries a message of another.
  pb::Message foreign = heartbeat(1, 2, 3);
  foreign.set_cluster_id(9);
  EXPECT_EQ(batch_error(encode_batch_head(1) + encode_batch_element(foreign, UINT64_MAX).value()),
            DecodeError::kForeignCluster);
  EXPECT_EQ(batch_error(encode_batch(1, {heartbeat(0, 2, 3)})), DecodeError::kInvalidMessage);
  EXPECT_EQ(batch_error(encode_batch(1, {heartbeat(1, 0, 3)})), DecodeError::kInvalidMessage);
  pb::Message no_body;
  no_body.set_from(1);
  no_body.set_to(2);
  EXPECT_EQ(batch_error(encode_batch(1, {no_body})), DecodeError::kInvalidMessage);
  pb::Message snapshot = testing::snapshot_request(1, 2, metadata_for(5, 1, "data"));
  EXPECT_EQ(batch_error(encode_batch(1, {snapshot})), DecodeError::kInvalidMessage);
  EXPECT_EQ(batch_error(encode_batch(1, {append(1, 2, 3, 2000)}), DecodeLimits{1, 0, 1000}),
            DecodeError::kTooLarge);
  EXPECT_EQ(batch_error(encode_batch(1, {heartbeat(1, 3, 3)}), DecodeLimits{1, 2, 1 << 20}),
            DecodeError::kMisdirected);
  EXPECT_TRUE(
      decode_batch(encode_batch(1, {heartbeat(1, 2, 3)}), DecodeLimits{1, 2, 1 << 20}).ok());
}

TEST(Codec, StatusCodes) {
  EXPECT_EQ(http_status(DecodeError::kTooLarge), 413u);
  EXPECT_EQ(http_status(DecodeError::kMalformed), 400u);
  EXPECT_EQ(http_status(DecodeError::kEmpty), 400u);
  EXPECT_EQ(http_status(DecodeError::kInvalidMessage), 400u);
  EXPECT_EQ(http_status(DecodeError::kForeignCluster), 403u);
  EXPECT_EQ(http_status(DecodeError::kMisdirected), 421u);
}

pb::Message chunk(std::uint64_t offset, const std::string& data, std::uint64_t size, bool done) {
  pb::Message m = testing::snapshot_request(1, 2, metadata_for(10, 2, std::string(size, 'x')));
  m.set_cluster_id(1);
  pb::SnapshotRequest& request = *m.mutable_snapshot_request();
  request.set_offset(offset);
  request.set_data(data);
  request.set_done(done);
  return m;
}

DecodeError chunk_error(const pb::Message& m, DecodeLimits limits = kLimits) {
  Decoded<pb::Message> decoded = decode_snapshot_chunk(encode_snapshot_chunk(m), limits);
  EXPECT_FALSE(decoded.ok());
  return decoded.ok() ? DecodeError::kMalformed : decoded.failure().error;
}

TEST(Codec, SnapshotChunks) {
  EXPECT_TRUE(
      decode_snapshot_chunk(encode_snapshot_chunk(chunk(0, "abcd", 10, false)), kLimits).ok());
  EXPECT_TRUE(
      decode_snapshot_chunk(encode_snapshot_chunk(chunk(6, "abcd", 10, true)), kLimits).ok());
  EXPECT_TRUE(decode_snapshot_chunk(encode_snapshot_chunk(chunk(0, "", 0, true)), kLimits).ok());

  EXPECT_EQ(chunk_error(chunk(8, "abcd", 10, false)),
            DecodeError::kInvalidMessage);  // past the end
  EXPECT_EQ(chunk_error(chunk(11, "", 10, false)),
            DecodeError::kInvalidMessage);  // offset past the end
  EXPECT_EQ(chunk_error(chunk(0, "abcd", 10, true)),
            DecodeError::kInvalidMessage);  // last chunk ends early
  EXPECT_EQ(chunk_error(chunk(UINT64_MAX - 1, "abcd", 10, false)),
            DecodeError::kInvalidMessage);  // overflow
  pb::Message foreign = chunk(0, "abcd", 10, false);
  foreign.set_cluster_id(3);
  EXPECT_EQ(chunk_error(foreign), DecodeError::kForeignCluster);
  pb::Message no_index = chunk(0, "abcd", 10, false);
  no_index.mutable_snapshot_request()->mutable_metadata()->set_index(0);
  EXPECT_EQ(chunk_error(no_index), DecodeError::kInvalidMessage);
  pb::Message not_a_chunk = heartbeat(1, 2, 3);
  not_a_chunk.set_cluster_id(1);
  EXPECT_EQ(chunk_error(not_a_chunk), DecodeError::kMalformed);
  EXPECT_EQ(chunk_error(chunk(0, std::string(2000, 'a'), 4000, false), DecodeLimits{1, 0, 1000}),
            DecodeError::kTooLarge);
  EXPECT_EQ(chunk_error(chunk(0, "abcd", 10, false), DecodeLimits{1, 5, 1 << 20}),
            DecodeError::kMisdirected);
}

// --- Corpus replay ------------------------------------------------------------

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(Codec, CorpusReplaysWithoutCrashAndAsExpected) {
  const std::filesystem::path directory = RAFT_TRANSPORT_CORPUS_DIR;
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    const std::string body = read_file(entry.path());
    SCOPED_TRACE(name);
    ++files;
    testing::fuzz_decode(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
    const auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
    if (starts("batch_ok_")) {
      EXPECT_TRUE(decode_batch(body, kLimits).ok());
    } else if (starts("batch_err_")) {
      EXPECT_FALSE(decode_batch(body, kLimits).ok());
    } else if (starts("chunk_ok_")) {
      EXPECT_TRUE(decode_snapshot_chunk(body, kLimits).ok());
    } else if (starts("chunk_err_")) {
      EXPECT_FALSE(decode_snapshot_chunk(body, kLimits).ok());
    }
  }
  EXPECT_GE(files, 20u) << "corpus missing from " << directory;
}

}  // namespace
}  // namespace raft::transport
