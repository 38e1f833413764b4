#include "tests/transport/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

#include "src/util/crc32c.h"

namespace raft::transport::testing {

// --- Snapshot store ---------------------------------------------------------

class TestSnapshotWriter final : public SnapshotWriter {
 public:
  TestSnapshotWriter(TestSnapshotStore& store, pb::SnapshotMetadata metadata)
      : store_(store), metadata_(std::move(metadata)) {
    ++store_.open_writers;
  }
  ~TestSnapshotWriter() override { --store_.open_writers; }

  void write(const char* data, std::size_t n) override {
    if (store_.fail_writes) throw std::runtime_error("injected write failure");
    data_.append(data, n);
  }

  pb::SnapshotMetadata commit() override {
    if (store_.fail_commits) throw std::runtime_error("injected commit failure");
    const std::uint32_t crc = util::crc32c(data_);
    if (metadata_.size_bytes() != 0 || metadata_.crc32c() != 0) {
      if (metadata_.size_bytes() != data_.size())
        throw std::runtime_error("snapshot size mismatch");
      if (metadata_.crc32c() != crc) throw std::runtime_error("snapshot checksum mismatch");
    }
    metadata_.set_size_bytes(data_.size());
    metadata_.set_crc32c(crc);
    std::lock_guard lock(store_.mutex_);
    store_.latest_ = metadata_;
    store_.data_ = data_;
    return metadata_;
  }

 private:
  TestSnapshotStore& store_;
  pb::SnapshotMetadata metadata_;
  std::string data_;
};

std::unique_ptr<SnapshotWriter> TestSnapshotStore::create(const pb::SnapshotMetadata& metadata) {
  return std::make_unique<TestSnapshotWriter>(*this, metadata);
}

std::optional<pb::SnapshotMetadata> TestSnapshotStore::latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

std::unique_ptr<SnapshotReader> TestSnapshotStore::open_latest() const {
  std::lock_guard lock(mutex_);
  if (!latest_) return nullptr;
  return std::make_unique<StringSnapshotReader>(*latest_, data_);
}

std::string TestSnapshotStore::latest_data() const {
  std::lock_guard lock(mutex_);
  return data_;
}

StringSnapshotReader::StringSnapshotReader(pb::SnapshotMetadata metadata, std::string data)
    : metadata_(std::move(metadata)), data_(std::move(data)) {}

std::size_t StringSnapshotReader::read(char* buffer, std::size_t n) {
  // Short reads on purpose: readers may return less than asked.
  const std::size_t count = std::min({n, data_.size() - offset_, std::size_t{300000}});
  std::memcpy(buffer, data_.data() + offset_, count);
  offset_ += count;
  return count;
}

pb::SnapshotMetadata metadata_for(Index index, Term term, const std::string& data) {
  pb::SnapshotMetadata metadata;
  metadata.set_index(index);
  metadata.set_term(term);
  metadata.mutable_configuration()->add_voters(1);
  metadata.set_size_bytes(data.size());
  metadata.set_crc32c(util::crc32c(data));
  return metadata;
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string data(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : data) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return data;
}

// --- Collector --------------------------------------------------------------

void Collector::on_messages(std::vector<pb::Message>&& messages) {
  std::lock_guard lock(mutex_);
  ++deliveries_;
  ++calls_;
  threads_.push_back(std::this_thread::get_id());
  for (pb::Message& m : messages) messages_.push_back(std::move(m));
  changed_.notify_all();
}

std::unique_ptr<SnapshotWriter> Collector::on_snapshot_begin(const pb::Message& request) {
  {
    std::lock_guard lock(mutex_);
    ++calls_;
    threads_.push_back(std::this_thread::get_id());
  }
  if (refuse_snapshots) return nullptr;
  return store.create(request.snapshot_request().metadata());
}

void Collector::on_snapshot_received(pb::Message&& request) {
  std::lock_guard lock(mutex_);
  ++calls_;
  threads_.push_back(std::this_thread::get_id());
  snapshots_.push_back(std::move(request));
  changed_.notify_all();
}

bool Collector::wait_for_messages(std::size_t count, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, limit, [&] { return messages_.size() >= count; });
}

bool Collector::wait_for_snapshots(std::size_t count, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, limit, [&] { return snapshots_.size() >= count; });
}

std::vector<pb::Message> Collector::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::vector<pb::Message> Collector::snapshots() const {
  std::lock_guard lock(mutex_);
  return snapshots_;
}

std::size_t Collector::deliveries() const {
  std::lock_guard lock(mutex_);
  return deliveries_;
}

std::size_t Collector::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::vector<std::thread::id> Collector::threads() const {
  std::lock_guard lock(mutex_);
  return threads_;
}

// --- Messages ---------------------------------------------------------------

pb::Message heartbeat(NodeId from, NodeId to, Term term) {
  pb::Message m;
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  m.mutable_heartbeat_request()->set_commit(term);
  return m;
}

pb::Message append(NodeId from, NodeId to, Term term, std::size_t entry_bytes) {
  pb::Message m;
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  pb::Entry* entry = m.mutable_append_request()->add_entries();
  entry->set_term(term);
  entry->set_index(1);
  entry->set_data(pattern(entry_bytes, static_cast<unsigned>(term)));
  return m;
}

pb::Message snapshot_request(NodeId from, NodeId to, const pb::SnapshotMetadata& metadata) {
  pb::Message m;
  m.set_from(from);
  m.set_to(to);
  m.set_term(metadata.term());
  *m.mutable_snapshot_request()->mutable_metadata() = metadata;
  return m;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::optional<bool> DoneProbe::wait(std::chrono::milliseconds limit) {
  if (future.wait_for(limit) != std::future_status::ready) return std::nullopt;
  return future.get();
}

// --- Raw sockets ------------------------------------------------------------

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds limit) {
  const int fd = connect_loopback(port);
  if (fd < 0) return {};
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::size_t written = 0;
  std::string response;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, static_cast<short>(POLLIN | (written < bytes.size() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    if (p.revents & POLLIN) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;  // closed (or reset)
      response.append(buffer, static_cast<std::size_t>(n));
    } else if (p.revents & POLLOUT) {
      const ssize_t n = ::send(fd, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL);
      if (n < 0) break;
      written += static_cast<std::size_t>(n);
    } else {
      break;  // error or hang-up
    }
  }
  ::close(fd);
  return response;
}

int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

std::string post_bytes(const std::string& path, const std::string& body, bool close) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-protobuf\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" +
         body;
}

int http_status(std::uint16_t port, const std::string& method, const std::string& path,
                const std::string& body, const std::string& content_type) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: test\r\n";
  if (!content_type.empty()) request += "Content-Type: " + content_type + "\r\n";
  request +=
      "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  return status_of(raw_exchange(port, request));
}

SilentServer::SilentServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 8) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("SilentServer: cannot listen");
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] {
    std::vector<int> connections;
    char buffer[65536];
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (int c : connections) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = ::accept(listen_fd_, nullptr, nullptr);
        if (c >= 0) connections.push_back(c);
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
        if (n > 0) {
          std::lock_guard lock(mutex_);
          received_.append(buffer, static_cast<std::size_t>(n));
        } else {
          ::close(fds[i].fd);
          std::erase(connections, fds[i].fd);
        }
      }
    }
    for (int c : connections) ::close(c);
  });
}

SilentServer::~SilentServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::string SilentServer::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::uint16_t unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace raft::transport::testing
