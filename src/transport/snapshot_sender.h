// Streaming one snapshot to a peer: the data is read from the node's SnapshotReader
// in chunks (on the disk thread) and posted to /raft/snapshot one request per chunk,
// each waiting for its answer (204 for a chunk, 200 once the last one is committed).
// A transfer has a connection of its own so that megabytes of snapshot never queue
// ahead of the heartbeats on the peer's message connection. Any failure ends the
// transfer with done(false); the node's core then retries with a fresh snapshot
// later, so nothing resumes or retries here.
//
// Threading: run() and cancel() on the io thread.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "raft/snapshot_store.h"
#include "src/transport/connector.h"
#include "src/transport/counters.h"
#include "src/transport/log.h"
#include "src/transport/snapshot_done.h"

namespace raft::transport {

struct SnapshotSenderOptions {
  std::size_t chunk_bytes = 1 << 20;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds response_timeout{10000};  // the answer to a chunk
  std::chrono::milliseconds commit_timeout{60000};    // the answer to the last chunk
};

class SnapshotSender : public std::enable_shared_from_this<SnapshotSender> {
 public:
  // `request`: the core's SnapshotRequest message, stamped with the cluster id.
  // `disk` runs the reader's reads. REQUIRES: `data` non-null.
  SnapshotSender(boost::asio::io_context& io, boost::asio::any_io_executor disk,
                 std::string address, pb::Message request, std::unique_ptr<SnapshotReader> data,
                 std::shared_ptr<SnapshotDone> done, SnapshotSenderOptions options,
                 std::shared_ptr<Counters> counters, Logger log);
  ~SnapshotSender();

  // Streams the snapshot, then calls done.
  boost::asio::awaitable<void> run();
  // Aborts the transfer (its socket closes; done(false) follows). io thread.
  void cancel();

 private:
  boost::asio::awaitable<bool> stream_chunks();

  boost::asio::any_io_executor disk_;
  const std::string address_;
  pb::Message request_;
  std::shared_ptr<SnapshotReader> data_;  // shared with the disk thread's reads
  const SnapshotSenderOptions options_;
  const std::shared_ptr<Counters> counters_;
  const Logger log_;
  boost::beast::tcp_stream stream_;
  Connector connector_;
  std::atomic<bool> cancelled_{false};
  const std::shared_ptr<SnapshotDone> done_;
};

}  // namespace raft::transport
