#include "src/transport/connector.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "src/transport/address.h"

namespace raft::transport {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Connector::Connector(net::io_context& io) : resolver_(io), resolve_deadline_(io) {}

void Connector::cancel() {
  resolver_.cancel();
  resolve_deadline_.cancel();
}

net::awaitable<boost::beast::error_code> Connector::connect(boost::beast::tcp_stream& stream,
                                                            const std::string& address,
                                                            std::chrono::milliseconds timeout) {
  const std::optional<HostPort> target = parse_host_port(address);
  if (!target || target->port == 0)
    co_return net::error::make_error_code(net::error::invalid_argument);

  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const net::ip::address ip = net::ip::make_address(target->host, ec);
  if (!ec) {
    endpoints.emplace_back(ip, target->port);
  } else {
    const std::uint64_t resolution = ++resolution_;
    resolve_deadline_.expires_after(timeout);
    resolve_deadline_.async_wait([this, resolution](const boost::system::error_code& wait_ec) {
      // The timer lives in this object, whose destruction cancels the wait, so `this`
      // is valid whenever the wait completes without error.
      if (!wait_ec && resolution == resolution_) resolver_.cancel();
    });
    const std::string service = std::to_string(target->port);  // named: see offload.h
    auto [resolve_ec, results] =
        co_await resolver_.async_resolve(target->host, service, net::as_tuple(net::use_awaitable));
    resolve_deadline_.cancel();
    if (resolve_ec) co_return resolve_ec;
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    if (endpoints.empty()) co_return net::error::make_error_code(net::error::host_not_found);
  }

  stream.expires_after(timeout);
  auto [connect_ec, endpoint] =
      co_await stream.async_connect(endpoints, net::as_tuple(net::use_awaitable));
  (void)endpoint;
  if (!connect_ec) stream.socket().set_option(tcp::no_delay(true), ec);
  co_return connect_ec;
}

}  // namespace raft::transport
