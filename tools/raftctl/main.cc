// raftctl: a command-line client for raftd. Talks to any node's client port (the
// first endpoint that answers); followers forward writes to the leader, so any node
// will do.
//
// Exit codes: 0 success, 1 the server refused or failed (4xx/5xx), 2 bad usage,
// 3 no endpoint reachable, 4 not found (get/del of an absent key), 5 compare failed.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "src/http/client.h"

namespace {

namespace bhttp = boost::beast::http;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

enum Exit { kOk = 0, kServerError = 1, kUsage = 2, kUnreachable = 3, kNotFound = 4, kCompareFailed = 5 };

std::string percent_encode(const std::string& in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

struct Reply {
  int status = 0;
  std::string body;
  std::string index_header;
};

class Connection {
 public:
  Connection(std::vector<std::string> endpoints, std::chrono::milliseconds timeout)
      : endpoints_(std::move(endpoints)), client_(io_, make_options(timeout)) {}

  // Sends to the first endpoint that answers; nullopt if none did.
  std::optional<Reply> call(bhttp::verb method, const std::string& target, const std::string& body = "") {
    for (const std::string& endpoint : endpoints_) {
      raft::http::Request request{method, target, 11};
      request.set(bhttp::field::host, endpoint);
      if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
      request.body() = body;
      std::optional<Reply> reply;
      std::string failure;
      client_.send(endpoint, std::move(request), [&](raft::http::Response* response, const raft::http::ClientError* error) {
        if (response == nullptr) {
          failure = error->message;
          return;
        }
        Reply r;
        r.status = response->result_int();
        r.body = response->body();
        if (auto it = response->find("X-Raft-Index"); it != response->end()) r.index_header = std::string(it->value());
        reply = std::move(r);
      });
      io_.run();
      io_.restart();
      if (reply) return reply;
      last_error_ = endpoint + ": " + failure;
    }
    return std::nullopt;
  }

  const std::string& last_error() const { return last_error_; }

 private:
  static raft::http::ClientOptions make_options(std::chrono::milliseconds timeout) {
    raft::http::ClientOptions options;
    options.request_timeout = timeout;
    return options;
  }

  std::vector<std::string> endpoints_;
  boost::asio::io_context io_;
  raft::http::Client client_;
  std::string last_error_;
};

std::string error_text(const Reply& reply) {
  try {
    return json::parse(reply.body).value("error", reply.body);
  } catch (const json::exception&) {
    return reply.body;
  }
}

int report(const std::optional<Reply>& reply, const Connection& connection) {
  if (!reply) {
    std::fprintf(stderr, "raftctl: no endpoint reachable (%s)\n", connection.last_error().c_str());
    return kUnreachable;
  }
  if (reply->status == 200) return kOk;
  std::fprintf(stderr, "raftctl: %d %s\n", reply->status, error_text(*reply).c_str());
  if (reply->status == 404) return kNotFound;
  if (reply->status == 412) return kCompareFailed;
  return kServerError;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

int print_status(Connection& connection) {
  const std::optional<Reply> reply = connection.call(bhttp::verb::get, "/v1/cluster");
  if (int code = report(reply, connection); code != kOk) return code;
  json cluster = json::parse(reply->body);
  auto nodes = cluster["nodes"];
  std::sort(nodes.begin(), nodes.end(), [](const json& a, const json& b) { return a.value("id", "") < b.value("id", ""); });
  std::map<std::string, std::uint64_t> lag;
  for (const json& node : nodes) {
    if (node.value("state", "") != "leader") continue;
    for (const json& p : node["progress"]) lag[p.value("id", "")] = p.value("lag", 0);
  }
  std::printf("%s%s%s%s%s%s%s%s\n", pad("ID", 8).c_str(), pad("STATE", 13).c_str(), pad("TERM", 7).c_str(),
              pad("COMMIT", 10).c_str(), pad("APPLIED", 10).c_str(), pad("LAG", 7).c_str(), pad("CLIENT", 22).c_str(),
              "PEER");
  for (const json& node : nodes) {
    const std::string id = node.value("id", "?");
    const bool up = node.value("state", "") != "unreachable";
    std::printf("%s%s%s%s%s%s%s%s\n", pad(id, 8).c_str(), pad(node.value("state", "?"), 13).c_str(),
                pad(up ? std::to_string(node.value("term", 0)) : "-", 7).c_str(),
                pad(up ? std::to_string(node.value("commit_index", 0)) : "-", 10).c_str(),
                pad(up ? std::to_string(node.value("applied_index", 0)) : "-", 10).c_str(),
                pad(node.value("state", "") == "leader" ? "-" : (lag.count(id) ? std::to_string(lag[id]) : "?"), 7).c_str(),
                pad(node.value("client", ""), 22).c_str(), node.value("peer", "").c_str());
  }
  return kOk;
}

// The load generator: `concurrency` workers, each with its own keep-alive
// connection, write `value_bytes`-byte values to random keys for `seconds`.
int bench(const std::vector<std::string>& endpoints, int concurrency, std::size_t value_bytes, double seconds,
          std::size_t keys, bool reads) {
  boost::asio::io_context io;
  raft::http::ClientOptions options;
  options.max_idle_per_address = static_cast<std::size_t>(concurrency) + 4;
  raft::http::Client client(io, options);
  const std::string value(value_bytes, 'x');
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<double> latencies_ms;
  std::uint64_t errors = 0;
  std::mt19937_64 rng(42);
  std::function<void()> next;
  int running = concurrency;
  auto issue = std::make_shared<std::function<void()>>();
  *issue = [&, issue] {
    if (Clock::now() >= end) {
      --running;
      return;
    }
    const std::string key = "bench/" + std::to_string(rng() % keys);
    raft::http::Request request{reads ? bhttp::verb::get : bhttp::verb::put, "/v1/kv/" + key, 11};
    request.set(bhttp::field::host, endpoints.front());
    if (!reads) request.body() = value;
    const auto sent = Clock::now();
    client.send(endpoints.front(), std::move(request), [&, sent, issue](raft::http::Response* response, const raft::http::ClientError*) {
      const bool ok = response != nullptr && (response->result_int() == 200 || (reads && response->result_int() == 404));
      if (ok) {
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
      } else {
        ++errors;
      }
      (*issue)();
    });
  };
  for (int i = 0; i < concurrency; ++i) (*issue)();
  io.run();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double q) {
    if (latencies_ms.empty()) return 0.0;
    return latencies_ms[std::min(latencies_ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(latencies_ms.size())))];
  };
  std::printf("%s %zu-byte values, concurrency %d, %.1f s: %zu ok, %llu errors\n", reads ? "GET" : "PUT", value_bytes,
              concurrency, elapsed, latencies_ms.size(), static_cast<unsigned long long>(errors));
  std::printf("throughput %.0f ops/s   latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
              static_cast<double>(latencies_ms.size()) / elapsed, pct(0.5), pct(0.9), pct(0.99), pct(0.999),
              latencies_ms.empty() ? 0.0 : latencies_ms.back());
  return errors > 0 && latencies_ms.empty() ? kServerError : kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"raftctl: command-line client for raftd"};
  app.require_subcommand(1);
  std::string endpoints_text = "127.0.0.1:8001";
  int timeout_ms = 10000;
  app.add_option("--endpoints,-e", endpoints_text, "Comma-separated client addresses of raftd nodes")->capture_default_str();
  app.add_option("--timeout", timeout_ms, "Request timeout in ms")->capture_default_str();

