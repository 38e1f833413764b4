#include "src/transport/snapshot_assembler.h"

#include <exception>

#include "src/util/crc32c.h"

namespace raft::transport {

namespace {

bool same_snapshot(const pb::SnapshotMetadata& a, const pb::SnapshotMetadata& b) {
  return a.index() == b.index() && a.term() == b.term() && a.size_bytes() == b.size_bytes() &&
         a.crc32c() == b.crc32c();
}

std::string describe(const SnapshotAssembler::Outcome& outcome, NodeId from, Index index) {
  return "snapshot " + std::to_string(index) + " from node " + std::to_string(from) + ": " +
         outcome.reason;
}

}  // namespace

SnapshotAssembler::SnapshotAssembler(SnapshotAssemblerOptions options, Logger log)
    : options_(options), log_(std::move(log)) {}

SnapshotAssembler::~SnapshotAssembler() = default;

void SnapshotAssembler::clear() {
  transfers_.clear();
}

void SnapshotAssembler::abandon(std::uint64_t connection) {
  std::erase_if(transfers_,
                [&](const auto& entry) { return entry.second.connection == connection; });
}

void SnapshotAssembler::expire_idle(Clock::time_point now) {
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (now - it->second.last_chunk > options_.idle_timeout) {
      log_("abandoned snapshot " + std::to_string(it->first.second) + " from node " +
           std::to_string(it->first.first) + ": no chunk for too long");
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
}

SnapshotAssembler::Outcome SnapshotAssembler::begin(const Key& key, const pb::Message& header,
                                                    TransportHandler& handler,
                                                    Clock::time_point now,
                                                    std::uint64_t connection) {
  // A sender streams one snapshot at a time: a new start supersedes all of its others.
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    it = it->first.first == key.first ? transfers_.erase(it) : std::next(it);
  }
  if (transfers_.size() >= options_.max_in_progress) return {503, "too many snapshots in progress"};
  std::unique_ptr<SnapshotWriter> writer = handler.on_snapshot_begin(header);
  if (!writer) return {503, "the node refused the snapshot"};
  Transfer& transfer = transfers_[key];
  transfer.writer = std::move(writer);
  transfer.metadata = header.snapshot_request().metadata();
  transfer.last_chunk = now;
  transfer.connection = connection;
  return {204, "started"};
}

SnapshotAssembler::Outcome SnapshotAssembler::accept(pb::Message&& chunk, TransportHandler& handler,
                                                     Clock::time_point now,
                                                     std::uint64_t connection) {
  expire_idle(now);
  // Split the data off so `chunk` is the bare header the node's callbacks see.
  pb::SnapshotRequest& request = *chunk.mutable_snapshot_request();
  const std::string data = std::move(*request.mutable_data());
  request.clear_data();
  const Key key{chunk.from(), request.metadata().index()};

  if (request.offset() == 0) {
    try {
      if (Outcome started = begin(key, chunk, handler, now, connection); started.status != 204) {
        log_(describe(started, key.first, key.second));
        return started;
      }
    } catch (const std::exception& e) {
      transfers_.erase(key);
      Outcome failed{500, std::string("cannot start the snapshot: ") + e.what()};
      log_(describe(failed, key.first, key.second));
      return failed;
    }
  }
  auto it = transfers_.find(key);
  if (it == transfers_.end()) return {409, "no transfer in progress (send offset 0 first)"};
  Transfer& transfer = it->second;
  if (request.offset() != transfer.next_offset) {
    Outcome out_of_order{409, "chunk at offset " + std::to_string(request.offset()) +
                                  ", expected " + std::to_string(transfer.next_offset)};
    transfers_.erase(it);  // the sender starts over from offset 0
    return out_of_order;
  }
  if (!same_snapshot(request.metadata(), transfer.metadata)) {
    transfers_.erase(it);
    return {400, "chunk metadata differs from the first chunk's"};
  }

  try {
    transfer.writer->write(data.data(), data.size());
    transfer.crc32c = util::crc32c_extend(transfer.crc32c, data.data(), data.size());
    transfer.next_offset += data.size();
    transfer.last_chunk = now;
    transfer.connection = connection;
    if (!request.done()) return {204, "chunk accepted"};

    // decode_snapshot_chunk() guaranteed the last chunk ends at size_bytes.
    if (transfer.crc32c != transfer.metadata.crc32c()) {
      Outcome corrupt{400, "checksum mismatch: received data has crc32c " +
                               std::to_string(transfer.crc32c) + ", metadata says " +
                               std::to_string(transfer.metadata.crc32c())};
      transfers_.erase(it);  // aborts the writer: nothing is kept
      log_(describe(corrupt, key.first, key.second));
      return corrupt;
    }
    pb::SnapshotMetadata committed = transfer.writer->commit();
    transfers_.erase(it);
    *request.mutable_metadata() = std::move(committed);
    handler.on_snapshot_received(std::move(chunk));
    return {200, "snapshot committed"};
  } catch (const std::exception& e) {
    transfers_.erase(key);
    Outcome failed{500, std::string("snapshot not stored: ") + e.what()};
    log_(describe(failed, key.first, key.second));
    return failed;
  }
}

}  // namespace raft::transport
