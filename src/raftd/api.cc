#include "src/raftd/api.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "src/raftd/dashboard.h"
#include "src/raftd/kv.pb.h"
#include "src/raftd/names.h"

namespace raftd {

namespace http = raft::http;
namespace bhttp = boost::beast::http;
using json = nlohmann::json;
using raft::ErrorCode;

namespace {

constexpr char kForwardedHeader[] = "X-Raft-Forwarded";
// A removed node (NodeStatus::removed) answers what it cannot serve with this 503.
constexpr char kRemovedError[] = "this node was removed from the cluster";

http::Response error_response(bhttp::status status, const std::string& message) {
  return http::json_response(status, json{{"error", message}}.dump());
}

http::Response ok_json(const json& body) { return http::json_response(bhttp::status::ok, body.dump()); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;  // needs two hex digits
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plus_is_space && in[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

struct Target {
  std::string path;  // still percent-encoded
  std::map<std::string, std::string> query;
  bool malformed = false;
};

Target parse_target(std::string_view target) {
  Target out;
  const std::size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || !value) {
      out.malformed = true;
      return out;
    }
    if (!key->empty()) out.query[*key] = *value;
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return out;
}

const char* state_name(raft::NodeRole role) { return raft::to_string(role); }

}  // namespace

struct Api::WriteContext {
  pb::KvCommand command;
  http::Request request;  // kept to forward it
  http::Responder respond;
  Clock::time_point start;
  Clock::time_point deadline;
  bool forwarded_in = false;
};

struct Api::ReadContext {
  std::string key;
  std::string prefix;
  std::size_t limit = 0;
  bool list = false;
  raft::ReadConsistency consistency = raft::ReadConsistency::kLinearizable;
  http::Responder respond;
  Clock::time_point start;
  Clock::time_point deadline;
};

Api::Api(boost::asio::io_context& io, raft::Node& node, KvStore& kv, http::Client& client, Metrics& metrics,
         EventLog& events, ApiOptions options, std::function<raft::TransportStats()> transport_stats)
    : io_(io), node_(node), kv_(kv), client_(client), metrics_(metrics), events_(events),
      options_(std::move(options)), transport_stats_(std::move(transport_stats)) {}

// ---------------------------------------------------------------------------
// Routing

void Api::handle(http::Request&& request, http::Responder respond) {
  metrics_.http_requests.fetch_add(1, std::memory_order_relaxed);
  const Target target = parse_target(request.target());
  if (target.malformed) return respond(error_response(bhttp::status::bad_request, "malformed query string"));
  const std::string& path = target.path;
  const bhttp::verb method = request.method();
  auto method_not_allowed = [&] { respond(error_response(bhttp::status::method_not_allowed, "method not allowed")); };

  static constexpr std::string_view kKvPrefix = "/v1/kv/";
  if (path.rfind(kKvPrefix, 0) == 0) {
    const std::optional<std::string> key = percent_decode(std::string_view(path).substr(kKvPrefix.size()), false);
    if (!key) return respond(error_response(bhttp::status::bad_request, "malformed key encoding"));
    if (key->empty()) return respond(error_response(bhttp::status::bad_request, "empty key"));
    if (key->size() > options_.max_key_bytes) {
      return respond(error_response(bhttp::status::payload_too_large,
                                    "key longer than " + std::to_string(options_.max_key_bytes) + " bytes"));
    }
    switch (method) {
      case bhttp::verb::put: return handle_kv_put(std::move(request), *key, std::move(respond));
      case bhttp::verb::delete_: return handle_kv_delete(std::move(request), *key, std::move(respond));
      case bhttp::verb::get: return handle_kv_get(request, *key, std::move(respond));
      default: return method_not_allowed();
    }
  }
  if (path == "/v1/kv" || path == "/v1/kv/") {
    if (method != bhttp::verb::get) return method_not_allowed();
    return handle_kv_list(request, std::move(respond));
  }
  if (path == "/v1/status") {
    if (method != bhttp::verb::get) return method_not_allowed();
    return handle_status(std::move(respond));
  }
  if (path == "/v1/cluster") {
    if (method != bhttp::verb::get) return method_not_allowed();
    return handle_cluster(std::move(respond));
  }
  if (path == "/v1/members") {
    if (method == bhttp::verb::get) return handle_members_get(std::move(respond));
    if (method == bhttp::verb::post) return handle_members_post(std::move(request), std::move(respond));
    return method_not_allowed();
  }
  static constexpr std::string_view kMembersPrefix = "/v1/members/";
  if (path.rfind(kMembersPrefix, 0) == 0) {
    const std::optional<std::string> name = percent_decode(std::string_view(path).substr(kMembersPrefix.size()), false);
    if (!name || name->empty()) return respond(error_response(bhttp::status::bad_request, "bad member id"));
    if (method == bhttp::verb::delete_) return handle_members_delete(std::move(request), *name, std::move(respond));
    if (method == bhttp::verb::put) return handle_members_put(std::move(request), *name, std::move(respond));
    return method_not_allowed();
  }
  if (path == "/v1/leader/transfer") {
    if (method != bhttp::verb::post) return method_not_allowed();
    return handle_transfer(std::move(request), std::move(respond));
  }
  if (path == "/v1/snapshot") {
    if (method != bhttp::verb::post) return method_not_allowed();
    return handle_snapshot(std::move(respond));
  }
  if (path == "/v1/stats") {
    if (method != bhttp::verb::get) return method_not_allowed();
    return handle_stats(std::move(respond));
  }
  if (path == "/v1/events") {
    if (method != bhttp::verb::get) return method_not_allowed();
    return handle_events(std::move(respond));
  }
  if (path == "/metrics") {
    if (method != bhttp::verb::get) return method_not_allowed();
    return handle_metrics(std::move(respond));
  }
  if (path == "/" || path == "/index.html") {
    if (method != bhttp::verb::get) return method_not_allowed();
    http::Response response{bhttp::status::ok, 11};
    response.set(bhttp::field::content_type, "text/html; charset=utf-8");
    response.set(bhttp::field::cache_control, "no-cache");
    response.body() = std::string(dashboard_html());
    response.prepare_payload();
    return respond(std::move(response));
  }
  respond(error_response(bhttp::status::not_found, "no such endpoint"));
}

// ---------------------------------------------------------------------------
// Writes

void Api::handle_kv_put(http::Request&& request, const std::string& key, http::Responder respond) {
  if (request.body().size() > options_.max_value_bytes) {
    return respond(error_response(bhttp::status::payload_too_large,
                                  "value larger than " + std::to_string(options_.max_value_bytes) + " bytes"));
  }
  const Target target = parse_target(request.target());
  auto context = std::make_shared<WriteContext>();
  context->command.set_op(pb::KvCommand::PUT);
  context->command.set_key(key);
  context->command.set_value(request.body());
  if (auto it = target.query.find("prev_value"); it != target.query.end()) {
    context->command.set_has_prev_value(true);
    context->command.set_prev_value(it->second);
  }
  if (auto it = target.query.find("prev_exist"); it != target.query.end()) {
    if (it->second == "false") {
      context->command.set_create_only(true);
    } else if (it->second != "true") {
      return respond(error_response(bhttp::status::bad_request, "prev_exist must be true or false"));
    }
  }
  context->forwarded_in = request.find(kForwardedHeader) != request.end();
  context->request = std::move(request);
  context->respond = std::move(respond);
  context->start = Clock::now();
  context->deadline = context->start + options_.request_timeout;
  run_write(std::move(context));
}

void Api::handle_kv_delete(http::Request&& request, const std::string& key, http::Responder respond) {
  auto context = std::make_shared<WriteContext>();
  context->command.set_op(pb::KvCommand::DELETE);
  context->command.set_key(key);
  context->forwarded_in = request.find(kForwardedHeader) != request.end();
  context->request = std::move(request);
  context->respond = std::move(respond);
  context->start = Clock::now();
  context->deadline = context->start + options_.request_timeout;
  run_write(std::move(context));
}

void Api::run_write(std::shared_ptr<WriteContext> context) {
  // Propose first and route only when this node turns out not to lead: a status()
  // copy on every write showed in the leader's profile.
  node_.propose(context->command.SerializeAsString(), [this, context](raft::Result<std::string> result) {
    if (result.ok()) {
      pb::KvResult kv_result;
      kv_result.ParseFromString(result.value());
      metrics_.record_write(Clock::now() - context->start, true);
      switch (kv_result.code()) {
        case pb::KvResult::OK:
          // Hand-built: the hot path of every write answer.
          return context->respond(http::json_response(
              bhttp::status::ok, "{\"index\":" + std::to_string(kv_result.index()) + "}"));
        case pb::KvResult::NOT_FOUND:
          return context->respond(error_response(bhttp::status::not_found, "not found"));
        default:
          return context->respond(error_response(bhttp::status::precondition_failed, "compare failed"));
      }
    }
    const raft::Error& error = result.error();
    switch (error.code) {
      case ErrorCode::kNotLeader:
      case ErrorCode::kNoLeader:
        // Certainly not performed: forward to the leader, or wait for one.
        return route_write(context);
      case ErrorCode::kDropped:
      case ErrorCode::kInProgress:
        // Certainly not performed: try again (here or at the new leader).
        return retry_write(context);
      case ErrorCode::kTimeout:
      case ErrorCode::kShuttingDown:
        metrics_.record_write(Clock::now() - context->start, false);
        return context->respond(error_response(bhttp::status::gateway_timeout, "timeout"));
      case ErrorCode::kStorage:
      case ErrorCode::kInternal:
        // The entry may already be on other nodes, which can still commit it: the
        // outcome is unknown, so never a "not performed" 5xx.
        metrics_.record_write(Clock::now() - context->start, false);
        return context->respond(error_response(bhttp::status::gateway_timeout, "outcome unknown: " + error.message));
      case ErrorCode::kBusy:
        metrics_.record_write(Clock::now() - context->start, false);
        return context->respond(error_response(bhttp::status::service_unavailable, "busy: " + error.message));
      case ErrorCode::kTooLarge:
        return context->respond(error_response(bhttp::status::payload_too_large, error.message));
      default:
        metrics_.record_write(Clock::now() - context->start, false);
        return context->respond(error_response(bhttp::status::internal_server_error, error.message));
    }
  });
}

void Api::route_write(std::shared_ptr<WriteContext> context) {
  const raft::NodeStatus status = node_.status();
  // Became leader meanwhile: propose again. Removed: retry_write refuses it (no
  // forwarding through a node that is not a member).
  if (status.role == raft::NodeRole::kLeader || status.removed) return retry_write(context);
  const std::string leader_address = leader_client_address(status);
  if (context->forwarded_in || leader_address.empty() || leader_address == options_.client_address) {
    // No (reachable) leader yet, or a forwarded request reached a node that is no
    // longer leader: wait for one, bounded by the deadline.
    return retry_write(context);
  }
  metrics_.forwarded.fetch_add(1, std::memory_order_relaxed);
  http::Request forwarded = context->request;
  forwarded.set(kForwardedHeader, options_.name);
  forward(leader_address, std::move(forwarded), [this, context](http::Response* response, const http::ClientError* error) {
    if (response != nullptr) {
      if (response->result() == bhttp::status::service_unavailable) return retry_write(context);
      metrics_.record_write(Clock::now() - context->start, response->result() == bhttp::status::ok);
      return context->respond(std::move(*response));
    }
    if (error->maybe_sent) {
      metrics_.record_write(Clock::now() - context->start, false);
      return context->respond(error_response(bhttp::status::gateway_timeout, "timeout"));
    }
    retry_write(context);
  });
}

void Api::retry_write(std::shared_ptr<WriteContext> context) {
  if (node_.status().removed) {
    // No leader will ever talk to it: waiting out the deadline would only delay the
    // client's move to a member.
    metrics_.record_write(Clock::now() - context->start, false);
    return context->respond(error_response(bhttp::status::service_unavailable, kRemovedError));
  }
  if (Clock::now() + options_.retry_interval >= context->deadline) {
    metrics_.record_write(Clock::now() - context->start, false);
    return context->respond(error_response(bhttp::status::service_unavailable, "no leader"));
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, options_.retry_interval);
  timer->async_wait([this, context, timer](const boost::system::error_code& ec) {
    if (ec) return context->respond(error_response(bhttp::status::service_unavailable, "shutting down"));
    run_write(context);
  });
}

// ---------------------------------------------------------------------------
// Reads

void Api::handle_kv_get(const http::Request& request, const std::string& key, http::Responder respond) {
  const Target target = parse_target(request.target());
  auto context = std::make_shared<ReadContext>();
  context->key = key;
  context->respond = std::move(respond);
  context->start = Clock::now();
  context->deadline = context->start + options_.request_timeout;
  if (auto it = target.query.find("consistency"); it != target.query.end()) {
    if (it->second == "stale") {
      std::optional<std::string> value = kv_.get(key);
      const raft::NodeStatus status = node_.status();  // after the read: its index covers the value
      if (status.removed) {
        metrics_.record_read(Clock::now() - context->start, false);
        return context->respond(error_response(bhttp::status::service_unavailable, kRemovedError));
      }
      metrics_.record_read(Clock::now() - context->start, true);
      if (!value) return context->respond(error_response(bhttp::status::not_found, "not found"));
      http::Response response{bhttp::status::ok, 11};
      response.set(bhttp::field::content_type, "application/octet-stream");
      response.set("X-Raft-Index", std::to_string(status.applied_index));
      response.body() = std::move(*value);
      response.prepare_payload();
      return context->respond(std::move(response));
    }
    if (it->second == "lease") {
      context->consistency = raft::ReadConsistency::kLease;
    } else if (it->second != "linearizable" && it->second != "default") {
      return context->respond(error_response(bhttp::status::bad_request,
                                             "consistency must be stale, lease or linearizable"));
    }
  }
  run_read(std::move(context));
}

void Api::handle_kv_list(const http::Request& request, http::Responder respond) {
  const Target target = parse_target(request.target());
  auto context = std::make_shared<ReadContext>();
  context->list = true;
  context->limit = 1000;
  if (auto it = target.query.find("prefix"); it != target.query.end()) context->prefix = it->second;
  if (auto it = target.query.find("limit"); it != target.query.end()) {
    char* end = nullptr;
    const unsigned long long limit = std::strtoull(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || limit == 0 || limit > 100000) {
      return respond(error_response(bhttp::status::bad_request, "limit must be between 1 and 100000"));
    }
    context->limit = static_cast<std::size_t>(limit);
  }
  context->respond = std::move(respond);
  context->start = Clock::now();
  context->deadline = context->start + options_.request_timeout;
  run_read(std::move(context));
}

void Api::run_read(std::shared_ptr<ReadContext> context) {
  node_.read_barrier(context->consistency, [this, context](raft::Result<raft::Index> barrier) {
    if (!barrier.ok()) {
      const ErrorCode code = barrier.error().code;
      if (code == ErrorCode::kShuttingDown || code == ErrorCode::kStorage) {
        metrics_.record_read(Clock::now() - context->start, false);
        return context->respond(error_response(bhttp::status::service_unavailable, barrier.error().message));
      }
      return retry_read(context);  // reads have no effect: always safe to retry
    }
    metrics_.record_read(Clock::now() - context->start, true);
    const std::string index = std::to_string(barrier.value());
    if (context->list) {
      json items = json::array();
      for (auto& [key, value] : kv_.list(context->prefix, context->limit)) {
        items.push_back(json{{"key", key}, {"value", value}});
      }
      return context->respond(ok_json(json{{"items", std::move(items)}, {"index", barrier.value()}}));
    }
    std::optional<std::string> value = kv_.get(context->key);
    if (!value) {
      http::Response response = error_response(bhttp::status::not_found, "not found");
      response.set("X-Raft-Index", index);
      return context->respond(std::move(response));
    }
    http::Response response{bhttp::status::ok, 11};
    response.set(bhttp::field::content_type, "application/octet-stream");
    response.set("X-Raft-Index", index);
    response.body() = std::move(*value);
    response.prepare_payload();
    context->respond(std::move(response));
  });
}

void Api::retry_read(std::shared_ptr<ReadContext> context) {
  if (node_.status().removed) {
    metrics_.record_read(Clock::now() - context->start, false);
    return context->respond(error_response(bhttp::status::service_unavailable, kRemovedError));
  }
  if (Clock::now() + options_.retry_interval >= context->deadline) {
    metrics_.record_read(Clock::now() - context->start, false);
    return context->respond(error_response(bhttp::status::service_unavailable, "no leader"));
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, options_.retry_interval);
  timer->async_wait([this, context, timer](const boost::system::error_code& ec) {
    if (ec) return context->respond(error_response(bhttp::status::service_unavailable, "shutting down"));
    run_read(context);
  });
}

// ---------------------------------------------------------------------------
// Cluster administration

void Api::on_leader(http::Request&& request, http::Responder respond, std::function<void(http::Responder)> action) {
  const raft::NodeStatus status = node_.status();
  if (status.role == raft::NodeRole::kLeader) return action(std::move(respond));
  const std::string leader_address = leader_client_address(status);
  if (request.find(kForwardedHeader) != request.end() || leader_address.empty() ||
      leader_address == options_.client_address) {
    return respond(error_response(bhttp::status::service_unavailable, "no leader"));
  }
  request.set(kForwardedHeader, options_.name);
  forward(leader_address, std::move(request),
          [respond = std::move(respond)](http::Response* response, const http::ClientError* error) {
            if (response != nullptr) return respond(std::move(*response));
            respond(error_response(error->maybe_sent ? bhttp::status::gateway_timeout : bhttp::status::service_unavailable,
                                   error->message));
          });
}

void Api::forward(const std::string& address, http::Request request,
                  std::function<void(http::Response*, const http::ClientError*)> done) {
  request.set(bhttp::field::host, address);
  request.keep_alive(true);
  client_.send(address, std::move(request), std::move(done));
}

namespace {
std::optional<json> parse_json(const std::string& body) {
  try {
    return json::parse(body);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::function<void(raft::Status)> status_to_response(http::Responder respond, std::function<json()> on_ok) {
  return [respond = std::move(respond), on_ok = std::move(on_ok)](raft::Status status) {
    if (status.ok()) return respond(ok_json(on_ok()));
    const raft::Error& e = status.error();
    bhttp::status code = bhttp::status::internal_server_error;
    switch (e.code) {
      case ErrorCode::kInvalidArgument: code = bhttp::status::bad_request; break;
      case ErrorCode::kInProgress:
      case ErrorCode::kNotLeader:
      case ErrorCode::kNoLeader:
      case ErrorCode::kDropped: code = bhttp::status::service_unavailable; break;
      case ErrorCode::kTimeout:
      case ErrorCode::kShuttingDown: code = bhttp::status::gateway_timeout; break;
      default: break;
    }
    respond(error_response(code, e.message));
  };
}
}  // namespace

void Api::handle_members_get(http::Responder respond) {
  respond(http::json_response(bhttp::status::ok, json{{"members", json::parse(members_json(node_.status()))}}.dump()));
}

void Api::handle_members_post(http::Request&& request, http::Responder respond) {
  const std::optional<json> body = parse_json(request.body());
  if (!body || !body->is_object() || !body->contains("id") || !(*body)["id"].is_string() ||
      !body->contains("peer") || !(*body)["peer"].is_string()) {
    return respond(error_response(bhttp::status::bad_request, R"(body must be {"id":..,"peer":..,"client":..})"));
  }
  raft::Peer peer;
  peer.name = (*body)["id"].get<std::string>();
  peer.id = node_id_from_name(peer.name);
  peer.peer_address = (*body)["peer"].get<std::string>();
  if (body->contains("client") && (*body)["client"].is_string()) peer.client_address = (*body)["client"].get<std::string>();
  on_leader(std::move(request), std::move(respond), [this, peer](http::Responder reply) {
    for (const raft::Member& m : node_.status().members) {
      if (m.peer.id != peer.id) continue;
      // A voter that asks to join again lost its data (a retried join is answered
      // before the learner runs, so it cannot have been promoted yet). Letting it in
      // would let it vote a second time in terms it already voted in.
      if (m.voter) {
        return reply(error_response(bhttp::status::conflict,
                                    peer.name + " is already a voting member; if it lost its data, remove it "
                                                "(DELETE /v1/members/" + peer.name + ") before it joins again"));
      }
      return reply(ok_json(json{{"members", json::parse(members_json(node_.status()))}}));  // a retried join
    }
    events_.add("membership", "adding learner " + peer.name + " (" + peer.peer_address + ")");
    node_.add_learner(peer, status_to_response(std::move(reply), [this] {
                        return json{{"members", json::parse(members_json(node_.status()))}};
                      }));
  });
}

void Api::handle_members_put(http::Request&& request, const std::string& name, http::Responder respond) {
  const std::optional<json> body = parse_json(request.body());
  if (!body || !body->is_object()) return respond(error_response(bhttp::status::bad_request, "body must be a JSON object"));
  raft::Peer peer;
  peer.name = name;
  peer.id = node_id_from_name(name);
  peer.peer_address = body->value("peer", "");
  peer.client_address = body->value("client", "");
  on_leader(std::move(request), std::move(respond), [this, peer](http::Responder reply) {
    node_.update_member(peer, status_to_response(std::move(reply), [] { return json::object(); }));
  });
}

void Api::handle_members_delete(http::Request&& request, const std::string& name, http::Responder respond) {
  const raft::NodeId id = node_id_from_name(name);
  on_leader(std::move(request), std::move(respond), [this, id, name](http::Responder reply) {
    const std::vector<raft::Member> members = node_.status().members;
    if (std::none_of(members.begin(), members.end(), [id](const raft::Member& m) { return m.peer.id == id; })) {
      // Already gone (a retried DELETE): answered as the first one was.
      return reply(ok_json(json{{"members", json::parse(members_json(node_.status()))}}));
    }
    events_.add("membership", "removing " + name);
    node_.remove(id, status_to_response(std::move(reply), [this] {
                   return json{{"members", json::parse(members_json(node_.status()))}};
                 }));
  });
}

void Api::handle_transfer(http::Request&& request, http::Responder respond) {
  raft::NodeId to = 0;
  if (!request.body().empty()) {
    const std::optional<json> body = parse_json(request.body());
    if (!body || !body->is_object()) return respond(error_response(bhttp::status::bad_request, "body must be a JSON object"));
    if (body->contains("to")) {
      if (!(*body)["to"].is_string()) return respond(error_response(bhttp::status::bad_request, "\"to\" must be a node id"));
      to = node_id_from_name((*body)["to"].get<std::string>());
    }
  }
  on_leader(std::move(request), std::move(respond), [this, to](http::Responder reply) {
    node_.transfer_leadership(to, [this, reply = std::move(reply)](raft::Result<raft::NodeId> result) {
      if (!result.ok()) {
        return reply(error_response(result.error().code == ErrorCode::kInvalidArgument ? bhttp::status::bad_request
                                                                                        : bhttp::status::service_unavailable,
                                    result.error().message));
      }
      const std::string leader = name_of(result.value(), node_.status());
      events_.add("leader", "leadership transferred to " + leader);
      reply(ok_json(json{{"leader", leader}}));
    });
  });
}

void Api::handle_snapshot(http::Responder respond) {
  node_.snapshot([respond = std::move(respond)](raft::Result<raft::Index> result) {
    if (!result.ok()) return respond(error_response(bhttp::status::service_unavailable, result.error().message));
    respond(ok_json(json{{"index", result.value()}}));
  });
}

// ---------------------------------------------------------------------------
// Introspection

std::string Api::name_of(raft::NodeId id, const raft::NodeStatus& status) const {
  if (id == 0) return "";
  for (const raft::Member& m : status.members) {
    if (m.peer.id == id) return m.peer.name;
  }
  return std::to_string(id);
}

std::string Api::leader_client_address(const raft::NodeStatus& status) const {
  for (const raft::Member& m : status.members) {
    if (m.peer.id == status.leader) return m.peer.client_address;
  }
  return "";
}

std::string Api::members_json(const raft::NodeStatus& status) const {
  json members = json::array();
  for (const raft::Member& m : status.members) {
    members.push_back(json{{"id", m.peer.name}, {"peer", m.peer.peer_address}, {"client", m.peer.client_address},
                           {"voter", m.voter}});
  }
  return members.dump();
}

std::string Api::status_json() const {
  const raft::NodeStatus status = node_.status();
  json progress = json::array();
  for (const raft::ReplicationProgress& p : status.progress) {
    progress.push_back(json{{"id", name_of(p.id, status)},
                            {"match_index", p.match_index},
                            {"next_index", p.next_index},
                            {"state", p.state},
                            {"lag", status.last_index > p.match_index ? status.last_index - p.match_index : 0},
                            {"active", p.recently_active}});
  }
  json out{{"id", options_.name},
           {"state", state_name(status.role)},
           {"term", status.term},
           {"leader", name_of(status.leader, status)},
           {"commit_index", status.commit_index},
           {"applied_index", status.applied_index},
           {"last_index", status.last_index},
           {"snapshot_index", status.snapshot_index},
           {"members", json::parse(members_json(status))},
           {"progress", std::move(progress)},
           {"peer", options_.peer_address},
           {"client", options_.client_address},
           {"keys", kv_.size()}};
  if (!status.storage_failure.empty()) out["storage_failure"] = status.storage_failure;
  if (status.removed) out["removed"] = true;
  return out.dump();
}

void Api::handle_status(http::Responder respond) { respond(http::json_response(bhttp::status::ok, status_json())); }

void Api::handle_cluster(http::Responder respond) {
  // Everyone's /v1/status, gathered in parallel; a member that does not answer is
  // listed with an error so the dashboard can show it down.
  const raft::NodeStatus status = node_.status();
  struct Gather {
    std::mutex mutex;
    json nodes = json::array();
    std::size_t pending = 0;
    http::Responder respond;
  };
  auto gather = std::make_shared<Gather>();
  gather->respond = std::move(respond);
  gather->nodes.push_back(json::parse(status_json()));
  std::vector<raft::Member> others;
  for (const raft::Member& m : status.members) {
    if (m.peer.name != options_.name) others.push_back(m);
  }
  gather->pending = others.size();
  if (others.empty()) return gather->respond(ok_json(json{{"nodes", gather->nodes}}));
  auto finish = [gather](json node) {
    std::lock_guard lock(gather->mutex);
    gather->nodes.push_back(std::move(node));
    if (--gather->pending == 0) gather->respond(ok_json(json{{"nodes", gather->nodes}}));
  };
  for (const raft::Member& m : others) {
    const json unreachable{{"id", m.peer.name}, {"state", "unreachable"}, {"client", m.peer.client_address}};
    if (m.peer.client_address.empty()) {
      finish(unreachable);
      continue;
    }
    http::Request request{bhttp::verb::get, "/v1/status", 11};
    request.set(bhttp::field::host, m.peer.client_address);
    client_.send(m.peer.client_address, std::move(request),
                 [finish, unreachable](http::Response* response, const http::ClientError*) {
                   if (response == nullptr || response->result() != bhttp::status::ok) return finish(unreachable);
                   std::optional<json> body = parse_json(response->body());
                   finish(body ? std::move(*body) : unreachable);
                 });
  }
}

void Api::handle_stats(http::Responder respond) {
  json seconds = json::array();
  for (const SecondStats& s : metrics_.recent(60)) {
    seconds.push_back(json{{"t", s.unix_seconds},
                           {"writes", s.writes},
                           {"reads", s.reads},
                           {"write_p50_ms", s.write_p50_ms},
                           {"write_p99_ms", s.write_p99_ms}});
  }
  respond(ok_json(json{{"seconds", std::move(seconds)}}));
}

void Api::handle_events(http::Responder respond) {
  json events = json::array();
  for (const Event& e : events_.recent()) {
    events.push_back(json{{"t_ms", e.unix_ms}, {"kind", e.kind}, {"text", e.text}});
  }
  respond(ok_json(json{{"node", options_.name}, {"events", std::move(events)}}));
}

void Api::handle_metrics(http::Responder respond) {
  const raft::NodeStatus status = node_.status();
  std::string out;
  char line[256];
  auto gauge = [&](const char* name, const char* help, double value) {
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, value);
    out += line;
  };
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                  static_cast<unsigned long long>(value));
    out += line;
  };
  gauge("raft_term", "Current term.", static_cast<double>(status.term));
  out += "# HELP raft_role 1 for this node's current role.\n# TYPE raft_role gauge\n";
  for (raft::NodeRole role : {raft::NodeRole::kLeader, raft::NodeRole::kFollower, raft::NodeRole::kCandidate,
                              raft::NodeRole::kLearner}) {
    out += std::string("raft_role{role=\"") + raft::to_string(role) + "\"} " + (status.role == role ? "1" : "0") + "\n";
  }
  gauge("raft_is_leader", "1 if this node is the leader.", status.role == raft::NodeRole::kLeader ? 1 : 0);
  gauge("raft_commit_index", "Highest log index known committed.", static_cast<double>(status.commit_index));
  gauge("raft_applied_index", "Highest log index applied to the state machine.", static_cast<double>(status.applied_index));
  gauge("raft_last_index", "Last log index.", static_cast<double>(status.last_index));
  gauge("raft_snapshot_index", "Index of the latest snapshot.", static_cast<double>(status.snapshot_index));
  gauge("raft_members", "Members in the configuration.", static_cast<double>(status.members.size()));
  gauge("raft_storage_failed", "1 once the disk failed and the node stopped accepting writes (see /v1/status).",
        status.storage_failure.empty() ? 0 : 1);
  gauge("raft_removed", "1 while this node knows it was removed from the cluster (see /v1/status).",
        status.removed ? 1 : 0);
  counter("raft_proposals_committed_total", "Commands committed and handed to the state machine on this node.", status.proposals_committed);
  counter("raft_snapshots_taken_total", "Snapshots taken by this node.", status.snapshots_taken);
  counter("raft_snapshots_installed_total", "Snapshots received from a leader and installed.", status.snapshots_installed);
  out += "# HELP raft_peer_match_index Leader's view of each follower's last matching index.\n# TYPE raft_peer_match_index gauge\n";
  for (const raft::ReplicationProgress& p : status.progress) {
    out += "raft_peer_match_index{peer=\"" + name_of(p.id, status) + "\"} " + std::to_string(p.match_index) + "\n";
  }
  out += "# HELP raft_peer_lag_entries Entries a follower is behind the leader's last index.\n# TYPE raft_peer_lag_entries gauge\n";
  for (const raft::ReplicationProgress& p : status.progress) {
    const raft::Index lag = status.last_index > p.match_index ? status.last_index - p.match_index : 0;
    out += "raft_peer_lag_entries{peer=\"" + name_of(p.id, status) + "\"} " + std::to_string(lag) + "\n";
  }
  counter("raftd_writes_total", "Client writes answered 200.", metrics_.writes_ok.load());
  counter("raftd_write_errors_total", "Client writes answered with an error.", metrics_.writes_failed.load());
  counter("raftd_reads_total", "Client reads served (every consistency level).", metrics_.reads_ok.load());
  counter("raftd_read_errors_total", "Client reads failed.", metrics_.reads_failed.load());
  counter("raftd_forwarded_total", "Writes forwarded to the leader.", metrics_.forwarded.load());
  counter("raftd_http_requests_total", "HTTP requests received on the client port.", metrics_.http_requests.load());
  if (metrics_.http_wakeups) {
    counter("raftd_http_wakeups_total",
            "Times a client API thread was woken to send answers or take a connection.",
            metrics_.http_wakeups());
  }
  render_histogram(out, "raftd_write_latency_seconds", "Client-visible latency of committed writes.",
                   metrics_.write_latency.snapshot());
  render_histogram(out, "raftd_read_latency_seconds", "Latency of client reads (every consistency level).",
                   metrics_.read_latency.snapshot());
  render_histogram(out, "raft_disk_sync_latency_seconds",
                   "Latency of the write-ahead log's fdatasync calls (one per group commit).",
                   status.disk_sync_latency);
  if (transport_stats_) {
    const raft::TransportStats t = transport_stats_();
    counter("raft_transport_messages_sent_total", "Raft messages sent to peers.", t.messages_sent);
    counter("raft_transport_messages_dropped_total", "Raft messages dropped (queue full or peer down).", t.messages_dropped);
    counter("raft_transport_bytes_sent_total", "Bytes sent to peers.", t.bytes_sent);
    counter("raft_transport_bytes_received_total", "Bytes received from peers.", t.bytes_received);
    counter("raft_transport_rejected_requests_total", "Peer requests rejected (malformed, oversized, foreign).",
            t.rejected_requests);
  }
  http::Response response{bhttp::status::ok, 11};
  response.set(bhttp::field::content_type, "text/plain; version=0.0.4");
  response.body() = std::move(out);
  response.prepare_payload();
  respond(std::move(response));
}

// ---------------------------------------------------------------------------
// Housekeeping

void Api::maintain() {
  const raft::NodeStatus status = node_.status();
  // 1. Make sure the membership records this node's client address, so followers
  //    can forward to it and the dashboard can reach it.
  for (const raft::Member& m : status.members) {
    if (m.peer.name != options_.name || registering_) continue;
    if (m.peer.client_address == options_.client_address && m.peer.peer_address == options_.peer_address) break;
    raft::Peer self{m.peer.id, options_.name, options_.peer_address, options_.client_address};
    if (status.role == raft::NodeRole::kLeader) {
      registering_ = true;
      node_.update_member(self, [this](raft::Status) { boost::asio::post(io_, [this] { registering_ = false; }); });
    } else if (const std::string leader = leader_client_address(status); !leader.empty()) {
      registering_ = true;
      http::Request request{bhttp::verb::put, "/v1/members/" + options_.name, 11};
      request.set(bhttp::field::content_type, "application/json");
      request.body() = json{{"peer", options_.peer_address}, {"client", options_.client_address}}.dump();
      forward(leader, std::move(request), [this](http::Response*, const http::ClientError*) {
        boost::asio::post(io_, [this] { registering_ = false; });
      });
    }
    break;
  }
  // 2. The leader promotes learners that caught up (raftd's --join contract).
  if (status.role != raft::NodeRole::kLeader || promoting_) return;
  for (const raft::Member& m : status.members) {
    if (m.voter) continue;
    for (const raft::ReplicationProgress& p : status.progress) {
      if (p.id != m.peer.id || p.match_index + 16 < status.commit_index || p.match_index == 0) continue;
      promoting_ = true;
      events_.add("membership", "promoting " + m.peer.name + " to voter");
      node_.promote(m.peer.id, [this](raft::Status) { boost::asio::post(io_, [this] { promoting_ = false; }); });
      return;
    }
  }
}

}  // namespace raftd