  std::string key, value, expected, prefix, id, peer, client_address, to;
  std::size_t limit = 1000;
  bool create_only = false;
  std::string consistency;
  auto* get = app.add_subcommand("get", "Print a key's value");
  get->add_option("key", key)->required();
  get->add_option("--consistency", consistency, "linearizable (default), lease or stale");
  auto* put = app.add_subcommand("put", "Set a key");
  put->add_option("key", key)->required();
  put->add_option("value", value)->required();
  put->add_flag("--create-only", create_only, "Fail if the key exists");
  auto* cas = app.add_subcommand("cas", "Set a key only if its current value is EXPECTED");
  cas->add_option("key", key)->required();
  cas->add_option("expected", expected)->required();
  cas->add_option("value", value)->required();
  auto* del = app.add_subcommand("del", "Delete a key");
  del->add_option("key", key)->required();
  auto* list = app.add_subcommand("list", "List keys with a prefix");
  list->add_option("--prefix", prefix);
  list->add_option("--limit", limit)->capture_default_str();
  auto* status = app.add_subcommand("status", "Table of all members: role, term, commit, applied, lag");
  auto* members = app.add_subcommand("members", "Show or change the membership");
  members->require_subcommand(0, 1);
  auto* members_add = members->add_subcommand("add", "Add a node (as a learner, promoted once caught up)");
  members_add->add_option("id", id)->required();
  members_add->add_option("peer", peer, "its peer address host:port")->required();
  members_add->add_option("client", client_address, "its client address host:port");
  auto* members_remove = members->add_subcommand("remove", "Remove a node");
  members_remove->add_option("id", id)->required();
  auto* transfer = app.add_subcommand("transfer", "Transfer leadership");
  transfer->add_option("to", to, "target node (default: the most up-to-date follower)");
  auto* snapshot = app.add_subcommand("snapshot", "Take a snapshot on the node and compact its log");
  int concurrency = 16;
  std::size_t value_bytes = 100;
  double seconds = 10;
  std::size_t keys = 10000;
  bool bench_reads = false;
  auto* bench_cmd = app.add_subcommand("bench", "Load generator: ops/s and latency percentiles");
  bench_cmd->add_option("--concurrency,-c", concurrency)->capture_default_str()->check(CLI::Range(1, 4096));
  bench_cmd->add_option("--value-size", value_bytes)->capture_default_str();
  bench_cmd->add_option("--seconds", seconds)->capture_default_str();
  bench_cmd->add_option("--keys", keys)->capture_default_str()->check(CLI::Range(1, 100000000));
  bench_cmd->add_flag("--reads", bench_reads, "Linearizable GETs instead of PUTs");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }

  std::vector<std::string> endpoints;
  for (std::size_t start = 0; start <= endpoints_text.size();) {
    const std::size_t comma = endpoints_text.find(',', start);
    std::string e = endpoints_text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!e.empty()) endpoints.push_back(e);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (endpoints.empty()) {
    std::fprintf(stderr, "raftctl: --endpoints is empty\n");
    return kUsage;
  }
  Connection connection(endpoints, std::chrono::milliseconds(timeout_ms));
  const std::string kv = "/v1/kv/";

  if (*get) {
    std::string target = kv + percent_encode(key);
    if (!consistency.empty()) target += "?consistency=" + consistency;
    const auto reply = connection.call(bhttp::verb::get, target);
    if (int code = report(reply, connection); code != kOk) return code;
    std::cout << reply->body << "\n";
    return kOk;
  }
  if (*put || *cas) {
    std::string target = kv + percent_encode(key);
    if (*cas) target += "?prev_value=" + percent_encode(expected);
    if (create_only) target += "?prev_exist=false";
    const auto reply = connection.call(bhttp::verb::put, target, value);
    if (int code = report(reply, connection); code != kOk) return code;
    std::printf("OK index %llu\n", static_cast<unsigned long long>(json::parse(reply->body).value("index", 0ULL)));
    return kOk;
  }
  if (*del) {
    const auto reply = connection.call(bhttp::verb::delete_, kv + percent_encode(key));
    if (int code = report(reply, connection); code != kOk) return code;
    std::printf("deleted, index %llu\n", static_cast<unsigned long long>(json::parse(reply->body).value("index", 0ULL)));
    return kOk;
  }
  if (*list) {
    const auto reply = connection.call(bhttp::verb::get, "/v1/kv?prefix=" + percent_encode(prefix) + "&limit=" + std::to_string(limit));
    if (int code = report(reply, connection); code != kOk) return code;
    const json answer = json::parse(reply->body);  // a range-for over a temporary's member would dangle
    for (const json& item : answer["items"]) {
      std::cout << item.value("key", "") << "\t" << item.value("value", "") << "\n";
    }
    return kOk;
  }
  if (*status) return print_status(connection);
  if (*members) {
    std::optional<Reply> reply;
    if (*members_add) {
      reply = connection.call(bhttp::verb::post, "/v1/members",
                              json{{"id", id}, {"peer", peer}, {"client", client_address}}.dump());
    } else if (*members_remove) {
      reply = connection.call(bhttp::verb::delete_, "/v1/members/" + percent_encode(id));
    } else {
      reply = connection.call(bhttp::verb::get, "/v1/members");
    }
    if (int code = report(reply, connection); code != kOk) return code;
    const json answer = json::parse(reply->body);
    for (const json& m : answer["members"]) {
      std::printf("%s%s%s%s\n", pad(m.value("id", ""), 8).c_str(), pad(m.value("voter", false) ? "voter" : "learner", 9).c_str(),
                  pad(m.value("peer", ""), 22).c_str(), m.value("client", "").c_str());
    }
    return kOk;
  }
  if (*transfer) {
    const auto reply = connection.call(bhttp::verb::post, "/v1/leader/transfer", to.empty() ? "{}" : json{{"to", to}}.dump());
    if (int code = report(reply, connection); code != kOk) return code;
    std::printf("leader is now %s\n", json::parse(reply->body).value("leader", "?").c_str());
    return kOk;
  }
  if (*snapshot) {
    const auto reply = connection.call(bhttp::verb::post, "/v1/snapshot");
    if (int code = report(reply, connection); code != kOk) return code;
    std::printf("snapshot at index %llu\n", static_cast<unsigned long long>(json::parse(reply->body).value("index", 0ULL)));
    return kOk;
  }
  if (*bench_cmd) return bench(endpoints, concurrency, value_bytes, seconds, keys, bench_reads);
  return kUsage;
}
