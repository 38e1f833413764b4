#include "tests/sim/snapshot.h"

#include <charconv>

namespace raft::sim {
namespace {

// Length-prefixed fields ("<length>:<bytes>"), so keys and values may hold anything.
void put_field(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

void put_number(std::string& out, std::uint64_t value) {
  put_field(out, std::to_string(value));
}

bool take_field(std::string_view& in, std::string_view* field) {
  const auto colon = in.find(':');
  if (colon == std::string_view::npos) return false;
  std::size_t length = 0;
  const auto [end, ec] = std::from_chars(in.data(), in.data() + colon, length);
  if (ec != std::errc() || end != in.data() + colon || length > in.size() - colon - 1) return false;
  *field = in.substr(colon + 1, length);
  in.remove_prefix(colon + 1 + length);
  return true;
}

bool take_number(std::string_view& in, std::uint64_t* value) {
  std::string_view field;
  if (!take_field(in, &field)) return false;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), *value);
  return ec == std::errc() && end == field.data() + field.size();
}

}  // namespace

std::string encode_snapshot_data(const SimSnapshot& snapshot) {
  std::string out;
  put_number(out, snapshot.data.size());
  for (const auto& [key, value] : snapshot.data) {
    put_field(out, key);
    put_field(out, value);
  }
  return out;
}

bool decode_snapshot_data(std::string_view in, SimSnapshot* snapshot) {
  std::uint64_t pairs = 0;
  if (!take_number(in, &pairs)) return false;
  snapshot->data.clear();
  for (std::uint64_t i = 0; i < pairs; ++i) {
    std::string_view key;
    std::string_view value;
    if (!take_field(in, &key) || !take_field(in, &value)) return false;
    snapshot->data.emplace(key, value);
  }
  return in.empty();
}

}  // namespace raft::sim
