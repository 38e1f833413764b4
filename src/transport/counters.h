// The transport's statistics, counted with relaxed atomics: they are bumped from the
// io thread, the disk thread and callers' threads, read by monitoring, and never used
// to synchronize anything, so no ordering is needed.
#pragma once

#include <atomic>
#include <cstdint>

#include "raft/transport.h"

namespace raft::transport {

struct Counters {
  std::atomic<std::uint64_t> messages_sent{0};      // written to the peer's connection
  std::atomic<std::uint64_t> messages_dropped{0};   // never written: queue full, peer down
  std::atomic<std::uint64_t> bytes_sent{0};         // request bodies written
  std::atomic<std::uint64_t> bytes_received{0};     // request bodies read
  std::atomic<std::uint64_t> rejected_requests{0};  // answered 4xx/5xx or cut off

  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  TransportStats read() const {
    TransportStats s;
    s.messages_sent = messages_sent.load(std::memory_order_relaxed);
    s.messages_dropped = messages_dropped.load(std::memory_order_relaxed);
    s.bytes_sent = bytes_sent.load(std::memory_order_relaxed);
    s.bytes_received = bytes_received.load(std::memory_order_relaxed);
    s.rejected_requests = rejected_requests.load(std::memory_order_relaxed);
    return s;
  }
};

}  // namespace raft::transport
