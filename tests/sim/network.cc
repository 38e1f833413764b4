#include "tests/sim/network.h"

#include <algorithm>

#include "tests/sim/trace.h"

namespace raft::sim {

const char* to_string(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kSplit: return "split";
    case PartitionKind::kIsolate: return "isolate";
    case PartitionKind::kMajorityMinority: return "majority/minority";
    case PartitionKind::kOneWay: return "one-way";
    case PartitionKind::kBridge: return "bridge";
  }
  return "?";
}

namespace {

std::string group(const std::vector<core::NodeId>& ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(ids[i]);
  }
  return out + "}";
}

}  // namespace

SimNetwork::SimNetwork(int node_count, const NetworkConfig& config, std::uint64_t seed)
    : node_count_(node_count),
      config_(config),
      rng_(seed),
      cut_(static_cast<std::size_t>(node_count * node_count), false),
      in_flight_(static_cast<std::size_t>(node_count * node_count), 0) {}

Time SimNetwork::delay() {
  if (config_.spike_ppm > 0 && rng_.chance(config_.spike_ppm, 1'000'000)) {
    return rng_.between(config_.max_delay_ms, std::max(config_.max_delay_ms, config_.spike_max_ms));
  }
  return rng_.between(config_.min_delay_ms, config_.max_delay_ms);
}

SimNetwork::Route SimNetwork::route(core::NodeId from, core::NodeId to) {
  Route r;
  std::uint32_t& queued = in_flight_[index(from, to)];
  if (queued >= config_.max_in_flight_per_link ||
      (config_.drop_ppm > 0 && rng_.chance(config_.drop_ppm, 1'000'000))) {
    ++dropped_;
    return r;
  }
  r.delay_ms[r.copies++] = delay();
  if (config_.duplicate_ppm > 0 && queued + 1 < config_.max_in_flight_per_link &&
      rng_.chance(config_.duplicate_ppm, 1'000'000)) {
    r.delay_ms[r.copies++] = delay();
    ++duplicated_;
  }
  queued += static_cast<std::uint32_t>(r.copies);
  return r;
}

void SimNetwork::arrived(core::NodeId from, core::NodeId to) {
  std::uint32_t& queued = in_flight_[index(from, to)];
  if (queued > 0) --queued;
}

std::vector<core::NodeId> SimNetwork::shuffled_ids(core::NodeId focus) {
  std::vector<core::NodeId> ids;
  for (int i = 1; i <= node_count_; ++i) ids.push_back(static_cast<core::NodeId>(i));
  for (std::size_t i = ids.size(); i > 1; --i) std::swap(ids[i - 1], ids[rng_.below(i)]);
  if (focus != core::kNoNode) std::swap(ids[0], *std::find(ids.begin(), ids.end(), focus));
  return ids;
}

void SimNetwork::separate(const std::vector<core::NodeId>& a, const std::vector<core::NodeId>& b) {
  for (core::NodeId x : a) {
    for (core::NodeId y : b) cut_both(x, y);
  }
}

std::string SimNetwork::partition(PartitionKind kind, core::NodeId focus) {
  partitioned_ = true;
  std::vector<core::NodeId> ids = shuffled_ids(focus);
  const auto n = ids.size();
  const auto side = [&](std::size_t lo, std::size_t hi) {
    std::vector<core::NodeId> out(ids.begin() + static_cast<std::ptrdiff_t>(lo),
                                  ids.begin() + static_cast<std::ptrdiff_t>(hi));
    std::sort(out.begin(), out.end());
    return out;
  };
  switch (kind) {
    case PartitionKind::kSplit: {
      const std::size_t k = rng_.between(1, n - 1);
      const auto a = side(0, k), b = side(k, n);
      separate(a, b);
      return group(a) + " | " + group(b);
    }
    case PartitionKind::kIsolate: {
      const auto a = side(0, 1), b = side(1, n);
      separate(a, b);
      return group(a) + " isolated";
    }
    case PartitionKind::kMajorityMinority: {
      const std::size_t minority = (n - 1) / 2;
      const auto a = side(0, minority), b = side(minority, n);
      separate(a, b);
      return group(a) + " | " + group(b) + " (minority | majority)";
    }
    case PartitionKind::kOneWay: {
      // Some directed links only: x hears nothing from the others (or vice versa).
      const core::NodeId x = ids[0];
      const bool inbound = rng_.chance(1, 2);
      std::string out;
      for (std::size_t i = 1; i < n; ++i) {
        if (!rng_.chance(2, 3)) continue;
        if (inbound) {
          cut(ids[i], x);
          out += std::to_string(ids[i]) + "->" + std::to_string(x) + " ";
        } else {
          cut(x, ids[i]);
          out += std::to_string(x) + "->" + std::to_string(ids[i]) + " ";
        }
      }
      return out.empty() ? "one-way: nothing cut" : "one-way cut " + out;
    }
    case PartitionKind::kBridge: {
      // ids[0] is the bridge; the rest split in two non-empty sides that only it joins.
      if (n < 3) return partition(PartitionKind::kSplit, focus);
      const std::size_t k = rng_.between(2, n - 1);
      const auto a = side(1, k), b = side(k, n);
      separate(a, b);
      return group(a) + " | " + group(b) + " bridged by " + std::to_string(ids[0]);
    }
  }
  return "?";
}

std::string SimNetwork::partition_random(core::NodeId focus) {
  static constexpr PartitionKind kKinds[] = {PartitionKind::kSplit, PartitionKind::kIsolate,
                                             PartitionKind::kMajorityMinority,
                                             PartitionKind::kOneWay, PartitionKind::kBridge};
  const PartitionKind kind = kKinds[rng_.below(std::size(kKinds))];
  return std::string(to_string(kind)) + ": " + partition(kind, focus);
}

std::string SimNetwork::deafen(core::NodeId x) {
  for (int i = 1; i <= node_count_; ++i) {
    if (static_cast<core::NodeId>(i) != x) cut(static_cast<core::NodeId>(i), x);
  }
  return node_tag(x) + " hears nobody";
}

void SimNetwork::heal() {
  std::fill(cut_.begin(), cut_.end(), false);
  partitioned_ = false;
}

void SimNetwork::quiet() {
  config_.drop_ppm = 0;
  config_.duplicate_ppm = 0;
  config_.spike_ppm = 0;
}

}  // namespace raft::sim
