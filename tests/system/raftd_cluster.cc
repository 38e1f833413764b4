#include "tests/system/raftd_cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "src/http/client.h"

namespace raft::system_test {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

HttpReply http_call(const std::string& address, const std::string& method, const std::string& target,
                    const std::string& body, std::chrono::milliseconds timeout) {
  boost::asio::io_context io;
  http::ClientOptions options;
  options.request_timeout = timeout;
  options.connect_timeout = std::min(timeout, std::chrono::milliseconds(1000));
  http::Client client(io, options);
  http::Request request{bhttp::string_to_verb(method), target, 11};
  request.set(bhttp::field::host, address);
  request.body() = body;
  HttpReply reply;
  client.send(address, std::move(request), [&](http::Response* response, const http::ClientError* error) {
    if (response == nullptr) {
      reply.maybe_sent = error->maybe_sent;
      return;
    }
    reply.status = response->result_int();
    reply.body = response->body();
    if (auto it = response->find("X-Raft-Index"); it != response->end()) reply.raft_index = std::string(it->value());
  });
  io.run();
  return reply;
}

std::string raw_exchange(const std::string& address, const std::string& bytes, std::chrono::milliseconds timeout) {
  using boost::asio::ip::tcp;
  boost::asio::io_context io;
  tcp::socket socket(io);
  const std::size_t colon = address.rfind(':');
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(boost::asio::ip::make_address(address.substr(0, colon)),
                               static_cast<unsigned short>(std::stoi(address.substr(colon + 1)))),
                 ec);
  if (ec) return "";
  boost::asio::write(socket, boost::asio::buffer(bytes), ec);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  socket.non_blocking(true);
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    const std::size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
    if (ec == boost::asio::error::would_block) {
      std::this_thread::sleep_for(10ms);
      continue;
    }
    if (ec) break;
    out.append(buffer, n);
  }
  return out;
}

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string address(int port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

RaftdCluster::RaftdCluster(int n, std::vector<std::string> extra_flags) : extra_flags_(std::move(extra_flags)) {
  const char* binary = std::getenv("RAFTD_BIN");
  if (binary == nullptr || !std::filesystem::exists(binary)) {
    throw std::runtime_error("RAFTD_BIN must name the raftd binary");
  }
  binary_ = binary;
  char pattern[] = "/tmp/raftd-system-XXXXXX";
  root_ = ::mkdtemp(pattern);
  for (int i = 1; i <= n; ++i) {
    Member m;
    m.name = "n" + std::to_string(i);
    m.peer = address(free_port());
    m.client = address(free_port());
    m.data_dir = root_ + "/" + m.name;
    initial_cluster_ += (i > 1 ? "," : "") + m.name + "=" + m.peer;
    members_.emplace(m.name, m);
  }
  for (auto& [name, m] : members_) {
    std::vector<std::string> flags = flags_for(m);
    flags.push_back("--initial-cluster");
    flags.push_back(initial_cluster_);
    launch_flags_[name] = flags;
    spawn(m, flags);
  }
}

RaftdCluster::~RaftdCluster() {
  for (auto& [name, m] : members_) {
    if (m.pid > 0) {
      ::kill(m.pid, SIGKILL);
      ::waitpid(m.pid, nullptr, 0);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

std::vector<std::string> RaftdCluster::flags_for(const Member& m) const {
  std::vector<std::string> flags = {"--id", m.name, "--data-dir", m.data_dir, "--listen-peer", m.peer,
                                    "--listen-client", m.client, "--quiet"};
  flags.insert(flags.end(), extra_flags_.begin(), extra_flags_.end());
  return flags;
}

void RaftdCluster::spawn(Member& m, const std::vector<std::string>& flags) {
  const std::string log_path = root_ + "/" + m.name + ".log";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    std::FILE* log = std::fopen(log_path.c_str(), "a");
    if (log != nullptr) {
      ::dup2(::fileno(log), 2);
      ::dup2(::fileno(log), 1);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary_.c_str()));
    for (const std::string& f : flags) argv.push_back(const_cast<char*>(f.c_str()));
    argv.push_back(nullptr);
    ::execv(binary_.c_str(), argv.data());
    ::_exit(127);
  }
  m.pid = pid;
  m.paused = false;
  // Ready once the client port answers.
  for (int i = 0; i < 500; ++i) {
    if (http_call(m.client, "GET", "/v1/status", "", 500ms).status == 200) return;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      m.pid = 0;
      std::ifstream in(log_path);
      std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      throw std::runtime_error("raftd " + m.name + " exited at start-up: " + log);
    }
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("raftd " + m.name + " did not start serving");
}

void RaftdCluster::join(const std::string& name, const std::string& via) {
  Member m;
  m.name = name;
  m.peer = address(free_port());
  m.client = address(free_port());
  m.data_dir = root_ + "/" + name;
  std::vector<std::string> flags = flags_for(m);
  flags.push_back("--join");
  flags.push_back(members_.at(via).client);
  launch_flags_[name] = flags;
  auto [it, inserted] = members_.emplace(name, m);
  spawn(it->second, flags);
}

void RaftdCluster::kill(const std::string& name) {
  Member& m = members_.at(name);
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  ::waitpid(m.pid, nullptr, 0);
  m.pid = 0;
}

void RaftdCluster::stop(const std::string& name) {
  Member& m = members_.at(name);
  if (m.pid <= 0) return;
  if (m.paused) resume(name);
  ::kill(m.pid, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    int status = 0;
    if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {
      m.pid = 0;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(name + " exited uncleanly");
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error(name + " did not stop within 5 s of SIGTERM");
}

void RaftdCluster::restart(const std::string& name) { restart(name, {}); }

void RaftdCluster::restart(const std::string& name, const std::vector<std::string>& once) {
  Member& m = members_.at(name);
  if (m.pid > 0) kill(name);
  std::vector<std::string> flags = launch_flags_.at(name);
  flags.insert(flags.end(), once.begin(), once.end());
  spawn(m, flags);
}

void RaftdCluster::rejoin_empty(const std::string& name, const std::string& via) {
  Member& m = members_.at(name);
  if (m.pid > 0) kill(name);
  std::filesystem::remove_all(m.data_dir);
  std::vector<std::string> flags = flags_for(m);
  flags.push_back("--join");
  flags.push_back(members_.at(via).client);
  launch_flags_[name] = flags;
  spawn(m, flags);
}

void RaftdCluster::pause(const std::string& name) {
  Member& m = members_.at(name);
  ::kill(m.pid, SIGSTOP);
  m.paused = true;
}

void RaftdCluster::resume(const std::string& name) {
  Member& m = members_.at(name);
  ::kill(m.pid, SIGCONT);
  m.paused = false;
}

bool RaftdCluster::running(const std::string& name) const { return members_.at(name).pid > 0; }

std::vector<std::string> RaftdCluster::names() const {
  std::vector<std::string> out;
  for (const auto& [name, m] : members_) out.push_back(name);
  return out;
}

std::vector<std::string> RaftdCluster::running_names() const {
  std::vector<std::string> out;
  for (const auto& [name, m] : members_) {
    if (m.pid > 0 && !m.paused) out.push_back(name);
  }
  return out;
}

std::string RaftdCluster::wait_for_leader(std::chrono::milliseconds limit, const std::string& not_this) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const std::string& name : running_names()) {
      const HttpReply reply = http_call(members_.at(name).client, "GET", "/v1/status", "", 300ms);
      if (reply.status != 200) continue;
      const auto status = nlohmann::json::parse(reply.body);
      if (status.value("state", "") == "leader" && name != not_this) return name;
    }
    std::this_thread::sleep_for(20ms);
  }
  return "";
}

}  // namespace raft::system_test
