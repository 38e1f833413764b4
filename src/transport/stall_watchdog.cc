#include "src/transport/stall_watchdog.h"

namespace raft::transport {

StallWatchdog::StallWatchdog(boost::asio::io_context& io, std::chrono::milliseconds period,
                             std::function<void()> on_stall)
    : timer_(io), period_(period), on_stall_(std::move(on_stall)) {}

void StallWatchdog::start() {
  arm();
}

void StallWatchdog::stop() {
  stopped_ = true;
  timer_.cancel();
}

void StallWatchdog::arm() {
  timer_.expires_after(period_);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    if (self->waiting_ && !self->progressed_) {
      self->stopped_ = true;
      self->on_stall_();
      return;
    }
    self->progressed_ = false;
    self->arm();
  });
}

}  // namespace raft::transport
