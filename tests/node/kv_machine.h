// Test helpers shared by the node tests: a key-value state machine that counts where
// and how its calls ran, writes of its commands through a node, and a gate that holds
// threads as a slow disk would.
#pragma once

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "raft/node.h"
#include "raft/state_machine.h"

namespace raft::testing {

// Holds the threads that pass() while hold() is in force, as a slow disk holds a
// sync. A held thread goes on by itself after 10 s, so a broken test cannot hang.
class Gate {
 public:
  void hold() {
    std::lock_guard lock(mutex_);
    holding_ = true;
  }
  // Waits until some thread reached pass() (held or not); false if none within limit.
  bool wait_until_reached(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [this] { return reached_ > 0; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    holding_ = false;
    changed_.notify_all();
  }
  void pass() {
    std::unique_lock lock(mutex_);
    ++reached_;
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::seconds(10), [this] { return !holding_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool holding_ = false;
  int reached_ = 0;
};

// "set key value" -> returns the previous value. Thread-safe reads for the test.
class KvMachine final : public StateMachine {
 public:
  std::string apply(Index, std::string_view command) override {
    CallGuard guard(*this);
    if (const int ms = apply_delay_ms.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    std::istringstream in{std::string(command)};
    std::string op, key, value;
    in >> op >> key >> value;
    std::lock_guard lock(mutex_);
    ++applies_by_thread_[this_thread_name()];
    std::string previous = data_[key];
    data_[key] = value;
    return previous;
  }
  void save(std::ostream& out) override {
    CallGuard guard(*this);
    save_gate.pass();
    std::lock_guard lock(mutex_);
    for (const auto& [k, v] : data_) out << k << ' ' << v << '\n';
  }
  // With `capturing` set: a copy of the pairs, written out later through
  // captured_save_gate on whichever thread the node chooses (recorded).
  std::unique_ptr<CapturedState> capture() override {
    CallGuard guard(*this);
    if (const std::string fail = capture_failure(); !fail.empty()) throw std::runtime_error(fail);
    if (!capturing.load()) return nullptr;
    std::lock_guard lock(mutex_);
    return std::make_unique<Captured>(*this, data_);
  }
  void restore(std::istream& in) override {
    std::map<std::string, std::string> fresh;
    std::string k, v;
    while (in >> k >> v) fresh[k] = v;
    std::lock_guard lock(mutex_);
    data_ = std::move(fresh);
  }
  std::map<std::string, std::string> data() const {
    std::lock_guard lock(mutex_);
    return data_;
  }
  std::atomic<int> apply_delay_ms{0};  // a slow state machine

  // How many apply() calls ran on each thread, by thread name (raft-loop, raft-apply).
  std::map<std::string, int> applies_by_thread() const {
    std::lock_guard lock(mutex_);
    return applies_by_thread_;
  }
  // Calls (apply, save) that began while another was running: must stay 0.
  int overlapping_calls() const { return overlapping_calls_.load(); }

  Gate save_gate;  // every save() passes it

  std::atomic<bool> capturing{false};  // capture() copies instead of returning nullptr
  Gate captured_save_gate;             // every captured state's save() passes it
  void fail_captures(std::string why) {
    std::lock_guard lock(mutex_);
    capture_failure_ = std::move(why);
  }
  // The thread each captured state's save() ran on, in order.
  std::vector<std::string> captured_save_threads() const {
    std::lock_guard lock(mutex_);
    return captured_save_threads_;
  }

 private:
  class Captured final : public CapturedState {
   public:
    Captured(KvMachine& machine, std::map<std::string, std::string> data)
        : machine_(machine), data_(std::move(data)) {}
    void save(std::ostream& out) override {
      {
        std::lock_guard lock(machine_.mutex_);
        machine_.captured_save_threads_.push_back(this_thread_name());
      }
      machine_.captured_save_gate.pass();
      for (const auto& [k, v] : data_) out << k << ' ' << v << '\n';
    }

   private:
    KvMachine& machine_;
    const std::map<std::string, std::string> data_;
  };

  std::string capture_failure() const {
    std::lock_guard lock(mutex_);
    return capture_failure_;
  }

  struct CallGuard {
    explicit CallGuard(KvMachine& m) : machine(m) {
      if (machine.calls_running_.fetch_add(1) != 0) ++machine.overlapping_calls_;
    }
    ~CallGuard() { machine.calls_running_.fetch_sub(1); }
    KvMachine& machine;
  };
  static std::string this_thread_name() {
    char name[32] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    return name;
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::string> data_;
  std::map<std::string, int> applies_by_thread_;
  std::vector<std::string> captured_save_threads_;
  std::string capture_failure_;
  std::atomic<int> calls_running_{0};
  std::atomic<int> overlapping_calls_{0};
};

// Proposes "set k<i % 50> v<i>" for i in [from, to) through `leader`, expects every
// one to commit, and returns the pairs written (the last value of each key).
inline std::map<std::string, std::string> write_keys(Node& leader, int from, int to) {
  std::vector<std::future<Result<std::string>>> futures;
  std::map<std::string, std::string> expected;
  for (int i = from; i < to; ++i) {
    const std::string key = "k" + std::to_string(i % 50);
    const std::string value = "v" + std::to_string(i);
    futures.push_back(leader.propose("set " + key + " " + value));
    expected[key] = value;
  }
  for (auto& f : futures) {
    Result<std::string> r = f.get();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  }
  return expected;
}

}  // namespace raft::testing
