// The Beast types the HTTP transport's parts pass between them, named once.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string_view>

namespace raft::transport {

namespace beast_http = boost::beast::http;
using HttpRequest = beast_http::request<beast_http::string_body>;
using HttpResponse = beast_http::response<beast_http::string_body>;

// The most of a peer's response body a sender reads: responses carry at most a short
// reason (make_response).
inline constexpr std::uint64_t kMaxResponseBodyBytes = 64 * 1024;

// A response with `status` and, when non-empty, a short plain-text reason as body
// (a peer's operator reads it in the sender's log).
HttpResponse make_response(unsigned status, std::string_view reason = {});

}  // namespace raft::transport
