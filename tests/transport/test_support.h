// Test doubles and helpers shared by the transport tests: an in-memory snapshot
// store that verifies CRC-32C at commit like the real one, a handler that records
// what a transport delivers, message builders, and a blocking raw-socket HTTP
// client for feeding a server whatever bytes a test wants.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "raft/snapshot_store.h"
#include "raft/transport.h"

namespace raft::transport::testing {

using namespace std::chrono_literals;

// Keeps committed snapshots in memory. A writer created with a non-zero size or
// checksum verifies them at commit (throwing on a mismatch, keeping nothing).
class TestSnapshotStore final : public SnapshotStore {
 public:
  std::unique_ptr<SnapshotWriter> create(const pb::SnapshotMetadata& metadata) override;
  std::optional<pb::SnapshotMetadata> latest() const override;
  std::unique_ptr<SnapshotReader> open_latest() const override;

  std::string latest_data() const;
  // Fault injection for the next writers.
  std::atomic<bool> fail_writes{false};
  std::atomic<bool> fail_commits{false};
  // Writers created and not yet destroyed (an aborted transfer must not leak one).
  std::atomic<int> open_writers{0};

 private:
  friend class TestSnapshotWriter;
  mutable std::mutex mutex_;
  std::optional<pb::SnapshotMetadata> latest_;
  std::string data_;
};

// Reads a snapshot from a string; `metadata` is used as given (tests lie in it).
class StringSnapshotReader final : public SnapshotReader {
 public:
  StringSnapshotReader(pb::SnapshotMetadata metadata, std::string data);
  const pb::SnapshotMetadata& metadata() const override { return metadata_; }
  std::size_t read(char* buffer, std::size_t n) override;

 private:
  pb::SnapshotMetadata metadata_;
  std::string data_;
  std::size_t offset_ = 0;
};

// Metadata with the true size and CRC-32C of `data`.
pb::SnapshotMetadata metadata_for(Index index, Term term, const std::string& data);
// Bytes that are not all alike, so a misplaced chunk shows.
std::string pattern(std::size_t size, unsigned seed = 1);

// Records what a transport delivers. Thread-safe.
class Collector final : public TransportHandler {
 public:
  void on_messages(std::vector<pb::Message>&& messages) override;
  std::unique_ptr<SnapshotWriter> on_snapshot_begin(const pb::Message& request) override;
  void on_snapshot_received(pb::Message&& request) override;

  bool wait_for_messages(std::size_t count, std::chrono::milliseconds limit = 5s);
  bool wait_for_snapshots(std::size_t count, std::chrono::milliseconds limit = 5s);
  std::vector<pb::Message> messages() const;
  std::vector<pb::Message> snapshots() const;
  std::size_t deliveries() const;  // on_messages calls
  std::size_t calls() const;       // all handler calls
  // Threads the handler was called on.
  std::vector<std::thread::id> threads() const;

  TestSnapshotStore store;
  std::atomic<bool> refuse_snapshots{false};

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<pb::Message> messages_;
  std::vector<pb::Message> snapshots_;
  std::size_t deliveries_ = 0;
  std::size_t calls_ = 0;
  std::vector<std::thread::id> threads_;
};

pb::Message heartbeat(NodeId from, NodeId to, Term term);
pb::Message append(NodeId from, NodeId to, Term term, std::size_t entry_bytes);
pb::Message snapshot_request(NodeId from, NodeId to, const pb::SnapshotMetadata& metadata);

// Polls `condition` until true or `limit` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 5s);

// A done callback for send_snapshot and the future of its outcome.
struct DoneProbe {
  std::shared_ptr<std::promise<bool>> promise = std::make_shared<std::promise<bool>>();
  std::future<bool> future = promise->get_future();
  std::function<void(bool)> callback() {
    return [p = promise](bool delivered) { p->set_value(delivered); };
  }
  // The outcome, or nullopt if none came within `limit`.
  std::optional<bool> wait(std::chrono::milliseconds limit = 10s);
};

// --- Raw sockets ------------------------------------------------------------

// A blocking TCP connection to 127.0.0.1:port, or -1.
int connect_loopback(std::uint16_t port);
// Connects to 127.0.0.1:port, writes `bytes`, and reads until the server closes the
// connection or `limit` passes. Returns what was read.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds limit = 2s);
// The status code at the start of an HTTP response, 0 if there is none.
int status_of(const std::string& response);
// Sends one request with "Connection: close" and returns the response's status, 0
// if the server closed without answering.
int http_status(std::uint16_t port, const std::string& method, const std::string& path,
                const std::string& body,
                const std::string& content_type = "application/x-protobuf");
// A POST with a protobuf body, as raw request bytes.
std::string post_bytes(const std::string& path, const std::string& body, bool close = true);

// A TCP listener that accepts and records bytes but never answers: shows what a
// client writes without waiting for responses.
class SilentServer {
 public:
  SilentServer();
  ~SilentServer();
  std::uint16_t port() const { return port_; }
  std::string received() const;

 private:
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string received_;
};

// A port nothing listens on (bound, then closed).
std::uint16_t unused_port();

}  // namespace raft::transport::testing
