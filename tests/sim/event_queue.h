// The simulator's agenda: every future happening (a message arriving, a tick, an
// fsync completing, a client timer, a fault) is an event at a simulated time.
//
// Events at the same millisecond run in an order drawn from the seed (the `tiebreak`
// the caller passes), not in insertion order, so simultaneous happenings interleave
// differently from seed to seed; a final sequence number keeps the order total and
// therefore reproducible. Bodies live in a pool of reusable slots and the heap holds
// only small keys, so a busy run moves no protobuf messages around while sifting. The
// pool is a deque: scheduling new events while handling one never moves its body.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <deque>
#include <vector>

#include "tests/sim/config.h"

namespace raft::sim {

template <typename Body>
class EventQueue {
 public:
  using Slot = std::uint32_t;

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  Time next_time() const { return heap_.front().time; }

  // Schedules an event; fill in the returned body (a reused one: overwrite every field
  // the event's kind uses).
  Body& push(Time when, std::uint64_t tiebreak) {
    Slot slot;
    if (free_.empty()) {
      slot = static_cast<Slot>(bodies_.size());
      bodies_.emplace_back();
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    heap_.push_back(Key{when, tiebreak, next_sequence_++, slot});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    return bodies_[slot];
  }

  // Removes the earliest event and returns its slot; the body stays valid until
  // release(slot). `time` receives its time.
  Slot pop(Time* time) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    const Key key = heap_.back();
    heap_.pop_back();
    *time = key.time;
    return key.slot;
  }
  Body& body(Slot slot) { return bodies_[slot]; }
  void release(Slot slot) { free_.push_back(slot); }

 private:
  struct Key {
    Time time;
    std::uint64_t tiebreak;
    std::uint64_t sequence;
    Slot slot;
  };
  struct Later {
    bool operator()(const Key& a, const Key& b) const {
      if (a.time != b.time) return a.time > b.time;
      if (a.tiebreak != b.tiebreak) return a.tiebreak > b.tiebreak;
      return a.sequence > b.sequence;
    }
  };
  std::vector<Key> heap_;
  std::deque<Body> bodies_;
  std::vector<Slot> free_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace raft::sim
