// What a peer's server does with input no well-behaved peer sends: garbage, cut-off
// requests, oversized bodies and headers, wrong paths, methods and media types,
// invalid bodies, slow and idle connections, too many connections. Each gets the
// right 4xx or a closed connection, is counted, and the server keeps serving.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "src/transport/codec.h"
#include "src/transport/http_transport.h"
#include "tests/transport/test_support.h"

namespace raft::transport {
namespace {

using namespace std::chrono_literals;
using testing::Collector;
using testing::eventually;
using testing::heartbeat;
using testing::http_status;
using testing::post_bytes;
using testing::raw_exchange;
using testing::status_of;

class ServerAbuse : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpTransportOptions o;
    o.listen_address = "127.0.0.1:0";
    o.max_body_bytes = 256 << 10;
    o.snapshot_chunk_bytes = 64 << 10;
    o.max_header_bytes = 4 << 10;
    o.read_timeout = 300ms;
    o.idle_timeout = 1s;
    o.max_connections = 8;
    o.log = [](std::string_view) {};
    transport_ = std::make_unique<HttpTransport>(o);
    transport_->start(&collector_);
    port_ = transport_->port();
  }

  // The server still delivers a well-formed batch, answering 204.
  void expect_still_serving() {
    const std::size_t before = collector_.messages().size();
    EXPECT_EQ(http_status(port_, "POST", "/raft/messages", encode_batch(1, {heartbeat(1, 2, 9)})),
              204);
    EXPECT_EQ(collector_.messages().size(), before + 1);
  }

  Collector collector_;
  std::unique_ptr<HttpTransport> transport_;
  std::uint16_t port_ = 0;
};

TEST_F(ServerAbuse, WellFormedRequestsAnswerAsDocumented) {
  EXPECT_EQ(http_status(port_, "GET", "/raft/health", "", ""), 200);
  EXPECT_EQ(http_status(port_, "POST", "/raft/messages", encode_batch(1, {heartbeat(1, 2, 1)})),
            204);
  EXPECT_EQ(collector_.messages().size(), 1u);
  // Parameters on the media type are fine.
  EXPECT_EQ(http_status(port_, "POST", "/raft/messages", encode_batch(1, {heartbeat(1, 2, 1)}),
                        "Application/X-Protobuf; charset=binary"),
            204);
}

TEST_F(ServerAbuse, WrongPathMethodAndMediaType) {
  EXPECT_EQ(http_status(port_, "POST", "/nope", ""), 404);
  EXPECT_EQ(http_status(port_, "GET", "/", "", ""), 404);
  EXPECT_EQ(http_status(port_, "GET", "/raft/messages", "", ""), 405);
  EXPECT_EQ(http_status(port_, "PUT", "/raft/snapshot", "x"), 405);
  EXPECT_EQ(http_status(port_, "POST", "/raft/health", ""), 405);
  EXPECT_EQ(http_status(port_, "POST", "/raft/messages", encode_batch(1, {heartbeat(1, 2, 1)}),
                        "application/json"),
            415);
  EXPECT_EQ(http_status(port_, "POST", "/raft/messages", encode_batch(1, {heartbeat(1, 2, 1)}), ""),
            415);
  EXPECT_TRUE(collector_.messages().empty());
  EXPECT_GE(transport_->stats().rejected_requests, 7u);
  expect_still_serving();
}

TEST_F(ServerAbuse, InvalidBodies) {
  EXPECT_EQ(http_status(port_, "POST", "/raft/messages", "not a protobuf \xff\xfe\xfd"), 400);
  EXPECT_EQ(http_status(port_, "POST", "/raft/messages", ""), 400);
  EXPECT_EQ(http_status(port_, "POST", "/raft/messages", encode_batch(1, {})), 400);
  EXPECT_EQ(http_status(port_, "POST", "/raft/messages", encode_batch(5, {heartbeat(1, 2, 1)})),
            403);
  EXPECT_EQ(http_status(port_, "POST", "/raft/snapshot", "\x0a\x0b garbage"), 400);
  pb::Message chunk = testing::snapshot_request(1, 2, testing::metadata_for(4, 1, "abcdef"));
  chunk.set_cluster_id(1);
  chunk.mutable_snapshot_request()->set_offset(3);
  chunk.mutable_snapshot_request()->set_data("def");
  chunk.mutable_snapshot_request()->set_done(true);
  EXPECT_EQ(http_status(port_, "POST", "/raft/snapshot", encode_snapshot_chunk(chunk)), 409)
      << "no offset 0 first";
  EXPECT_TRUE(collector_.messages().empty());
  EXPECT_EQ(collector_.calls(), 0u);
  expect_still_serving();
}

