// raftd names nodes ("n1"); the library numbers them. The number is a stable hash of
// the name, so every node derives the same id from the same name without asking.
#pragma once

#include <cctype>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace raftd {

// FNV-1a 64-bit; never 0 (0 means "no node" to the library).
inline std::uint64_t node_id_from_name(std::string_view name) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash == 0 ? 1 : hash;
}

// `line` with every number that is a known node id replaced by that node's name, so
// the library's log lines ("leader is 6269...") read as "leader is n2".
inline std::string with_names(std::string_view line, const std::map<std::uint64_t, std::string>& names) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size();) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) {
      out += line[i++];
      continue;
    }
    std::size_t end = i;
    std::uint64_t value = 0;
    bool overflow = false;
    while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end]))) {
      const std::uint64_t digit = static_cast<std::uint64_t>(line[end] - '0');
      if (value > (UINT64_MAX - digit) / 10) overflow = true;
      value = value * 10 + digit;
      ++end;
    }
    const auto it = overflow ? names.end() : names.find(value);
    out += it != names.end() ? std::string_view(it->second) : line.substr(i, end - i);
    i = end;
  }
  return out;
}

// The names known so far: those at start, plus every member a configuration brings
// (a node that joins later). Thread-safe: the node may log from several threads.
class NameBook {
 public:
  void learn(std::uint64_t id, const std::string& name) {
    if (name.empty()) return;
    std::lock_guard lock(mutex_);
    names_[id] = name;
  }
  std::string rewrite(std::string_view line) const {
    std::lock_guard lock(mutex_);
    return with_names(line, names_);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::string> names_;
};

}  // namespace raftd
