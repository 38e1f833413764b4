// The HTTP transport's former name, kept so code written against it still builds.
// New code includes src/transport/http_transport.h and names HttpTransport.
#pragma once

#include "src/transport/http_transport.h"

namespace raft::transport {

using HttpPeerTransport = HttpTransport;

}  // namespace raft::transport
