// "1,16,256" -> {1, 16, 256}: the list flags of the bench tools.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace raft::bench {

inline std::vector<std::uint64_t> parse_list(const std::string& text) {
  std::vector<std::uint64_t> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t comma = text.find(',', start);
    out.push_back(std::stoull(text.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace raft::bench
