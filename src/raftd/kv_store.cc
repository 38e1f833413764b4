#include "src/raftd/kv_store.h"

#include <charconv>
#include <istream>
#include <mutex>
#include <ostream>
#include <stdexcept>

#include "src/raftd/kv.pb.h"

namespace raftd {

namespace {

// Snapshot format: a magic line, then for each pair: key length, value length (both
// as decimal text followed by a space and a newline-free separator), the key bytes,
// the value bytes. Lengths make arbitrary bytes in keys and values safe.
constexpr char kMagic[] = "raftd-kv-v1\n";

void append_number(std::uint64_t n, std::string& out) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

void append_blob(std::string_view blob, std::string& out) {
  append_number(blob.size(), out);
  out += ' ';
  out.append(blob);
}

// A finished image: writing it out needs nothing from the store.
class CapturedImage final : public raft::CapturedState {
 public:
  explicit CapturedImage(std::string image) : image_(std::move(image)) {}
  void save(std::ostream& out) override {
    out.write(image_.data(), static_cast<std::streamsize>(image_.size()));
    if (!out) throw std::runtime_error("kv snapshot: write failed");
  }

 private:
  std::string image_;
};

std::string read_blob(std::istream& in) {
  std::size_t size = 0;
  if (!(in >> size) || in.get() != ' ') throw std::runtime_error("kv snapshot: bad length");
  std::string blob(size, '\0');
  if (!in.read(blob.data(), static_cast<std::streamsize>(size))) {
    throw std::runtime_error("kv snapshot: truncated");
  }
  return blob;
}

}  // namespace

std::string KvStore::apply(raft::Index index, std::string_view command) {
  pb::KvCommand cmd;
  pb::KvResult result;
  result.set_index(index);
  std::unique_lock lock(mutex_);
  applied_index_ = index;
  if (!cmd.ParseFromArray(command.data(), static_cast<int>(command.size()))) {
    result.set_code(pb::KvResult::COMPARE_FAILED);
    return result.SerializeAsString();
  }
  auto found = pairs_.find(cmd.key());
  const bool exists = found != pairs_.end();
  switch (cmd.op()) {
    case pb::KvCommand::PUT:
      if (cmd.create_only() && exists) {
        result.set_code(pb::KvResult::COMPARE_FAILED);
      } else if (cmd.has_prev_value() && (!exists || found->second != cmd.prev_value())) {
        result.set_code(pb::KvResult::COMPARE_FAILED);
      } else if (exists) {
        pair_bytes_ = pair_bytes_ - found->second.size() + cmd.value().size();
        found->second = std::move(*cmd.mutable_value());
      } else {
        pair_bytes_ += cmd.key().size() + cmd.value().size();
        keys_.insert(cmd.key());
        pairs_.emplace(std::move(*cmd.mutable_key()), std::move(*cmd.mutable_value()));
      }
      break;
    case pb::KvCommand::DELETE:
      if (!exists) {
        result.set_code(pb::KvResult::NOT_FOUND);
      } else {
        pair_bytes_ -= found->first.size() + found->second.size();
        keys_.erase(found->first);
        pairs_.erase(found);
      }
      break;
    default: result.set_code(pb::KvResult::COMPARE_FAILED); break;
  }
  return result.SerializeAsString();
}

// One pass over the pairs into one buffer sized beforehand: under the apply thread's
// hold this is the whole cost of a snapshot, so no stream formatting and no regrowth.
std::string KvStore::image() const {
  std::shared_lock lock(mutex_);
  std::string out;
  out.reserve(sizeof kMagic + 48 + pair_bytes_ + keys_.size() * 2 * 8);
  out += kMagic;
  append_number(applied_index_, out);
  out += ' ';
  append_number(keys_.size(), out);
  out += '\n';
  for (const std::string& key : keys_) {
    append_blob(key, out);
    append_blob(pairs_.find(key)->second, out);
  }
  return out;
}

void KvStore::save(std::ostream& out) {
  CapturedImage(image()).save(out);
}

std::unique_ptr<raft::CapturedState> KvStore::capture() {
  return std::make_unique<CapturedImage>(image());
}

void KvStore::restore(std::istream& in) {
  std::string magic(sizeof kMagic - 1, '\0');
  if (!in.read(magic.data(), static_cast<std::streamsize>(magic.size())) || magic != kMagic) {
    throw std::runtime_error("kv snapshot: not a raftd snapshot");
  }
  raft::Index applied = 0;
  std::size_t count = 0;
  if (!(in >> applied >> count) || in.get() != '\n')
    throw std::runtime_error("kv snapshot: bad header");
  // Built aside, then swapped in: a bad snapshot changes nothing, and readers wait
  // only for the swap.
  Pairs pairs;
  Keys keys;
  std::uint64_t pair_bytes = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::string key = read_blob(in);
    std::string value = read_blob(in);
    pair_bytes += key.size() + value.size();
    if (!keys.insert(key).second) throw std::runtime_error("kv snapshot: a key appears twice");
    pairs.emplace(std::move(key), std::move(value));
  }
  std::unique_lock lock(mutex_);
  pairs_.swap(pairs);
  keys_.swap(keys);
  pair_bytes_ = pair_bytes;
  applied_index_ = applied;
}

std::optional<std::string> KvStore::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  auto found = pairs_.find(key);
  if (found == pairs_.end()) return std::nullopt;
  return found->second;
}

std::vector<std::pair<std::string, std::string>> KvStore::list(const std::string& prefix,
                                                               std::size_t limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::shared_lock lock(mutex_);
  for (auto it = keys_.lower_bound(prefix); it != keys_.end() && out.size() < limit; ++it) {
    if (it->compare(0, prefix.size(), prefix) != 0) break;
    out.emplace_back(*it, pairs_.find(*it)->second);
  }
  return out;
}

raft::Index KvStore::applied_index() const {
  std::shared_lock lock(mutex_);
  return applied_index_;
}

std::size_t KvStore::size() const {
  std::shared_lock lock(mutex_);
  return pairs_.size();
}

}  // namespace raftd
