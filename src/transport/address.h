// Peer addresses as the membership records them: "host:port" strings, with IPv6
// literals in brackets ("[::1]:7001"). Parsing lives here, once, so the listener and
// every client agree on what an address means and a bad one is an error value, not
// an exception thrown deep inside a connect.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace raft::transport {

struct HostPort {
  std::string host;  // a name or an IP literal, without brackets
  std::uint16_t port = 0;
};

// Splits "host:port". Port 0 is accepted (listening on an ephemeral port); an empty
// host, a missing or non-numeric port, or a port above 65535 give nullopt.
std::optional<HostPort> parse_host_port(std::string_view address);

// "host:port" again, bracketing IPv6 literals.
std::string format_host_port(const HostPort& address);

}  // namespace raft::transport
