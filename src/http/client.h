// A small asynchronous HTTP/1.1 client on Boost.Beast with a keep-alive connection
// pool per address, a timeout on every request, and errors that say whether the
// request may have reached the server (a forwarded write whose answer was lost has
// an unknown outcome; one that never left certainly did not happen).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "src/http/server.h"

namespace raft::http {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds request_timeout{5000};
  std::size_t max_idle_per_address = 16;
  std::uint64_t body_limit_bytes = 64 << 20;
};

struct ClientError {
  std::string message;
  bool maybe_sent = false;  // false: the request certainly never reached the server
};

class Client {
 public:
  using Done = std::function<void(Response* response, const ClientError* error)>;

  Client(boost::asio::io_context& io, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request` to `address` (host:port). `done` is called exactly once, on an
  // io_context thread, with the response or an error.
  void send(const std::string& address, Request request, Done done);

  // Drops idle connections and refuses further sends.
  void close();

  struct State;  // public so the implementation's helpers can name it

 private:
  std::shared_ptr<State> state_;
};

}  // namespace raft::http
