#include "src/transport/http_peer_transport.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <cstdio>
#include <stdexcept>

namespace raft::transport {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr char kProtobuf[] = "application/x-protobuf";

http::Response empty_response(bhttp::status status) {
  http::Response response{status, 11};
  response.prepare_payload();
  return response;
}

http::Response error(bhttp::status status, const std::string& why) {
  return http::json_response(status, "{\"error\":\"" + why + "\"}");
}

std::pair<std::string, std::uint16_t> split(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("bad address '" + address + "'");
  return {address.substr(0, colon), static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)))};
}

}  // namespace

HttpPeerTransport::HttpPeerTransport(HttpTransportOptions options) : options_(std::move(options)) {}

HttpPeerTransport::~HttpPeerTransport() { stop(); }

void HttpPeerTransport::start(TransportHandler* handler) {
  handler_ = handler;
  const auto [host, port] = split(options_.listen_address);
  http::ServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  server_options.body_limit_bytes = options_.max_body_bytes;
  server_options.read_timeout = std::chrono::minutes(5);  // peers keep idle connections
  server_ = std::make_unique<http::Server>(io_, server_options, [this](http::Request&& request, http::Responder respond) {
    handle(std::move(request), std::move(respond));
  });
  if (Status s = server_->start(); !s.ok()) throw std::runtime_error(s.error().message);
  started_ = true;
  io_thread_ = std::thread([this] {
    auto guard = net::make_work_guard(io_);
    io_.run();
  });
}

std::uint16_t HttpPeerTransport::port() const { return server_ ? server_->port() : 0; }

void HttpPeerTransport::set_peer(NodeId id, const std::string& address) {
  std::lock_guard lock(mutex_);
  Peer& peer = peers_[id];
  if (peer.address == address) return;
  peer.address = address;
  auto old = std::move(peer.connection);
  peer.connection = std::make_shared<PeerConnection>(io_, address, options_.connection);
  if (old) net::post(io_, [old] { old->close(); });
}

void HttpPeerTransport::remove_peer(NodeId id) {
  std::lock_guard lock(mutex_);
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  auto connection = std::move(it->second.connection);
  messages_dropped_ += it->second.queue.size();
  peers_.erase(it);
  if (connection) net::post(io_, [connection] { connection->close(); });
}

void HttpPeerTransport::send(std::vector<pb::Message>&& messages) {
  if (stopped_) return;
  std::vector<NodeId> to_flush;
  {
    std::lock_guard lock(mutex_);
    for (pb::Message& m : messages) {
      auto it = peers_.find(m.to());
      if (it == peers_.end()) {
        ++messages_dropped_;
        continue;
      }
      Peer& peer = it->second;
      m.set_cluster_id(options_.cluster_id);  // before sizing: flush() subtracts the same size
      const std::uint64_t size = m.ByteSizeLong();
      if (peer.queue.size() >= options_.max_queued_messages || peer.queued_bytes + size > options_.max_queued_bytes) {
        ++messages_dropped_;  // Raft resends what matters
        continue;
      }
      peer.queued_bytes += size;
      peer.queue.push_back(std::move(m));
      if (!peer.flush_scheduled) {
        peer.flush_scheduled = true;
        to_flush.push_back(it->first);
      }
    }
  }
  for (NodeId id : to_flush) net::post(io_, [this, id] { flush(id); });
}

void HttpPeerTransport::flush(NodeId id) {
  std::shared_ptr<PeerConnection> connection;
  pb::MessageBatch batch;
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    Peer& peer = it->second;
    peer.flush_scheduled = false;
    if (peer.queue.empty()) return;
    connection = peer.connection;
    if (!connection->ready()) {
      if (connection->in_flight() == 0) {
        // Down and backing off: drop what is queued rather than let it go stale.
        messages_dropped_ += peer.queue.size();
        peer.queue.clear();
        peer.queued_bytes = 0;
      }
      // Otherwise the window is full: the next completion flushes again.
      return;
    }
    batch.set_cluster_id(options_.cluster_id);
    std::uint64_t bytes = 0;
    while (!peer.queue.empty() && (batch.messages_size() == 0 || bytes < options_.max_batch_bytes)) {
      const std::uint64_t size = peer.queue.front().ByteSizeLong();
      bytes += size;
      peer.queued_bytes -= size;
      *batch.add_messages() = std::move(peer.queue.front());
      peer.queue.pop_front();
    }
    if (!peer.queue.empty()) {
      peer.flush_scheduled = true;
      net::post(io_, [this, id] { flush(id); });
    }
  }
  http::Request request{bhttp::verb::post, "/raft/messages", 11};
  request.set(bhttp::field::host, connection->address());
  request.set(bhttp::field::content_type, kProtobuf);
  request.keep_alive(true);
  request.body() = batch.SerializeAsString();
  request.prepare_payload();
  const auto count = static_cast<std::uint64_t>(batch.messages_size());
  bytes_sent_ += request.body().size();
  connection->send(std::move(request), [this, id, count](bool ok, int) {
    if (ok) {
      messages_sent_ += count;
    } else {
      messages_dropped_ += count;
    }
    std::lock_guard lock(mutex_);
    auto it = peers_.find(id);
    if (it != peers_.end() && !it->second.queue.empty() && !it->second.flush_scheduled) {
      it->second.flush_scheduled = true;
      net::post(io_, [this, id] { flush(id); });
    }
  });
}

