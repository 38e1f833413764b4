#include "src/transport/http_transport.h"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "src/transport/address.h"
#include "src/transport/codec.h"
#include "src/transport/counters.h"
#include "src/transport/peer_client.h"
#include "src/transport/receiver.h"
#include "src/transport/server.h"
#include "src/transport/snapshot_sender.h"
#include "src/util/thread_name.h"

namespace raft::transport {

namespace net = boost::asio;

std::string validate(const HttpTransportOptions& o) {
  using std::chrono::milliseconds;
  if (o.cluster_id == 0) return "cluster_id must be non-zero";
  if (!parse_host_port(o.listen_address))
    return "listen_address '" + o.listen_address + "' is not host:port";
  if (!o.advertise_address.empty() && !parse_host_port(o.advertise_address))
    return "advertise_address '" + o.advertise_address + "' is not host:port";
  if (o.snapshot_chunk_bytes == 0) return "snapshot_chunk_bytes must be positive";
  if (o.max_body_bytes < 2 * static_cast<std::uint64_t>(o.snapshot_chunk_bytes)) {
    return "max_body_bytes must be at least twice snapshot_chunk_bytes";
  }
  if (o.max_batch_bytes == 0 || o.max_queued_messages == 0 || o.max_queued_bytes == 0 ||
      o.max_connections == 0 || o.max_outgoing_snapshots == 0 || o.max_incoming_snapshots == 0 ||
      o.max_header_bytes < 1024) {
    return "limits must be positive (max_header_bytes at least 1 KiB)";
  }
  for (milliseconds t :
       {o.connect_timeout, o.write_timeout, o.response_timeout, o.snapshot_commit_timeout,
        o.idle_timeout, o.read_timeout, o.snapshot_idle_timeout, o.stop_timeout}) {
    if (t <= milliseconds::zero()) return "timeouts must be positive";
  }
  if (o.min_backoff <= milliseconds::zero() || o.max_backoff < o.min_backoff) {
    return "backoff must satisfy 0 < min_backoff <= max_backoff";
  }
  return {};
}

class HttpTransport::Impl {
 public:
  explicit Impl(HttpTransportOptions options)
      : options_(std::move(options)),
        log_(options_.log),
        own_io_(options_.io_context != nullptr ? nullptr : std::make_unique<net::io_context>()),
        io_(options_.io_context != nullptr ? options_.io_context : own_io_.get()),
        disk_(std::make_unique<net::thread_pool>(1)) {}

  ~Impl() {
    stop();
    // Whatever still refers to io objects goes before the io_context; coroutine
    // frames left behind by a forced stop are destroyed with it.
    server_.reset();
    own_io_.reset();
  }

  void start(TransportHandler* handler) {
    std::lock_guard lock(mutex_);
    if (state_ != State::kNew)
      throw std::logic_error("HttpTransport::start: already started or stopped");
    if (std::string problem = validate(options_); !problem.empty())
      throw std::invalid_argument(problem);
    if (handler == nullptr) throw std::invalid_argument("HttpTransport::start: null handler");

    receiver_ = std::make_unique<Receiver>(
        DecodeLimits{options_.cluster_id, options_.local_id, options_.max_body_bytes},
        SnapshotAssemblerOptions{options_.max_incoming_snapshots, options_.snapshot_idle_timeout},
        handler, disk_->get_executor(), &stopping_, log_,
        [this](NodeId id, const std::string& address) {
          add_peer(id, address, /*replace=*/false);
        });
    ServerOptions server_options;
    server_options.max_body_bytes = options_.max_body_bytes;
    server_options.max_header_bytes = options_.max_header_bytes;
    server_options.idle_timeout = options_.idle_timeout;
    server_options.read_timeout = options_.read_timeout;
    server_options.write_timeout = options_.write_timeout;
    server_options.max_connections = options_.max_connections;
    Receiver* receiver = receiver_.get();
    auto server = std::make_shared<PeerServer>(
        *io_, server_options,
        [receiver](HttpRequest& request, std::uint64_t connection) {
          return receiver->handle(request, connection);
        },
        PeerServer::StreamRoute{
            std::string(kStreamPath),
            [receiver](const HttpRequest& header) { return receiver->open_stream(header); },
            [receiver](const HttpRequest& header, std::string_view chunk) {
              return receiver->stream_batch(header, chunk);
            }},
        [receiver](std::uint64_t connection) { receiver->connection_closed(connection); },
        counters_, log_);
    if (Status listening = server->listen(*parse_host_port(options_.listen_address));
        !listening.ok()) {
      throw std::runtime_error(listening.error().message);
    }
    server_ = std::move(server);
    port_ = server_->port();
    if (options_.advertise_address.empty()) {
      HostPort bound = *parse_host_port(options_.listen_address);
      bound.port = port_;
      advertised_address_ = format_host_port(bound);
    } else {
      advertised_address_ = options_.advertise_address;
    }
    server_->start();
    track_io_user(server_);
    if (!own_io_) {
      state_ = State::kRunning;
      return;
    }

    std::promise<void> finished;
    io_finished_ = finished.get_future();
    io_thread_ = std::thread([this, finished = std::move(finished)]() mutable {
      util::name_this_thread("raft-net");
      run_io();
      finished.set_value();
    });
    state_ = State::kRunning;
  }

