// The wire format of the HTTP transport (docs/wire-protocol.md): request bodies are
// protobuf, a MessageBatch on /raft/messages and one snapshot-chunk Message on
// /raft/snapshot. Everything a peer sends passes through decode_batch() or
// decode_snapshot_chunk() before the node sees it, so every check that protects the
// node from a confused or hostile peer (size, cluster id, shape) lives here, is pure
// (no I/O, no state) and is what the fuzzer exercises. Errors are values that carry
// the HTTP status the receiver answers with.
//
// Sending builds batches by concatenation: each message is encoded once, on the
// caller's thread, as one element of MessageBatch.messages (field tag, length,
// bytes), and a batch body is the cluster-id field followed by those elements. That
// is byte for byte what MessageBatch::SerializeAsString() would produce, without
// re-encoding anything on the io thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "proto/raft.pb.h"
#include "raft/types.h"

namespace raft::transport {

inline constexpr std::string_view kMessagesPath = "/raft/messages";
// A chunked POST whose every chunk is one MessageBatch: how nodes send messages.
inline constexpr std::string_view kStreamPath = "/raft/stream";
inline constexpr std::string_view kSnapshotPath = "/raft/snapshot";
inline constexpr std::string_view kHealthPath = "/raft/health";
inline constexpr std::string_view kProtobufContentType = "application/x-protobuf";
// On a stream's header: the sender's own peer address, so that a receiver that does
// not know it (a removed member's, once the receiver restarted with a configuration
// that no longer names it) can still answer. Fills a gap only, never replaces an
// address the receiver was given.
inline constexpr std::string_view kSenderAddressHeader = "X-Raft-Sender-Address";

enum class DecodeError {
  kTooLarge,        // body above the limit (413)
  kMalformed,       // not the expected protobuf (400)
  kEmpty,           // a batch with no messages (400)
  kInvalidMessage,  // parses, but a message is unusable: no sender, no body... (400)
  kForeignCluster,  // another cluster's message (403)
  kMisdirected,     // addressed to another node id than this one (421)
};

const char* to_string(DecodeError error);
// The status code a receiver answers a request that failed to decode with.
unsigned http_status(DecodeError error);

struct DecodeFailure {
  DecodeError error = DecodeError::kMalformed;
  std::string detail;            // for the log and the response body
  std::uint64_t cluster_id = 0;  // with kForeignCluster: the sender's cluster id
};

// A decoded value or why decoding failed.
template <typename T>
class Decoded {
 public:
  Decoded(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Decoded(DecodeFailure failure) : state_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT
  bool ok() const { return state_.index() == 0; }
  T& value() { return std::get<0>(state_); }
  const DecodeFailure& failure() const { return std::get<1>(state_); }

 private:
  std::variant<T, DecodeFailure> state_;
};

// What a receiver accepts.
struct DecodeLimits {
  std::uint64_t cluster_id = 0;      // REQUIRES: non-zero; messages must carry exactly this
  NodeId local_id = 0;               // non-zero: messages must be addressed to it
  std::uint64_t max_body_bytes = 0;  // REQUIRES: non-zero
};

// --- Messages --------------------------------------------------------------

// `message` as one element of MessageBatch.messages (tag, length, bytes), or
// nullopt when its encoding would exceed `max_bytes`. The caller stamps the
// message's cluster id first.
std::optional<std::string> encode_batch_element(const pb::Message& message,
                                                std::uint64_t max_bytes);
// The start of a MessageBatch body: its cluster_id field. Elements follow.
std::string encode_batch_head(std::uint64_t cluster_id);
// A whole MessageBatch body (stamps every message with `cluster_id`); for tests and
// the fuzzer, the transport itself concatenates elements.
std::string encode_batch(std::uint64_t cluster_id, std::vector<pb::Message> messages);

// A /raft/messages body. Accepts a non-empty batch whose cluster id and every
// message's cluster id equal limits.cluster_id, whose messages each name a sender
// and a recipient (limits.local_id when set) and carry a body, and hold no
// SnapshotRequest (those stream on /raft/snapshot: a bare one would make the core
// install a snapshot whose data never arrived).
Decoded<std::vector<pb::Message>> decode_batch(std::string_view body, const DecodeLimits& limits);

// --- Snapshot chunks ------------------------------------------------------

// A /raft/snapshot body: a Message carrying a SnapshotRequest with metadata (size and
// crc32c of the whole data), the chunk's offset and data, and `done` on the last one.
std::string encode_snapshot_chunk(const pb::Message& chunk);

// Accepts a Message from a named sender, of this cluster (and to limits.local_id
// when set), with a SnapshotRequest whose chunk lies inside metadata.size_bytes, and
// whose last chunk ends exactly there. Ordering against earlier chunks is the
// receiver's business (SnapshotAssembler).
Decoded<pb::Message> decode_snapshot_chunk(std::string_view body, const DecodeLimits& limits);

}  // namespace raft::transport
