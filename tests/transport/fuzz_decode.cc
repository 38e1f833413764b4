#include "tests/transport/fuzz_decode.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "src/transport/codec.h"

namespace raft::transport::testing {

namespace {

constexpr std::uint64_t kCluster = 1;

void require(bool condition, const char* property) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_decode: property violated: %s\n", property);
  std::abort();
}

void check_batch(std::string_view body, const DecodeLimits& limits) {
  Decoded<std::vector<pb::Message>> batch = decode_batch(body, limits);
  if (!batch.ok()) {
    const unsigned status = http_status(batch.failure().error);
    require(status >= 400 && status < 500, "a refused batch maps to a 4xx");
    return;
  }
  const std::vector<pb::Message>& messages = batch.value();
  require(!messages.empty(), "an accepted batch is not empty");
  for (const pb::Message& m : messages) {
    require(m.cluster_id() == kCluster, "accepted messages carry this cluster's id");
    require(m.from() != 0 && m.to() != 0, "accepted messages name sender and recipient");
    require(limits.local_id == 0 || m.to() == limits.local_id,
            "accepted messages are for this node");
    require(m.body_case() != pb::Message::BODY_NOT_SET, "accepted messages have a body");
    require(!m.has_snapshot_request(), "no snapshot request travels in a batch");
  }
  // What the sender's concatenation produces decodes to the same messages.
  const std::string again = encode_batch(kCluster, messages);
  Decoded<std::vector<pb::Message>> round_trip =
      decode_batch(again, DecodeLimits{kCluster, limits.local_id, UINT64_MAX});
  require(round_trip.ok(), "a re-encoded batch decodes");
  require(round_trip.value().size() == messages.size(), "a re-encoded batch keeps every message");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    require(round_trip.value()[i].SerializeAsString() == messages[i].SerializeAsString(),
            "a re-encoded batch keeps every message intact");
  }
}

void check_chunk(std::string_view body, const DecodeLimits& limits) {
  Decoded<pb::Message> chunk = decode_snapshot_chunk(body, limits);
  if (!chunk.ok()) {
    const unsigned status = http_status(chunk.failure().error);
    require(status >= 400 && status < 500, "a refused chunk maps to a 4xx");
    return;
  }
  const pb::Message& m = chunk.value();
  require(m.has_snapshot_request(), "an accepted chunk is a snapshot request");
  require(m.cluster_id() == kCluster && m.from() != 0 && m.to() != 0,
          "an accepted chunk has a valid envelope");
  const pb::SnapshotRequest& request = m.snapshot_request();
  const std::uint64_t size = request.metadata().size_bytes();
  require(request.metadata().index() != 0, "an accepted chunk names its snapshot");
  require(request.offset() <= size && request.data().size() <= size - request.offset(),
          "an accepted chunk lies inside the snapshot");
  require(!request.done() || request.offset() + request.data().size() == size,
          "a last chunk ends the snapshot");
  Decoded<pb::Message> round_trip = decode_snapshot_chunk(encode_snapshot_chunk(m), limits);
  require(round_trip.ok(), "a re-encoded chunk decodes");
}

}  // namespace

void fuzz_decode(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // Two receivers: one that checks the recipient id and one that does not; and a
  // body limit that small inputs can exceed, so the size check is exercised too.
  for (const DecodeLimits& limits :
       {DecodeLimits{kCluster, 0, 1 << 20}, DecodeLimits{kCluster, 2, 1 << 20},
        DecodeLimits{kCluster, 0, 64}}) {
    check_batch(body, limits);
    check_chunk(body, limits);
  }
}

}  // namespace raft::transport::testing
