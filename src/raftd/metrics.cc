#include "src/raftd/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace raftd {

void render_histogram(std::string& out, const std::string& name, const std::string& help,
                      const raft::LatencySnapshot& snapshot) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  std::uint64_t cumulative = 0;
  char line[160];
  for (std::size_t i = 0; i < raft::LatencySnapshot::kBuckets; ++i) {
    cumulative += snapshot.buckets[i];
    std::snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(),
                  raft::LatencySnapshot::bucket_bound_seconds(i), static_cast<unsigned long long>(cumulative));
    out += line;
  }
  std::snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n", name.c_str(),
                static_cast<unsigned long long>(snapshot.count), name.c_str(), snapshot.sum_seconds, name.c_str(),
                static_cast<unsigned long long>(snapshot.count));
  out += line;
}

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double quantile(std::deque<double>& values, double q) {
  if (values.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

constexpr std::size_t kMaxSamplesPerSecond = 20000;  // bounded memory under load
}  // namespace

void Metrics::roll(std::int64_t now_seconds) const {
  if (current_.unix_seconds == now_seconds) return;
  if (current_.unix_seconds != 0) {
    current_.write_p50_ms = quantile(current_write_ms_, 0.5);
    current_.write_p99_ms = quantile(current_write_ms_, 0.99);
    history_.push_back(current_);
    while (history_.size() > 120) history_.pop_front();
  }
  current_ = SecondStats{};
  current_.unix_seconds = now_seconds;
  current_write_ms_.clear();
}

void Metrics::record_write(std::chrono::nanoseconds latency, bool ok) {
  (ok ? writes_ok : writes_failed).fetch_add(1, std::memory_order_relaxed);
  if (ok) write_latency.record(latency);
  std::lock_guard lock(mutex_);
  roll(unix_now());
  ++current_.writes;
  if (ok && current_write_ms_.size() < kMaxSamplesPerSecond) {
    current_write_ms_.push_back(static_cast<double>(latency.count()) / 1e6);
  }
}

void Metrics::record_read(std::chrono::nanoseconds latency, bool ok) {
  (ok ? reads_ok : reads_failed).fetch_add(1, std::memory_order_relaxed);
  if (ok) read_latency.record(latency);
  std::lock_guard lock(mutex_);
  roll(unix_now());
  ++current_.reads;
}

std::deque<SecondStats> Metrics::recent(std::size_t seconds) const {
  std::lock_guard lock(mutex_);
  roll(unix_now());
  std::deque<SecondStats> out;
  const std::int64_t now = unix_now();
  for (const SecondStats& s : history_) {
    if (s.unix_seconds >= now - static_cast<std::int64_t>(seconds)) out.push_back(s);
  }
  return out;
}

}  // namespace raftd
