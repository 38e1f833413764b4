#include "src/transport/snapshot_sender.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>

#include "src/transport/codec.h"
#include "src/transport/http_types.h"
#include "src/transport/offload.h"

namespace raft::transport {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

// Fills up to `n` bytes from `reader` (which may return less than asked).
std::string read_chunk(SnapshotReader& reader, std::size_t n) {
  std::string chunk(n, '\0');
  std::size_t filled = 0;
  while (filled < n) {
    const std::size_t got = reader.read(chunk.data() + filled, n - filled);
    if (got == 0) break;
    filled += got;
  }
  chunk.resize(filled);
  return chunk;
}

}  // namespace

SnapshotSender::SnapshotSender(net::io_context& io, net::any_io_executor disk, std::string address,
                               pb::Message request, std::unique_ptr<SnapshotReader> data,
                               std::shared_ptr<SnapshotDone> done, SnapshotSenderOptions options,
                               std::shared_ptr<Counters> counters, Logger log)
    : disk_(std::move(disk)),
      address_(std::move(address)),
      request_(std::move(request)),
      data_(std::move(data)),
      options_(options),
      counters_(std::move(counters)),
      log_(std::move(log)),
      stream_(io),
      connector_(io),
      done_(std::move(done)) {}

SnapshotSender::~SnapshotSender() = default;

void SnapshotSender::cancel() {
  cancelled_ = true;
  connector_.cancel();
  stream_.close();
}

net::awaitable<void> SnapshotSender::run() {
  auto self = shared_from_this();
  bool delivered = false;
  try {
    delivered = co_await stream_chunks();
  } catch (const std::exception& e) {
    // The reader threw (an I/O error on the leader's own snapshot file).
    log_("snapshot to node " + std::to_string(request_.to()) + " failed: " + e.what());
  }
  stream_.close();
  (*done_)(delivered);
}

net::awaitable<bool> SnapshotSender::stream_chunks() {
  const std::string to = "snapshot to node " + std::to_string(request_.to()) + " at " + address_;
  if (const beast::error_code ec =
          co_await connector_.connect(stream_, address_, options_.connect_timeout);
      ec) {
    if (!cancelled_) log_(to + ": cannot connect: " + ec.message());
    co_return false;
  }
  const pb::SnapshotMetadata metadata = data_->metadata();
  const std::uint64_t size = metadata.size_bytes();
  beast::flat_buffer buffer;
  std::uint64_t offset = 0;
  for (;;) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(options_.chunk_bytes, size - offset));
    auto read = [reader = data_, want] { return read_chunk(*reader, want); };
    std::string data = co_await run_on(disk_, std::move(read));  // named: see offload.h
    if (cancelled_) co_return false;
    if (data.size() != want) {
      log_(to + ": the snapshot has fewer bytes than its metadata says (" +
           std::to_string(offset + data.size()) + " of " + std::to_string(size) + ")");
      co_return false;
    }
    const bool last = offset + want == size;

    pb::Message chunk = request_;
    pb::SnapshotRequest& body = *chunk.mutable_snapshot_request();
    *body.mutable_metadata() = metadata;
    body.set_offset(offset);
    *body.mutable_data() = std::move(data);
    body.set_done(last);

    HttpRequest request{beast_http::verb::post, std::string(kSnapshotPath), 11};
    request.set(beast_http::field::host, address_);
    request.set(beast_http::field::content_type, kProtobufContentType);
    request.keep_alive(true);
    request.body() = encode_snapshot_chunk(chunk);
    request.prepare_payload();
    stream_.expires_after(options_.write_timeout);
    auto [write_ec, written] =
        co_await beast_http::async_write(stream_, request, net::as_tuple(net::use_awaitable));
    if (write_ec) {
      if (!cancelled_) log_(to + ": " + write_ec.message());
      co_return false;
    }
    Counters::add(counters_->bytes_sent, request.body().size());

    beast_http::response_parser<beast_http::string_body> parser;
    parser.body_limit(kMaxResponseBodyBytes);
    // The last answer comes after the receiver has synced the whole snapshot to disk.
    stream_.expires_after(last ? options_.commit_timeout : options_.response_timeout);
    auto [read_ec, n] =
        co_await beast_http::async_read(stream_, buffer, parser, net::as_tuple(net::use_awaitable));
    if (read_ec) {
      if (!cancelled_) log_(to + ": " + read_ec.message());
      co_return false;
    }
    const unsigned status = parser.get().result_int();
    if (status != (last ? 200u : 204u)) {
      std::string_view reason = parser.get().body();
      while (!reason.empty() && reason.back() == '\n') reason.remove_suffix(1);
      log_(to + ": refused at offset " + std::to_string(offset) + ": " + std::to_string(status) +
           " " + std::string(reason.substr(0, 200)));
      co_return false;
    }
    if (last) co_return true;
    offset += want;
  }
}

}  // namespace raft::transport
