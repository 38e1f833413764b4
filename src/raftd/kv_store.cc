#include "src/raftd/kv_store.h"

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

void write_blob(std::ostream& out, const std::string& blob) {
  out << blob.size() << ' ';
  out.write(blob.data(), static_cast<std::streamsize>(blob.size()));
}

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
  auto found = index_.find(cmd.key());
  const bool exists = found != index_.end();
  switch (cmd.op()) {
    case pb::KvCommand::PUT:
      if (cmd.create_only() && exists) {
        result.set_code(pb::KvResult::COMPARE_FAILED);
      } else if (cmd.has_prev_value() && (!exists || found->second->second != cmd.prev_value())) {
        result.set_code(pb::KvResult::COMPARE_FAILED);
      } else if (exists) {
        found->second->second = std::move(*cmd.mutable_value());
      } else {
        const auto pair =
            data_.emplace(std::move(*cmd.mutable_key()), std::move(*cmd.mutable_value())).first;
        index_.emplace(pair->first, pair);
      }
      break;
    case pb::KvCommand::DELETE:
      if (!exists) {
        result.set_code(pb::KvResult::NOT_FOUND);
      } else {
        const Map::iterator pair = found->second;
        index_.erase(found);  // first: its key is a view of the pair's
        data_.erase(pair);
      }
      break;
    default: result.set_code(pb::KvResult::COMPARE_FAILED); break;
  }
  return result.SerializeAsString();
}

void KvStore::save(std::ostream& out) {
  std::shared_lock lock(mutex_);
  out << kMagic << applied_index_ << ' ' << data_.size() << '\n';
  for (const auto& [key, value] : data_) {
    write_blob(out, key);
    write_blob(out, value);
  }
  if (!out) throw std::runtime_error("kv snapshot: write failed");
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
  Map fresh;
  for (std::size_t i = 0; i < count; ++i) {
    std::string key = read_blob(in);
    fresh.emplace(std::move(key), read_blob(in));
  }
  std::unique_lock lock(mutex_);
  data_ = std::move(fresh);
  reindex();
  applied_index_ = applied;
}

void KvStore::reindex() {
  index_.clear();
  index_.reserve(data_.size());
  for (auto it = data_.begin(); it != data_.end(); ++it) index_.emplace(it->first, it);
}

std::optional<std::string> KvStore::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  return found->second->second;
}

std::vector<std::pair<std::string, std::string>> KvStore::list(const std::string& prefix,
                                                               std::size_t limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::shared_lock lock(mutex_);
  for (auto it = data_.lower_bound(prefix); it != data_.end() && out.size() < limit; ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

raft::Index KvStore::applied_index() const {
  std::shared_lock lock(mutex_);
  return applied_index_;
}

std::size_t KvStore::size() const {
  std::shared_lock lock(mutex_);
  return data_.size();
}

}  // namespace raftd