  void set_peer(NodeId id, const std::string& address) { add_peer(id, address, /*replace=*/true); }

  // `replace`: false to fill a gap only (an address a peer told about itself).
  void add_peer(NodeId id, const std::string& address, bool replace) {
    std::shared_ptr<PeerClient> old;
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::kStopped) return;
      auto it = peers_.find(id);
      if (it != peers_.end() && (!replace || it->second->address() == address)) return;
      if (!replace) {
        // The peer's own claim: a bad one is not ours to log, and a peer inventing ids
        // gets no more than kMaxLearnedPeers connections out of us.
        if (!parse_host_port(address) || learned_peers_ >= kMaxLearnedPeers) return;
        ++learned_peers_;
        log_("node " + std::to_string(id) + " is not a known peer: answering it at " + address +
             ", the address it gave");
      }
      if (!parse_host_port(address))
        log_("node " + std::to_string(id) + " has a bad address '" + address + "'");
      auto client = std::make_shared<PeerClient>(*io_, id, address, options_.cluster_id,
                                                 client_options(), counters_, log_);
      client->start();
      track_io_user(client);
      if (it != peers_.end()) {
        old = std::move(it->second);
        it->second = std::move(client);
      } else {
        peers_.emplace(id, std::move(client));
      }
    }
    if (old) old->close();
  }

  void remove_peer(NodeId id) {
    std::shared_ptr<PeerClient> old;
    {
      std::lock_guard lock(mutex_);
      auto it = peers_.find(id);
      if (it == peers_.end()) return;
      old = std::move(it->second);
      peers_.erase(it);
    }
    old->close();
  }

  void send(std::vector<pb::Message>&& messages) {
    std::vector<std::shared_ptr<PeerClient>> targets(messages.size());
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::kStopped) {
        for (std::size_t i = 0; i < messages.size(); ++i) {
          if (auto it = peers_.find(messages[i].to()); it != peers_.end()) targets[i] = it->second;
        }
      }
    }
    // Encoding happens here, on the caller's thread, outside every lock.
    const std::uint64_t max_message_bytes = options_.max_body_bytes - kBatchOverheadBytes;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      pb::Message& m = messages[i];
      if (!targets[i]) {
        Counters::add(counters_->messages_dropped, 1);  // unknown peer, or stopped
        continue;
      }
      if (m.has_snapshot_request()) {
        // A bare SnapshotRequest would make the peer install data it never got.
        Counters::add(counters_->messages_dropped, 1);
        log_throttled(
            "dropped a SnapshotRequest given to send(): snapshots go through send_snapshot()");
        continue;
      }
      m.set_cluster_id(options_.cluster_id);
      std::optional<std::string> element = encode_batch_element(m, max_message_bytes);
      if (!element) {
        Counters::add(counters_->messages_dropped, 1);
        log_throttled("dropped a message of " + std::to_string(m.ByteSizeLong()) +
                      " bytes to node " + std::to_string(m.to()) + ": above max_body_bytes");
        continue;
      }
      targets[i]->enqueue(std::move(*element));
    }
  }

  void send_snapshot(pb::Message&& request, std::unique_ptr<SnapshotReader> data,
                     std::function<void(bool delivered)> done) {
    auto once = std::make_shared<SnapshotDone>(std::move(done));
    std::unique_lock lock(mutex_);
    if (state_ != State::kRunning) {
      lock.unlock();
      (*once)(false);  // no transport thread will ever run it
      return;
    }
    const NodeId to = request.to();
    std::string problem;
    std::string address;
    if (auto it = peers_.find(to); it != peers_.end()) address = it->second->address();
    if (!data) {
      problem = "no snapshot data";
    } else if (address.empty()) {
      problem = "unknown peer";
    } else if (active_senders() >= options_.max_outgoing_snapshots) {
      problem = "too many snapshots being sent";
    }
    const std::uint64_t id = next_transfer_++;
    Transfer& transfer = transfers_[id];
    transfer.done = once;
    if (!problem.empty()) {
      lock.unlock();
      log_("snapshot to node " + std::to_string(to) + " not sent: " + problem);
      // Failed from the io thread like every other outcome: the caller may hold its
      // own locks here.
      net::post(*io_, [this, id, once] {
        (*once)(false);
        forget_transfer(id);
      });
      return;
    }
    request.set_cluster_id(options_.cluster_id);
    SnapshotSenderOptions sender_options;
    sender_options.chunk_bytes = options_.snapshot_chunk_bytes;
    sender_options.connect_timeout = options_.connect_timeout;
    sender_options.write_timeout = options_.write_timeout;
    sender_options.response_timeout = options_.response_timeout;
    sender_options.commit_timeout = options_.snapshot_commit_timeout;
    transfer.sender = std::make_shared<SnapshotSender>(
        *io_, disk_->get_executor(), std::move(address), std::move(request), std::move(data), once,
        sender_options, counters_, log_);
    net::co_spawn(*io_, transfer.sender->run(), [this, id, once](std::exception_ptr e) {
      if (e) log_("snapshot transfer failed unexpectedly");
      (*once)(false);  // no-op when the transfer already reported
      forget_transfer(id);
    });
  }

  void stop() {
    bool was_running = false;
    std::map<NodeId, std::shared_ptr<PeerClient>> peers;
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::kStopped) return;
      was_running = state_ == State::kRunning;
      state_ = State::kStopped;
      stopping_ = true;
      peers.swap(peers_);
    }
    for (auto& [id, client] : peers) client->close();
    peers.clear();
    if (was_running) {
      if (own_io_) {
        net::post(*io_, [this] { close_on_io(); });
        // Every connection winds down on its own once closed; if one does not in time
        // (a bug, or a disk stuck under a snapshot write) the loop is cut short.
        if (io_finished_.wait_for(options_.stop_timeout) != std::future_status::ready) {
          log_("stop: connections did not wind down in time; abandoning them");
          io_->stop();
        }
        io_thread_.join();
      } else {
        wind_down_on_lent_io();
      }
    }
    disk_->join();
    std::map<std::uint64_t, Transfer> transfers;
    {
      std::lock_guard lock(mutex_);
      transfers.swap(transfers_);
    }
    for (auto& [id, transfer] : transfers) (*transfer.done)(false);
    if (receiver_) receiver_->clear_snapshots();
  }

  TransportStats stats() const { return counters_->read(); }
  std::uint16_t port() const { return port_; }

 private:
  // A MessageBatch body holds its cluster id field and, per message, a tag and a
  // length: this much beyond the message itself.
  static constexpr std::uint64_t kBatchOverheadBytes = 32;

  enum class State { kNew, kRunning, kStopped };
  struct Transfer {
    std::shared_ptr<SnapshotDone> done;
    std::shared_ptr<SnapshotSender> sender;  // null for one refused up front
  };

  // On the io thread: no new connections, and every transfer ends.
  void close_on_io() {
    // Connections keep the server alive while they wind down; dropping this
    // reference lets wound_down() see the last of them go.
    std::shared_ptr<PeerServer> server;
    {
      std::lock_guard lock(mutex_);
      server = std::move(server_);
      for (auto& [id, transfer] : transfers_) {
        if (transfer.sender) transfer.sender->cancel();
      }
    }
    if (server) server->close();
  }

  // stop() on a lent io_context, which keeps running: close on its thread, then wait
  // until every server, client and transfer is gone (each coroutine holds its owner
  // alive), so no connection outlives stop() unless it overstays stop_timeout.
  void wind_down_on_lent_io() {
    if (io_->get_executor().running_in_this_thread()) {
      close_on_io();  // misuse (see the options); waiting here would deadlock
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + options_.stop_timeout;
    net::post(*io_, [this] { close_on_io(); });
    while (!wound_down()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        log_("stop: connections did not wind down in time; leaving them to the io_context");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  bool wound_down() {
    std::lock_guard lock(mutex_);
    if (server_ != nullptr || active_senders() > 0) return false;
    for (const std::weak_ptr<void>& user : io_users_) {
      if (!user.expired()) return false;
    }
    return true;
  }

  void track_io_user(std::weak_ptr<void> user) {  // REQUIRES: mutex_ held
    std::erase_if(io_users_, [](const std::weak_ptr<void>& u) { return u.expired(); });
    io_users_.push_back(std::move(user));
  }

  void run_io() {
    for (;;) {
      try {
        io_->run();
        return;
      } catch (const std::exception& e) {
        // Handlers do not throw by design; if one does, log and keep serving.
        log_(std::string("io thread: ") + e.what());
      }
    }
  }

  PeerClientOptions client_options() const {
    PeerClientOptions o;
    o.max_queued_messages = options_.max_queued_messages;
    o.max_queued_bytes = options_.max_queued_bytes;
    o.max_batch_bytes = options_.max_batch_bytes;
    o.connect_timeout = options_.connect_timeout;
    o.write_timeout = options_.write_timeout;
    o.min_backoff = options_.min_backoff;
    o.max_backoff = options_.max_backoff;
    o.sender_address = advertised_address_;
    return o;
  }

  std::size_t active_senders() const {  // REQUIRES: mutex_ held
    std::size_t n = 0;
    for (const auto& [id, transfer] : transfers_) n += transfer.sender ? 1 : 0;
    return n;
  }

  void forget_transfer(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    transfers_.erase(id);
  }

  void log_throttled(const std::string& line) {
    std::uint64_t suppressed = 0;
    if (!send_log_throttle_.allow(&suppressed)) return;
    log_(suppressed > 0 ? line + " (" + std::to_string(suppressed) + " similar lines not logged)"
                        : line);
  }

  const HttpTransportOptions options_;
  const Logger log_;
  const std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint16_t> port_{0};
  std::string advertised_address_;  // set by start(), before any stream opens
  // Peers added from their own kSenderAddressHeader, not by set_peer.
  static constexpr std::size_t kMaxLearnedPeers = 16;
  std::size_t learned_peers_ = 0;
  LogThrottle send_log_throttle_;

  std::unique_ptr<net::io_context> own_io_;  // null on a lent one
  net::io_context* const io_;
  std::unique_ptr<net::thread_pool> disk_;  // one thread: snapshot I/O
  std::unique_ptr<Receiver> receiver_;
  std::thread io_thread_;
  std::future<void> io_finished_;

  mutable std::mutex mutex_;  // guards what follows
  State state_ = State::kNew;
  std::shared_ptr<PeerServer> server_;  // null until started and once closed
  std::map<NodeId, std::shared_ptr<PeerClient>> peers_;
  std::vector<std::weak_ptr<void>> io_users_;  // servers and clients, for wound_down()
  std::map<std::uint64_t, Transfer> transfers_;
  std::uint64_t next_transfer_ = 0;
};

HttpTransport::HttpTransport(HttpTransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpTransport::~HttpTransport() = default;
void HttpTransport::start(TransportHandler* handler) {
  impl_->start(handler);
}
void HttpTransport::set_peer(NodeId id, const std::string& address) {
  impl_->set_peer(id, address);
}
void HttpTransport::remove_peer(NodeId id) {
  impl_->remove_peer(id);
}
void HttpTransport::send(std::vector<pb::Message>&& messages) {
  impl_->send(std::move(messages));
}
void HttpTransport::send_snapshot(pb::Message&& request, std::unique_ptr<SnapshotReader> data,
                                  std::function<void(bool delivered)> done) {
  impl_->send_snapshot(std::move(request), std::move(data), std::move(done));
}
void HttpTransport::stop() {
  impl_->stop();
}
TransportStats HttpTransport::stats() const {
  return impl_->stats();
}
std::uint16_t HttpTransport::port() const {
  return impl_->port();
}

}  // namespace raft::transport
