// http::Server over real loopback sockets: answers given later from other threads
// reach the right connection in order, keep-alive carries many requests, oversized
// and malformed requests get 413 and 400, idle connections close after the read
// timeout, and stop() with an unanswered request drops the late answer safely.
#include "src/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace raft::http {
namespace {

using namespace std::chrono_literals;

// A blocking client socket with a receive timeout, so a broken server fails the test
// instead of hanging it.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }

  bool connected() const { return connected_; }
  void send(const std::string& bytes) { ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size())); }

  // Reads one answer with a Content-Length body; "" when the server closed.
  std::string read_answer() {
    for (;;) {
      const std::size_t head_end = pending_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const std::size_t at = pending_.find("Content-Length: ");
        const std::size_t length = at == std::string::npos ? 0 : std::stoul(pending_.substr(at + 16));
        if (pending_.size() >= head_end + 4 + length) {
          std::string answer = pending_.substr(0, head_end + 4 + length);
          pending_.erase(0, answer.size());
          return answer;
        }
      }
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return "";
      pending_.append(buffer, std::size_t(n));
    }
  }

  // True when the server closes the connection (recv returns 0 or a reset).
  bool closed_by_server() {
    char buffer[256];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

std::string get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n"; }

std::string body_of(const std::string& answer) { return answer.substr(answer.find("\r\n\r\n") + 4); }

// Answers every request from a separate worker thread, like raftd's apply thread:
// the body echoes the request target.
class DeferredAnswers {
 public:
  DeferredAnswers() : worker_([this] { run(); }) {}
  ~DeferredAnswers() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    worker_.join();
  }
  Handler handler() {
    return [this](Request&& request, Responder respond) {
      std::lock_guard lock(mutex_);
      queue_.emplace_back(std::string(request.target()), std::move(respond));
      wake_.notify_one();
    };
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return done_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto [target, respond] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      respond(json_response(beast_http::status::ok, target));
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<std::string, Responder>> queue_;
  bool done_ = false;
  std::thread worker_;  // last: starts after the members it uses
};

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options, Handler handler) {
    options.port = 0;
    server_ = std::make_unique<Server>(io_, options, std::move(handler));
    ASSERT_TRUE(server_->start().ok());
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
  }

  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread io_thread_;
};

TEST_F(ServerTest, AnswersFromAnotherThreadReachTheirConnectionsInOrder) {
  DeferredAnswers answers;
  ServerOptions options;
  options.threads = 2;
  start(options, answers.handler());
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int c = 0; c < 6; ++c) {
    clients.push_back(std::make_unique<RawClient>(server_->port()));
    ASSERT_TRUE(clients.back()->connected());
  }
  // Keep-alive: every connection carries several requests, one after the other.
  for (int round = 0; round < 5; ++round) {
    for (int c = 0; c < 6; ++c) clients[c]->send(get("/c" + std::to_string(c) + "/r" + std::to_string(round)));
    for (int c = 0; c < 6; ++c) {
      const std::string answer = clients[c]->read_answer();
      ASSERT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
      EXPECT_EQ(body_of(answer), "/c" + std::to_string(c) + "/r" + std::to_string(round));
    }
  }
}

TEST_F(ServerTest, OversizedBodyGets413AndGarbageGets400) {
  DeferredAnswers answers;
  ServerOptions options;
  options.body_limit_bytes = 1000;
  start(options, answers.handler());

  RawClient big(server_->port());
  big.send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'v'));
  const std::string too_large = big.read_answer();
  EXPECT_EQ(too_large.rfind("HTTP/1.1 413 ", 0), 0u) << too_large;
  EXPECT_NE(too_large.find("Connection: close"), std::string::npos) << too_large;

  RawClient garbage(server_->port());
  garbage.send("NOT HTTP AT ALL\r\n\r\n");
  const std::string bad = garbage.read_answer();
  EXPECT_EQ(bad.rfind("HTTP/1.1 400 ", 0), 0u) << bad;

  RawClient fine(server_->port());  // and the server goes on serving
  fine.send(get("/after"));
  EXPECT_EQ(body_of(fine.read_answer()), "/after");
}

TEST_F(ServerTest, IdleConnectionClosesAfterTheReadTimeout) {
  DeferredAnswers answers;
  ServerOptions options;
  options.read_timeout = 100ms;
  start(options, answers.handler());
  RawClient idle(server_->port());
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
}

TEST_F(ServerTest, HttpOneZeroAnswerCarriesItsVersionAndCloses) {
  DeferredAnswers answers;
  start(ServerOptions{}, answers.handler());
  RawClient client(server_->port());
  client.send("GET /old HTTP/1.0\r\n\r\n");
  const std::string answer = client.read_answer();
  EXPECT_EQ(answer.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << answer;
  EXPECT_EQ(body_of(answer), "/old");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_F(ServerTest, StopWithAnUnansweredRequestDropsTheLateAnswer) {
  std::mutex mutex;
  std::vector<Responder> held;
  start(ServerOptions{}, [&](Request&&, Responder respond) {
    std::lock_guard lock(mutex);
    held.push_back(std::move(respond));
  });
  RawClient client(server_->port());
  client.send(get("/never"));
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mutex);
      if (!held.empty()) break;
    }
    std::this_thread::sleep_for(2ms);
  }
  server_->stop();
  EXPECT_TRUE(client.closed_by_server());
  std::lock_guard lock(mutex);
  ASSERT_EQ(held.size(), 1u);
  held[0](json_response(beast_http::status::ok, "late"));  // dropped, no crash
  held.clear();
}

}  // namespace
}  // namespace raft::http