// ---------------------------------------------------------------------------
// Receiving

void HttpPeerTransport::handle(http::Request&& request, http::Responder respond) {
  bytes_received_ += request.body().size();
  const std::string_view target = request.target();
  if (target == "/raft/health") return respond(empty_response(bhttp::status::ok));
  if (target != "/raft/messages" && target != "/raft/snapshot") {
    ++rejected_requests_;
    return respond(error(bhttp::status::not_found, "no such endpoint"));
  }
  if (request.method() != bhttp::verb::post) {
    ++rejected_requests_;
    return respond(error(bhttp::status::method_not_allowed, "POST only"));
  }
  if (stopped_) return respond(error(bhttp::status::service_unavailable, "stopping"));
  if (target == "/raft/messages") return handle_messages(request, respond);
  handle_snapshot_chunk(request, respond);
}

void HttpPeerTransport::handle_messages(const http::Request& request, http::Responder& respond) {
  pb::MessageBatch batch;
  if (!batch.ParseFromString(request.body()) || batch.messages_size() == 0) {
    ++rejected_requests_;
    return respond(error(bhttp::status::bad_request, "body is not a MessageBatch"));
  }
  if (batch.cluster_id() != options_.cluster_id) {
    ++rejected_requests_;
    std::fprintf(stderr, "raft transport: rejected messages from cluster %llu (this is cluster %llu)\n",
                 static_cast<unsigned long long>(batch.cluster_id()),
                 static_cast<unsigned long long>(options_.cluster_id));
    return respond(error(bhttp::status::forbidden, "wrong cluster id"));
  }
  std::vector<pb::Message> messages;
  messages.reserve(static_cast<std::size_t>(batch.messages_size()));
  for (pb::Message& m : *batch.mutable_messages()) {
    if (m.cluster_id() != options_.cluster_id) {
      ++rejected_requests_;
      return respond(error(bhttp::status::forbidden, "wrong cluster id"));
    }
    messages.push_back(std::move(m));
  }
  handler_->on_messages(std::move(messages));
  respond(empty_response(bhttp::status::no_content));
}

void HttpPeerTransport::handle_snapshot_chunk(const http::Request& request, http::Responder& respond) {
  pb::Message message;
  if (!message.ParseFromString(request.body()) || !message.has_snapshot_request()) {
    ++rejected_requests_;
    return respond(error(bhttp::status::bad_request, "body is not a snapshot chunk"));
  }
  if (message.cluster_id() != options_.cluster_id) {
    ++rejected_requests_;
    return respond(error(bhttp::status::forbidden, "wrong cluster id"));
  }
  const pb::SnapshotRequest& chunk = message.snapshot_request();
  const auto key = std::make_pair(message.from(), chunk.metadata().index());
  std::unique_lock lock(mutex_);
  auto it = incoming_.find(key);
  if (chunk.offset() == 0) {
    if (it != incoming_.end()) incoming_.erase(it);  // a restarted transfer
    lock.unlock();
    pb::Message header = message;
    header.mutable_snapshot_request()->clear_data();
    std::unique_ptr<SnapshotWriter> writer = handler_->on_snapshot_begin(header);
    lock.lock();
    if (!writer) return respond(error(bhttp::status::service_unavailable, "snapshot refused"));
    it = incoming_.emplace(key, Incoming{std::move(writer), 0}).first;
  }
  if (it == incoming_.end() || it->second.next_offset != chunk.offset()) {
    ++rejected_requests_;
    return respond(error(bhttp::status::conflict, "snapshot chunk out of order"));
  }
  Incoming incoming = std::move(it->second);
  incoming_.erase(it);
  lock.unlock();
  // Writing and committing happen outside the lock: they touch the disk.
  try {
    incoming.writer->write(chunk.data().data(), chunk.data().size());
    incoming.next_offset += chunk.data().size();
    if (!chunk.done()) {
      lock.lock();
      incoming_.emplace(key, std::move(incoming));
      return respond(empty_response(bhttp::status::no_content));
    }
    const pb::SnapshotMetadata committed = incoming.writer->commit();  // verifies size and checksum
    pb::Message installed = message;
    installed.mutable_snapshot_request()->clear_data();
    *installed.mutable_snapshot_request()->mutable_metadata() = committed;
    handler_->on_snapshot_received(std::move(installed));
    respond(empty_response(bhttp::status::ok));
  } catch (const std::exception& e) {
    ++rejected_requests_;
    std::fprintf(stderr, "raft transport: snapshot from %llu rejected: %s\n",
                 static_cast<unsigned long long>(message.from()), e.what());
    respond(error(bhttp::status::bad_request, "snapshot rejected"));
  }
}

