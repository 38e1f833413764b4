#include "src/http/uring_lane.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace raft::http::detail {

namespace {

// The buffer ring's memory: one io_uring_buf per entry, page-aligned (mmap).
std::size_t ring_bytes(unsigned entries) { return entries * sizeof(io_uring_buf); }

io_uring_buf_ring* map_buffer_ring(unsigned entries) {
  void* memory = ::mmap(nullptr, ring_bytes(entries), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  return memory == MAP_FAILED ? nullptr : static_cast<io_uring_buf_ring*>(memory);
}

int register_buffer_ring(io_uring& ring, io_uring_buf_ring* buffer_ring, unsigned entries, int group) {
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uint64_t>(buffer_ring);
  registration.ring_entries = entries;
  registration.bgid = std::uint16_t(group);
  return io_uring_register_buf_ring(&ring, &registration, 0);
}

__kernel_timespec timespec_of(int milliseconds) {
  __kernel_timespec ts{};
  ts.tv_sec = milliseconds / 1000;
  ts.tv_nsec = (milliseconds % 1000) * 1000000LL;
  return ts;
}

}  // namespace

bool UringLane::supported() {
  // On a thread of its own, which ends with the probe: a ring's teardown may interrupt
  // a blocking call of the thread that made it, and the caller's may be any.
  static const bool answer = [] {
    bool ok = false;
    std::thread([&ok] { ok = probe(); }).join();
    return ok;
  }();
  return answer;
}

bool UringLane::probe() {
  io_uring ring{};
  if (io_uring_queue_init(4, &ring, 0) != 0) return false;
  bool ok = false;
  if (io_uring_probe* ops = io_uring_get_probe_ring(&ring)) {
    ok = io_uring_opcode_supported(ops, IORING_OP_RECV) && io_uring_opcode_supported(ops, IORING_OP_SEND) &&
         io_uring_opcode_supported(ops, IORING_OP_READ) && io_uring_opcode_supported(ops, IORING_OP_ASYNC_CANCEL);
    io_uring_free_probe(ops);
  }
  io_uring_buf_ring* buffer_ring = ok ? map_buffer_ring(1) : nullptr;
  // Provided-buffer rings, and cancelling by descriptor, came in Linux 5.19.
  ok = buffer_ring != nullptr && register_buffer_ring(ring, buffer_ring, 1, 0) == 0;
  io_uring_queue_exit(&ring);
  if (buffer_ring != nullptr) ::munmap(buffer_ring, ring_bytes(1));
  return ok;
}

UringLane::~UringLane() {
  stop();
  if (ring_open_) io_uring_queue_exit(&ring_);
  if (buffer_ring_ != nullptr) ::munmap(buffer_ring_, ring_bytes(kBuffers));
}

Status UringLane::open() {
  auto make_ring = [this](unsigned flags) {
    io_uring_params params{};
    // Room for what completes between two turns: a receive and a send for each of a
    // few thousand connections. More waits in the kernel's overflow list (no
    // completion is lost) until the next turn collects it.
    params.flags = IORING_SETUP_CQSIZE | flags;
    params.cq_entries = kCompletionEntries;
    return io_uring_queue_init_params(kQueueEntries, &ring_, &params);
  };
  int made = make_ring(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
  if (made == -EINVAL) made = make_ring(0);  // before Linux 6.1
  if (made < 0) {
    return make_error(ErrorCode::kInternal, std::string("http server: cannot set up io_uring: ") + std::strerror(-made));
  }
  ring_open_ = true;
  buffer_ring_ = map_buffer_ring(kBuffers);
  if (buffer_ring_ == nullptr) {
    return make_error(ErrorCode::kInternal, std::string("http server: cannot map a buffer ring: ") + std::strerror(errno));
  }
  io_uring_buf_ring_init(buffer_ring_);
  if (const int r = register_buffer_ring(ring_, buffer_ring_, kBuffers, kBufferGroup); r < 0) {
    return make_error(ErrorCode::kInternal,
                      std::string("http server: cannot register io_uring buffers: ") + std::strerror(-r));
  }
  buffers_ = std::make_unique_for_overwrite<char[]>(std::size_t(kBuffers) * kBufferBytes);
  for (unsigned buffer = 0; buffer < kBuffers; ++buffer) give_back(buffer);
  read_wake_fd();
  return Ok{};
}

bool UringLane::watch(Connection&) { return true; }  // nothing to register: operations name the socket

io_uring_sqe* UringLane::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {  // the queue is full: hand it to the kernel and take a fresh one
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void UringLane::read_wake_fd() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_count_, sizeof wake_count_, 0);
  sqe->user_data = kWake;
}

void UringLane::give_back(unsigned buffer) {
  io_uring_buf_ring_add(buffer_ring_, buffers_.get() + std::size_t(buffer) * kBufferBytes, kBufferBytes,
                        std::uint16_t(buffer), io_uring_buf_ring_mask(kBuffers), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

void UringLane::poll(int timeout_ms) {
  if (timeout_ms == 0) {
    io_uring_submit_and_get_events(&ring_);
  } else {
    __kernel_timespec timeout = timespec_of(timeout_ms);
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &first, 1, &timeout, nullptr);  // -ETIME, -EINTR: carry on
  }
  woke();
  reap();
}

// Copies the completions out before acting on them: acting queues new operations, and
// a full queue is submitted on the spot, which may complete more.
void UringLane::reap() {
  completions_.clear();
  io_uring_cqe* cqe;
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    completions_.push_back({cqe->user_data, cqe->res, cqe->flags});
    ++seen;
  }
  io_uring_cq_advance(&ring_, seen);
  for (const Completion& completion : completions_) complete(completion);
}

void UringLane::complete(const Completion& completion) {
  const Op op = Op(completion.user_data & 3);
  const std::uint64_t id = completion.user_data >> 2;
  if (op == kWake) {
    if (!shutting_down_) read_wake_fd();
    return;
  }
  if (op == kCancel) return;
  std::shared_ptr<Connection> connection;
  if (auto found = connections_.find(id); found != connections_.end()) {
    connection = found->second;
  } else if (auto closed = draining_.find(id); closed != draining_.end()) {
    connection = closed->second;
  } else {
    return;  // unreachable: a connection with an operation queued is in one of the two
  }
  if (op == kReceive) {
    on_received(*connection, completion.result, completion.flags);
  } else {
    on_sent(*connection, completion.result);
  }
  if (connection->fd < 0 && !connection->receiving && !connection->sending) draining_.erase(id);
}

void UringLane::on_received(Connection& connection, int result, unsigned flags) {
  connection.receiving = false;
  const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
  const unsigned buffer = flags >> IORING_CQE_BUFFER_SHIFT;
  if (result > 0 && has_buffer && connection.fd >= 0) {
    received(connection, buffers_.get() + std::size_t(buffer) * kBufferBytes, std::size_t(result));
  }
  if (has_buffer) give_back(buffer);
  if (connection.fd < 0) return;
  // Out of buffers (every one taken in this turn; they are back now) or interrupted:
  // receive again. 0 is the client done (mid-request or not); below 0 a reset.
  if (result > 0 || result == -ENOBUFS || result == -EINTR || result == -EAGAIN) return want_read(connection);
  close(connection);
}

void UringLane::on_sent(Connection& connection, int result) {
  connection.sending = false;
  if (connection.fd < 0) return;
  if (result == -EINTR || result == -EAGAIN) return want_write(connection);
  if (result <= 0) return close(connection);  // the client reset the connection
  connection.out_sent += std::size_t(result);
  if (connection.out_sent < connection.out.size()) return want_write(connection);
  written(connection);
}

void UringLane::want_read(Connection& connection) {
  if (connection.receiving || connection.fd < 0 || connection.phase != Connection::Phase::kReading) return;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv(sqe, connection.fd, nullptr, kBufferBytes, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  sqe->user_data = connection.id << 2 | kReceive;
  connection.receiving = true;
}

void UringLane::want_write(Connection& connection) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, connection.fd, connection.out.data() + connection.out_sent,
                     connection.out.size() - connection.out_sent, MSG_NOSIGNAL);
  sqe->user_data = connection.id << 2 | kSend;
  connection.sending = true;
}

