#include "src/transport/receiver.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cctype>
#include <chrono>

#include "src/transport/offload.h"

namespace raft::transport {

namespace {

// "application/x-protobuf; charset=..." -> "application/x-protobuf", lower case.
std::string media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  while (!content_type.empty() && content_type.front() == ' ') content_type.remove_prefix(1);
  std::string out(content_type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

Receiver::Receiver(DecodeLimits limits, SnapshotAssemblerOptions snapshots,
                   TransportHandler* handler, boost::asio::any_io_executor disk,
                   const std::atomic<bool>* stopping, Logger log, LearnPeer learn_peer)
    : limits_(limits),
      handler_(handler),
      disk_(std::move(disk)),
      stopping_(stopping),
      log_(log),
      assembler_(snapshots, std::move(log)),
      learn_peer_(std::move(learn_peer)) {}

void Receiver::clear_snapshots() {
  assembler_.clear();
}

HttpResponse Receiver::reject(const DecodeFailure& failure, const char* endpoint) {
  if (failure.error == DecodeError::kForeignCluster) {
    // The one misconfiguration that must be loud: a node started with another
    // cluster's peer list. Throttled, because that peer retries all the time.
    std::uint64_t suppressed = 0;
    if (foreign_log_throttle_.allow(&suppressed)) {
      log_(std::string("rejected ") + endpoint + " from another cluster: " + failure.detail +
           (suppressed > 0 ? " (" + std::to_string(suppressed) + " similar rejections not logged)"
                           : ""));
    }
  }
  return make_response(http_status(failure.error),
                       std::string(to_string(failure.error)) + ": " + failure.detail);
}

void Receiver::connection_closed(std::uint64_t connection) {
  if (snapshot_connections_.erase(connection) == 0) return;
  boost::asio::post(disk_, [this, connection] { assembler_.abandon(connection); });
}

std::optional<HttpResponse> Receiver::refuse_post(const HttpRequest& request) const {
  if (request.method() != beast_http::verb::post) {
    HttpResponse response = make_response(405, "use POST");
    response.set(beast_http::field::allow, "POST");
    return response;
  }
  if (media_type(request[beast_http::field::content_type]) != kProtobufContentType) {
    return make_response(415, "the body must be application/x-protobuf");
  }
  if (stopping_->load()) return make_response(503, "stopping");
  return std::nullopt;
}

std::optional<HttpResponse> Receiver::open_stream(const HttpRequest& header) {
  if (std::optional<HttpResponse> refusal = refuse_post(header)) return refusal;
  // Chunks are what delimit the batches.
  if (!header.chunked()) return make_response(411, "a stream must use chunked transfer encoding");
  return std::nullopt;
}

std::optional<HttpResponse> Receiver::stream_batch(const HttpRequest& header,
                                                   std::string_view body) {
  if (stopping_->load()) return make_response(503, "stopping");
  Decoded<std::vector<pb::Message>> batch = decode_batch(body, limits_);
  if (!batch.ok()) return reject(batch.failure(), "messages");
  // A stream carries one node's messages; its address is learned once per id, so
  // the hot path pays one set lookup per batch.
  if (learn_peer_ && !batch.value().empty() && senders_seen_.size() < kMaxSendersSeen) {
    const NodeId sender = batch.value().front().from();
    if (!senders_seen_.contains(sender)) {
      if (auto address = header.find(kSenderAddressHeader); address != header.end()) {
        senders_seen_.insert(sender);
        learn_peer_(sender, std::string(address->value()));
      }
    }
  }
  handler_->on_messages(std::move(batch.value()));
  return std::nullopt;
}

boost::asio::awaitable<HttpResponse> Receiver::handle(HttpRequest& request,
                                                      std::uint64_t connection) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const beast_http::verb method = request.method();

  if (path == kHealthPath) {
    if (method != beast_http::verb::get) {
      HttpResponse response = make_response(405, "use GET");
      response.set(beast_http::field::allow, "GET");
      co_return response;
    }
    co_return make_response(200, "ok");
  }
  if (path != kMessagesPath && path != kSnapshotPath)
    co_return make_response(404, "no such endpoint");
  if (std::optional<HttpResponse> refusal = refuse_post(request)) co_return std::move(*refusal);

  if (path == kMessagesPath) {
    if (std::optional<HttpResponse> refusal = stream_batch(request, request.body()))
      co_return std::move(*refusal);
    co_return make_response(204);
  }
  Decoded<pb::Message> chunk = decode_snapshot_chunk(request.body(), limits_);
  if (!chunk.ok()) co_return reject(chunk.failure(), "a snapshot chunk");
  co_return co_await snapshot_chunk(std::move(chunk.value()), connection);
}

boost::asio::awaitable<HttpResponse> Receiver::snapshot_chunk(pb::Message&& chunk,
                                                              std::uint64_t connection) {
  snapshot_connections_.insert(connection);
  auto work = [this, chunk = std::move(chunk), connection]() mutable {
    // Checked again on the disk thread: stop() may have begun while this waited.
    if (stopping_->load()) return SnapshotAssembler::Outcome{503, "stopping"};
    return assembler_.accept(std::move(chunk), *handler_, std::chrono::steady_clock::now(),
                             connection);
  };
  const SnapshotAssembler::Outcome outcome =
      co_await run_on(disk_, std::move(work));  // named: see offload.h
  co_return make_response(outcome.status,
                          outcome.status >= 300 ? outcome.reason : std::string_view{});
}

}  // namespace raft::transport
