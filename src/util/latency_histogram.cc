#include "raft/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace raft {

double LatencySnapshot::bucket_bound_seconds(std::size_t i) { return 50e-6 * std::ldexp(1.0, static_cast<int>(i)); }

double LatencySnapshot::quantile_ms(double q) const {
  if (count == 0) return 0;
  const auto target = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count)));
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= kBuckets; ++i) {
    cumulative += buckets[i];
    if (cumulative >= target) return i < kBuckets ? bucket_bound_seconds(i) * 1e3 : INFINITY;
  }
  return INFINITY;
}

void LatencyHistogram::record(std::chrono::nanoseconds latency) {
  const double seconds = static_cast<double>(latency.count()) / 1e9;
  std::size_t i = 0;
  while (i < LatencySnapshot::kBuckets && seconds > LatencySnapshot::bucket_bound_seconds(i)) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0)), std::memory_order_relaxed);
}

LatencySnapshot LatencyHistogram::snapshot() const {
  LatencySnapshot s;
  // The count is the buckets' sum, so a snapshot taken during record() is consistent.
  for (std::size_t i = 0; i < s.buckets.size(); ++i) {
    s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count += s.buckets[i];
  }
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

}  // namespace raft