TEST_F(ServerAbuse, OversizedBodyIs413OrAClosedConnection) {
  // Announced too large: refused after the header, without reading the body.
  const std::string announced =
      "POST /raft/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
      "Content-Length: 999999999999\r\n\r\n";
  EXPECT_EQ(status_of(raw_exchange(port_, announced)), 413);
  // Actually too large.
  const std::string big = encode_batch(1, {testing::append(1, 2, 1, 300 << 10)});
  const std::string response = raw_exchange(port_, post_bytes("/raft/messages", big));
  EXPECT_TRUE(status_of(response) == 413 || response.empty()) << response;
  // Chunked, growing past the limit.
  std::string chunked =
      "POST /raft/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 40; ++i) chunked += "2000\r\n" + std::string(0x2000, 'a') + "\r\n";
  const std::string chunked_response = raw_exchange(port_, chunked);
  EXPECT_TRUE(status_of(chunked_response) == 413 || chunked_response.empty());
  EXPECT_TRUE(collector_.messages().empty());
  expect_still_serving();
}

TEST_F(ServerAbuse, OversizedHeaderIs431) {
  const std::string request =
      "GET /raft/health HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(8000, 'p') + "\r\n\r\n";
  EXPECT_EQ(status_of(raw_exchange(port_, request)), 431);
  expect_still_serving();
}

TEST_F(ServerAbuse, GarbageGets400AndAClose) {
  EXPECT_EQ(status_of(raw_exchange(port_, std::string(5000, '\x01'))), 400);
  EXPECT_EQ(status_of(raw_exchange(port_, "HELLO\r\n\r\n")), 400);
  EXPECT_EQ(status_of(raw_exchange(port_, "GET /raft/health HTTP/9.9\r\n\r\n")), 400);
  EXPECT_EQ(
      status_of(raw_exchange(port_, "POST /raft/messages HTTP/1.1\r\nContent-Length: -5\r\n\r\n")),
      400);
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<char>((i * 7919) & 0xff));
  const std::string response = raw_exchange(port_, binary);
  EXPECT_TRUE(status_of(response) == 400 || response.empty());
  expect_still_serving();
}

TEST_F(ServerAbuse, TruncatedRequestsAreDropped) {
  const std::string whole = post_bytes("/raft/messages", encode_batch(1, {heartbeat(1, 2, 1)}));
  // Every cut-off prefix: the peer hangs up mid-request. Nothing is delivered.
  for (std::size_t cut = 1; cut < whole.size(); cut += 7) {
    raw_exchange(port_, whole.substr(0, cut), 20ms);
  }
  EXPECT_TRUE(eventually([&] { return collector_.messages().empty(); }));
  expect_still_serving();
}

