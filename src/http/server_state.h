// What a Server shares with its lanes: the options, the handler, the listener and the
// lanes themselves. Kept alive by every connection (see Connection::server), so an
// answer given after the server is gone still finds its lane, and is dropped there.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "src/http/lane.h"
#include "src/http/server.h"

namespace raft::http {

struct Server::State : std::enable_shared_from_this<Server::State> {
  State(boost::asio::io_context& io_context, ServerOptions opts, Handler h);

  void accept();
  void pause_accepting();  // after a failed accept: try again in kAcceptRetryPause

  static constexpr std::chrono::milliseconds kAcceptRetryPause{50};

  boost::asio::io_context& io;
  ServerOptions options;
  Handler handler;
  boost::asio::ip::tcp::acceptor acceptor;
  std::vector<std::unique_ptr<detail::Lane>> lanes;
  IoBackend backend;  // the one the lanes use
  std::size_t next_lane = 0;  // round robin; the accept chain only
  std::atomic<bool> stopped{false};
};

}  // namespace raft::http