// ---------------------------------------------------------------------------
// Streaming a snapshot out

void HttpPeerTransport::send_snapshot(pb::Message&& request, std::unique_ptr<SnapshotReader> data,
                                      std::function<void(bool delivered)> done) {
  std::string address;
  {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(request.to());
    if (it != peers_.end()) address = it->second.address;
  }
  if (address.empty() || stopped_) return done(false);
  request.set_cluster_id(options_.cluster_id);
  const std::size_t chunk_bytes = options_.snapshot_chunk_bytes;
  auto transfer = [this, address, request = std::move(request), data = std::move(data), done = std::move(done),
                   chunk_bytes]() mutable {
    bool delivered = false;
    try {
      net::io_context io;
      beast::tcp_stream stream(io);
      const auto [host, port] = split(address);
      stream.expires_after(options_.connection.connect_timeout);
      stream.connect(tcp::endpoint(net::ip::make_address(host), port));
      beast::flat_buffer buffer;
      std::string chunk(chunk_bytes, '\0');
      std::uint64_t offset = 0;
      for (;;) {
        if (stopped_) break;
        std::size_t n = 0;
        while (n < chunk.size()) {
          const std::size_t got = data->read(chunk.data() + n, chunk.size() - n);
          if (got == 0) break;
          n += got;
        }
        const bool last = offset + n >= data->metadata().size_bytes();
        pb::Message piece = request;
        pb::SnapshotRequest* body = piece.mutable_snapshot_request();
        *body->mutable_metadata() = data->metadata();
        body->set_offset(offset);
        body->set_data(chunk.data(), n);
        body->set_done(last);
        http::Request post{bhttp::verb::post, "/raft/snapshot", 11};
        post.set(bhttp::field::host, address);
        post.set(bhttp::field::content_type, kProtobuf);
        post.body() = piece.SerializeAsString();
        post.prepare_payload();
        bytes_sent_ += post.body().size();
        stream.expires_after(options_.connection.request_timeout * 4);  // the last chunk commits to disk
        bhttp::write(stream, post);
        http::Response response;
        bhttp::read(stream, buffer, response);
        if (response.result_int() >= 300) break;
        offset += n;
        if (last) {
          delivered = response.result() == bhttp::status::ok;
          break;
        }
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "raft transport: snapshot to %s failed: %s\n", address.c_str(), e.what());
    }
    done(delivered);
  };
  std::lock_guard lock(mutex_);
  snapshot_threads_.emplace_back(std::move(transfer));
}

void HttpPeerTransport::stop() {
  if (stopped_.exchange(true)) return;
  if (!started_) return;
  if (server_) server_->stop();
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, peer] : peers_) {
      auto connection = peer.connection;
      if (connection) net::post(io_, [connection] { connection->close(); });
    }
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(snapshot_threads_);
  }
  for (std::thread& t : threads) t.join();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  std::lock_guard lock(mutex_);
  incoming_.clear();
}

TransportStats HttpPeerTransport::stats() const {
  TransportStats s;
  s.messages_sent = messages_sent_;
  s.messages_dropped = messages_dropped_;
  s.bytes_sent = bytes_sent_;
  s.bytes_received = bytes_received_;
  s.rejected_requests = rejected_requests_;
  return s;
}

}  // namespace raft::transport
