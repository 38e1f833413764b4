#include "src/transport/http_types.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

namespace raft::transport {

HttpResponse make_response(unsigned status, std::string_view reason) {
  HttpResponse response{static_cast<beast_http::status>(status), 11};
  if (!reason.empty()) {
    response.set(beast_http::field::content_type, "text/plain");
    response.body().assign(reason.data(), reason.size());
    response.body().push_back('\n');
  }
  return response;
}

}  // namespace raft::transport