void UringLane::close(Connection& connection) {
  if (connection.fd < 0) return;
  const auto found = connections_.find(connection.id);
  if (connection.receiving || connection.sending) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel_fd(sqe, connection.fd, IORING_ASYNC_CANCEL_ALL);
    sqe->user_data = kCancel;
    io_uring_submit(&ring_);  // now, while the descriptor still names this socket
    if (found != connections_.end()) draining_.emplace(connection.id, found->second);
  }
  ::close(connection.fd);
  connection.fd = -1;
  if (found != connections_.end()) connections_.erase(found);  // answers still held elsewhere find fd < 0
}

void UringLane::shut_down() {
  shutting_down_ = true;
  std::vector<std::shared_ptr<Connection>> open;
  for (const auto& [id, connection] : connections_) open.push_back(connection);
  for (const auto& connection : open) close(*connection);
  // Wait for the kernel to report every cancelled operation, so none is left holding
  // a connection's buffer when it is freed. Cancelling is immediate for sockets; the
  // bound is only against a kernel that never answers.
  const auto give_up = Clock::now() + std::chrono::seconds(1);
  while (!draining_.empty() && Clock::now() < give_up) {
    __kernel_timespec timeout = timespec_of(10);
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &first, 1, &timeout, nullptr);
    reap();
  }
}

}  // namespace raft::http::detail