TEST_F(ServerAbuse, SlowRequestTimesOut) {
  // Half a request, then silence: closed after the read timeout (300 ms here).
  const auto start = std::chrono::steady_clock::now();
  const std::string response =
      raw_exchange(port_, "POST /raft/messages HTTP/1.1\r\nContent-Le", 3s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(response.empty()) << response;
  EXPECT_LT(elapsed, 2s) << "the server hung up on its own";
  expect_still_serving();
}

TEST_F(ServerAbuse, IdleConnectionIsClosed) {
  const auto start = std::chrono::steady_clock::now();
  raw_exchange(port_, "", 5s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 800ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(ServerAbuse, PipelinedRequestsAreAnsweredInOrder) {
  std::string requests;
  for (Term t = 1; t <= 20; ++t)
    requests += post_bytes("/raft/messages", encode_batch(1, {heartbeat(1, 2, t)}), t == 20);
  requests.insert(0, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string responses = raw_exchange(port_, requests);
  EXPECT_EQ(status_of(responses), 404);
  std::size_t answers = 0;
  for (std::size_t at = responses.find("HTTP/1.1 204"); at != std::string::npos;
       at = responses.find("HTTP/1.1 204", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, 20u);
  ASSERT_EQ(collector_.messages().size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(collector_.messages()[i].term(), i + 1);
}

// The head of a message stream, and one chunk of it.
std::string stream_head(bool close = true) {
  return std::string(
             "POST /raft/stream HTTP/1.1\r\nHost: test\r\n"
             "Content-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n") +
         (close ? "Connection: close\r\n" : "") + "\r\n";
}
std::string chunk(const std::string& data) {
  std::ostringstream size;
  size << std::hex << data.size();
  return size.str() + "\r\n" + data + "\r\n";
}
const std::string kLastChunk = "0\r\n\r\n";

TEST_F(ServerAbuse, StreamDeliversEachChunkAndIsAnsweredAtItsEnd) {
  std::string request = stream_head();
  for (Term t = 1; t <= 3; ++t) request += chunk(encode_batch(1, {heartbeat(1, 2, t)}));
  request += chunk(encode_batch(1, {heartbeat(1, 2, 4), heartbeat(1, 2, 5)}));
  request += kLastChunk;
  EXPECT_EQ(status_of(raw_exchange(port_, request)), 204);
  ASSERT_EQ(collector_.messages().size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(collector_.messages()[i].term(), i + 1);
  EXPECT_EQ(collector_.deliveries(), 4u) << "one hand-over per chunk";
  // A chunk may arrive in pieces: split one byte at a time over the wire.
  std::string trickled = stream_head() + chunk(encode_batch(1, {heartbeat(1, 2, 6)}));
  const int fd = testing::connect_loopback(port_);
  ASSERT_GE(fd, 0);
  for (char c : trickled) {
    ASSERT_EQ(::send(fd, &c, 1, MSG_NOSIGNAL), 1);
  }
  EXPECT_TRUE(eventually([&] { return collector_.messages().size() == 6; }));
  ::close(fd);
  EXPECT_EQ(transport_->stats().rejected_requests, 0u);
}

TEST_F(ServerAbuse, StreamEndsAtTheFirstRefusedChunk) {
  const std::string good = chunk(encode_batch(1, {heartbeat(1, 2, 1)}));
  EXPECT_EQ(status_of(raw_exchange(port_, stream_head(false) + good +
                                              chunk(encode_batch(7, {heartbeat(1, 2, 2)})) + good +
                                              kLastChunk)),
            403);
  EXPECT_EQ(
      status_of(raw_exchange(port_, stream_head(false) + good + chunk("garbage \xff") + good)),
      400);
  EXPECT_EQ(collector_.messages().size(), 2u) << "only the chunks before each refusal";
  // Each chunk is held to the body limit (256 KiB here), announced or not.
  EXPECT_EQ(status_of(raw_exchange(
                port_, stream_head(false) + "40001\r\n" + std::string(0x40001, 'a') + "\r\n")),
            413);
  // A stream must be chunked, POSTed, protobuf.
  EXPECT_EQ(status_of(raw_exchange(
                port_, post_bytes("/raft/stream", encode_batch(1, {heartbeat(1, 2, 1)})))),
            411);
  EXPECT_EQ(http_status(port_, "GET", "/raft/stream", "", ""), 405);
  EXPECT_EQ(status_of(raw_exchange(port_,
                                   "POST /raft/stream HTTP/1.1\r\nHost: x\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n" +
                                       good)),
            415);
  EXPECT_EQ(collector_.messages().size(), 2u);
  EXPECT_GE(transport_->stats().rejected_requests, 6u);
  expect_still_serving();
}

TEST_F(ServerAbuse, StalledStreamIsClosed) {
  // A stream that completes no chunk for a whole idle timeout (1 s here) is closed
  // within two: here its header and half a chunk, then silence.
  const auto start = std::chrono::steady_clock::now();
  const std::string response = raw_exchange(port_, stream_head(false) + "100\r\nabc", 5s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(response.empty()) << response;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 3500ms);
  expect_still_serving();
}

TEST_F(ServerAbuse, ConnectionsAreBounded) {
  // Eight idle connections fill the server; a ninth is closed at once.
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    held.push_back(fd);
  }
  std::this_thread::sleep_for(100ms);  // let the server accept them
  const std::uint64_t rejected = transport_->stats().rejected_requests;
  EXPECT_EQ(http_status(port_, "GET", "/raft/health", "", ""), 0);
  EXPECT_EQ(transport_->stats().rejected_requests, rejected + 1);
  for (int fd : held) ::close(fd);
  EXPECT_TRUE(eventually([&] { return http_status(port_, "GET", "/raft/health", "", "") == 200; }));
}

}  // namespace
}  // namespace raft::transport
