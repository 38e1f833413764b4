#include "src/transport/codec.h"

#include <cstdint>

namespace raft::transport {

namespace {

// Wire-format tags of MessageBatch (see proto/raft.proto): field 1 varint, field 2
// length-delimited.
constexpr char kClusterIdTag = (1 << 3) | 0;
constexpr char kMessagesTag = (2 << 3) | 2;

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

DecodeFailure failure(DecodeError error, std::string detail, std::uint64_t cluster_id = 0) {
  return DecodeFailure{error, std::move(detail), cluster_id};
}

// Checks shared by both endpoints: sender, cluster, recipient.
std::optional<DecodeFailure> check_envelope(const pb::Message& m, const DecodeLimits& limits) {
  if (m.cluster_id() != limits.cluster_id) {
    return failure(DecodeError::kForeignCluster,
                   "message of cluster " + std::to_string(m.cluster_id()) + ", this is cluster " +
                       std::to_string(limits.cluster_id),
                   m.cluster_id());
  }
  if (m.from() == 0 || m.to() == 0)
    return failure(DecodeError::kInvalidMessage, "message without sender or recipient");
  if (limits.local_id != 0 && m.to() != limits.local_id) {
    return failure(DecodeError::kMisdirected, "message for node " + std::to_string(m.to()) +
                                                  ", this is node " +
                                                  std::to_string(limits.local_id));
  }
  return std::nullopt;
}

// Protobuf parses at most 2 GiB at once; a limit configured above that still stops there.
std::optional<DecodeFailure> check_size(std::string_view body, const DecodeLimits& limits) {
  if (body.size() <= limits.max_body_bytes && body.size() <= static_cast<std::size_t>(INT32_MAX))
    return std::nullopt;
  return failure(DecodeError::kTooLarge, std::to_string(body.size()) + " bytes, limit " +
                                             std::to_string(limits.max_body_bytes));
}

}  // namespace

const char* to_string(DecodeError error) {
  switch (error) {
    case DecodeError::kTooLarge: return "body too large";
    case DecodeError::kMalformed: return "malformed body";
    case DecodeError::kEmpty: return "empty batch";
    case DecodeError::kInvalidMessage: return "invalid message";
    case DecodeError::kForeignCluster: return "foreign cluster";
    case DecodeError::kMisdirected: return "misdirected message";
  }
  return "unknown";
}

unsigned http_status(DecodeError error) {
  switch (error) {
    case DecodeError::kTooLarge: return 413;
    case DecodeError::kForeignCluster: return 403;
    case DecodeError::kMisdirected: return 421;
    case DecodeError::kMalformed:
    case DecodeError::kEmpty:
    case DecodeError::kInvalidMessage: return 400;
  }
  return 400;
}

std::optional<std::string> encode_batch_element(const pb::Message& message,
                                                std::uint64_t max_bytes) {
  const std::size_t size = message.ByteSizeLong();
  // Protobuf refuses to serialize 2 GiB and more; the limit is far below anyway.
  if (size > max_bytes || size > static_cast<std::size_t>(INT32_MAX)) return std::nullopt;
  std::string out;
  out.reserve(1 + 10 + size);
  out.push_back(kMessagesTag);
  append_varint(out, size);
  const std::size_t head = out.size();
  out.resize(head + size);
  // ByteSizeLong() above cached the sizes this call relies on.
  message.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data() + head));
  return out;
}

std::string encode_batch_head(std::uint64_t cluster_id) {
  std::string out;
  if (cluster_id == 0) return out;  // proto3 omits default values
  out.push_back(kClusterIdTag);
  append_varint(out, cluster_id);
  return out;
}

std::string encode_batch(std::uint64_t cluster_id, std::vector<pb::Message> messages) {
  std::string body = encode_batch_head(cluster_id);
  for (pb::Message& m : messages) {
    m.set_cluster_id(cluster_id);
    body += encode_batch_element(m, UINT64_MAX).value();
  }
  return body;
}

Decoded<std::vector<pb::Message>> decode_batch(std::string_view body, const DecodeLimits& limits) {
  if (auto too_large = check_size(body, limits)) return std::move(*too_large);
  pb::MessageBatch batch;
  if (!batch.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return failure(DecodeError::kMalformed, "body is not a MessageBatch");
  }
  if (batch.messages_size() == 0) return failure(DecodeError::kEmpty, "batch without messages");
  if (batch.cluster_id() != limits.cluster_id) {
    return failure(DecodeError::kForeignCluster,
                   "batch of cluster " + std::to_string(batch.cluster_id()) + ", this is cluster " +
                       std::to_string(limits.cluster_id),
                   batch.cluster_id());
  }
  for (const pb::Message& m : batch.messages()) {
    if (auto bad = check_envelope(m, limits)) return std::move(*bad);
    if (m.body_case() == pb::Message::BODY_NOT_SET)
      return failure(DecodeError::kInvalidMessage, "message without a body");
    if (m.has_snapshot_request()) {
      return failure(DecodeError::kInvalidMessage,
                     "snapshot requests stream on " + std::string(kSnapshotPath));
    }
  }
  std::vector<pb::Message> messages;
  messages.reserve(static_cast<std::size_t>(batch.messages_size()));
  for (pb::Message& m : *batch.mutable_messages()) messages.push_back(std::move(m));
  return messages;
}

std::string encode_snapshot_chunk(const pb::Message& chunk) {
  return chunk.SerializeAsString();
}

Decoded<pb::Message> decode_snapshot_chunk(std::string_view body, const DecodeLimits& limits) {
  if (auto too_large = check_size(body, limits)) return std::move(*too_large);
  pb::Message message;
  if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return failure(DecodeError::kMalformed, "body is not a Message");
  }
  if (!message.has_snapshot_request())
    return failure(DecodeError::kMalformed, "message is not a snapshot chunk");
  if (auto bad = check_envelope(message, limits)) return std::move(*bad);
  const pb::SnapshotRequest& chunk = message.snapshot_request();
  const std::uint64_t size = chunk.metadata().size_bytes();
  const std::uint64_t length = chunk.data().size();
  if (chunk.metadata().index() == 0)
    return failure(DecodeError::kInvalidMessage, "snapshot without an index");
  // Written so that no sum can overflow: offset <= size and length <= size - offset.
  if (chunk.offset() > size || length > size - chunk.offset()) {
    return failure(DecodeError::kInvalidMessage, "chunk beyond the snapshot's size");
  }
  if (chunk.done() && chunk.offset() + length != size) {
    return failure(DecodeError::kInvalidMessage, "last chunk ends before the snapshot's size");
  }
  return message;
}

}  // namespace raft::transport
