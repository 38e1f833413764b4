// The Beast types the HTTP transport's parts pass between them, named once.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string_view>

namespace raft::transport {

namespace beast_http = boost::beast::http;
using HttpRequest = beast_http::request<beast_http::string_body>;
using HttpResponse = beast_http::response<beast_http::string_body>;

// A response with `status` and, when non-empty, a short plain-text reason as body
// (a peer's operator reads it in the sender's log).
HttpResponse make_response(unsigned status, std::string_view reason = {});

}  // namespace raft::transport
