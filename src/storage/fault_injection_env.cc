#include "src/storage/fault_injection_env.h"

#include <algorithm>
#include <cerrno>
#include <thread>

namespace raft::storage {

struct FaultInjectionEnv::Inode {
  std::string data;     // what a read sees now
  std::string durable;  // what survives a crash
};

struct FaultInjectionEnv::State {
  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<Inode>> names;          // current
  std::map<std::string, std::shared_ptr<Inode>> durable_names;  // after the last sync_dir
  std::set<std::string> dirs;
  bool fail_syncs = false;
  bool fail_writes = false;
  std::chrono::microseconds sync_delay{0};
  std::uint64_t capacity_bytes = 0;
  std::uint64_t syncs = 0;
  std::uint64_t ops = 0;
  std::uint64_t freeze_at = ~std::uint64_t{0};

  // Counts one mutating call; false once the process is "dead".
  bool step() {
    if (ops >= freeze_at) return false;
    ++ops;
    return true;
  }

  std::uint64_t used_bytes() const {
    std::uint64_t total = 0;
    std::set<const Inode*> seen;
    for (const auto& [name, inode] : names) {
      if (seen.insert(inode.get()).second) total += inode->data.size();
    }
    return total;
  }

  // Checks a write that grows `inode` to `new_size` bytes.
  Status check_write(const std::string& path, std::uint64_t offset, const Inode& inode,
                     std::uint64_t new_size) {
    if (fail_writes || !step()) return io_error_at("write", path, offset, EIO);
    if (capacity_bytes != 0 && new_size > inode.data.size() &&
        used_bytes() + (new_size - inode.data.size()) > capacity_bytes) {
      return io_error_at("write", path, offset, ENOSPC);
    }
    return Ok{};
  }
};

namespace {

std::string parent_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

using Inode = FaultInjectionEnv::Inode;
using State = FaultInjectionEnv::State;

class MemRandomAccessFile final : public RandomAccessFile {
 public:
  MemRandomAccessFile(std::shared_ptr<State> state, std::shared_ptr<Inode> inode, std::string path)
      : state_(std::move(state)), inode_(std::move(inode)), path_(std::move(path)) {}

  Status read_at(std::uint64_t offset, std::size_t n, std::string* out) const override {
    std::lock_guard lock(state_->mu);
    if (offset >= inode_->data.size()) {
      out->clear();
    } else {
      *out = inode_->data.substr(offset, n);
    }
    return Ok{};
  }
  Result<std::uint64_t> size() const override {
    std::lock_guard lock(state_->mu);
    return static_cast<std::uint64_t>(inode_->data.size());
  }
  const std::string& path() const override { return path_; }

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<Inode> inode_;
  std::string path_;
};

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(std::shared_ptr<State> state, std::shared_ptr<Inode> inode, std::string path)
      : state_(std::move(state)), inode_(std::move(inode)), path_(std::move(path)) {}

  Status append(std::string_view data) override {
    std::uint64_t end;
    {
      std::lock_guard lock(state_->mu);
      end = inode_->data.size();
    }
    return write_at(end, data);
  }

  Status write_at(std::uint64_t offset, std::string_view data) override {
    std::lock_guard lock(state_->mu);
    const std::uint64_t new_size = std::max<std::uint64_t>(inode_->data.size(), offset + data.size());
    if (Status s = state_->check_write(path_, offset, *inode_, new_size); !s.ok()) return s;
    if (inode_->data.size() < new_size) inode_->data.resize(new_size, '\0');
    inode_->data.replace(offset, data.size(), data);
    return Ok{};
  }

  Status sync_data() override { return do_sync("fdatasync"); }
  Status sync() override { return do_sync("fsync"); }

  Status truncate(std::uint64_t size_bytes) override {
    std::lock_guard lock(state_->mu);
    if (state_->fail_writes || !state_->step()) return io_error("ftruncate", path_, EIO);
    inode_->data.resize(size_bytes, '\0');
    return Ok{};
  }

  Status allocate(std::uint64_t size_bytes) override {
    std::lock_guard lock(state_->mu);
    if (size_bytes <= inode_->data.size()) return Ok{};
    if (state_->fail_writes || !state_->step()) return io_error("fallocate", path_, EIO);
    if (state_->capacity_bytes != 0 &&
        state_->used_bytes() + (size_bytes - inode_->data.size()) > state_->capacity_bytes) {
      return io_error("fallocate", path_, ENOSPC);
    }
    inode_->data.resize(size_bytes, '\0');
    return Ok{};
  }

  Result<std::uint64_t> size() const override {
    std::lock_guard lock(state_->mu);
    return static_cast<std::uint64_t>(inode_->data.size());
  }
  Status close() override { return Ok{}; }
  const std::string& path() const override { return path_; }

 private:
  Status do_sync(const char* op) {
    std::chrono::microseconds delay{0};
    {
      std::lock_guard lock(state_->mu);
      delay = state_->sync_delay;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);  // outside mu: reads go on
    std::lock_guard lock(state_->mu);
    if (state_->fail_syncs || !state_->step()) return io_error(op, path_, EIO);
    ++state_->syncs;
    inode_->durable = inode_->data;
    return Ok{};
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<Inode> inode_;
  std::string path_;
};

}  // namespace

FaultInjectionEnv::FaultInjectionEnv() : state_(std::make_shared<State>()) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::open_writable(const std::string& path, bool truncate) {
  std::lock_guard lock(state_->mu);
  const std::string dir = parent_of(path);
  if (!dir.empty() && !state_->dirs.count(dir)) return io_error("open", path, ENOENT);
  auto it = state_->names.find(path);
  std::shared_ptr<Inode> inode;
  if (!state_->step()) return io_error("open", path, EIO);
  if (it == state_->names.end()) {
    if (state_->fail_writes) return io_error("open", path, EIO);
    inode = std::make_shared<Inode>();
    state_->names[path] = inode;
  } else {
    inode = it->second;
    if (truncate) inode->data.clear();
  }
  return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(state_, inode, path));
}

Result<std::unique_ptr<RandomAccessFile>> FaultInjectionEnv::open_readable(const std::string& path) {
  std::lock_guard lock(state_->mu);
  auto it = state_->names.find(path);
  if (it == state_->names.end()) return io_error("open", path, ENOENT);
  return std::unique_ptr<RandomAccessFile>(std::make_unique<MemRandomAccessFile>(state_, it->second, path));
}

Status FaultInjectionEnv::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(state_->mu);
  if (!state_->step()) return io_error("rename to " + to + " from", from, EIO);
  auto it = state_->names.find(from);
  if (it == state_->names.end()) return io_error("rename to " + to + " from", from, ENOENT);
  std::shared_ptr<Inode> inode = it->second;
  state_->names.erase(it);
  state_->names[to] = inode;
  return Ok{};
}

Status FaultInjectionEnv::remove(const std::string& path) {
  std::lock_guard lock(state_->mu);
  if (!state_->step()) return io_error("unlink", path, EIO);
  if (state_->names.erase(path) == 0) return io_error("unlink", path, ENOENT);
  return Ok{};
}

Result<std::vector<std::string>> FaultInjectionEnv::list(const std::string& dir) {
  std::lock_guard lock(state_->mu);
  if (!state_->dirs.count(dir)) return io_error("opendir", dir, ENOENT);
  std::vector<std::string> out;
  for (const auto& [path, inode] : state_->names) {
    if (parent_of(path) == dir) out.push_back(path.substr(dir.size() + 1));
  }
  for (const std::string& d : state_->dirs) {
    if (parent_of(d) == dir) out.push_back(d.substr(dir.size() + 1));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status FaultInjectionEnv::create_dir(const std::string& dir) {
  std::lock_guard lock(state_->mu);
  // Directories are durable at once: the log creates its directory once, and the
  // interesting crashes are about the files in it.
  std::string d = dir;
  while (!d.empty()) {
    state_->dirs.insert(d);
    d = parent_of(d);
  }
  return Ok{};
}

Status FaultInjectionEnv::sync_dir(const std::string& dir) {
  std::lock_guard lock(state_->mu);
  if (state_->fail_syncs || !state_->step()) return io_error("fsync", dir, EIO);
  ++state_->syncs;
  for (auto it = state_->durable_names.begin(); it != state_->durable_names.end();) {
    it = parent_of(it->first) == dir ? state_->durable_names.erase(it) : std::next(it);
  }
  for (const auto& [path, inode] : state_->names) {
    if (parent_of(path) == dir) state_->durable_names[path] = inode;
  }
  return Ok{};
}

bool FaultInjectionEnv::exists(const std::string& path) {
  std::lock_guard lock(state_->mu);
  return state_->names.count(path) != 0 || state_->dirs.count(path) != 0;
}

void FaultInjectionEnv::crash() { crash_tearing("", 0); }

void FaultInjectionEnv::crash_tearing(const std::string& path, std::uint64_t keep_bytes) {
  std::lock_guard lock(state_->mu);
  // Every inode that is reachable now or after the crash loses its unsynced bytes;
  // fresh inodes replace the old ones so file objects held by the "dead" process
  // cannot touch the survivors.
  std::map<std::shared_ptr<Inode>, std::shared_ptr<Inode>> survivors;
  std::map<std::string, std::shared_ptr<Inode>> names;
  for (const auto& [name, inode] : state_->durable_names) {
    auto [it, fresh] = survivors.try_emplace(inode, nullptr);
    if (fresh) {
      auto copy = std::make_shared<Inode>();
      copy->durable = inode->durable;
      copy->data = inode->durable;
      if (name == path && keep_bytes > 0) {
        // Keep a prefix of what was written since the last sync.
        const std::string& now = inode->data;
        const std::string& old = inode->durable;
        std::size_t first_diff = 0;
        while (first_diff < now.size() && first_diff < old.size() && now[first_diff] == old[first_diff]) {
          ++first_diff;
        }
        const std::size_t keep_end = std::min<std::size_t>(now.size(), first_diff + keep_bytes);
        std::string torn = now.substr(0, keep_end);
        if (old.size() > keep_end) torn += old.substr(keep_end);
        copy->data = torn;
        copy->durable = torn;
      }
      it->second = copy;
    }
    names[name] = it->second;
  }
  state_->names = names;
  state_->durable_names = names;
  state_->freeze_at = ~std::uint64_t{0};  // a new process
}

std::uint64_t FaultInjectionEnv::unsynced_bytes(const std::string& path) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->names.find(path);
  if (it == state_->names.end()) return 0;
  const std::string& now = it->second->data;
  const std::string& old = it->second->durable;
  std::size_t first_diff = 0;
  while (first_diff < now.size() && first_diff < old.size() && now[first_diff] == old[first_diff]) ++first_diff;
  // Up to the last byte that differs: a preallocated file's unchanged zeros beyond
  // the write are not part of it.
  std::size_t end = std::max(now.size(), old.size());
  while (end > first_diff && end <= now.size() && end <= old.size() && now[end - 1] == old[end - 1]) --end;
  return end - first_diff;
}

void FaultInjectionEnv::set_fail_syncs(bool fail) {
  std::lock_guard lock(state_->mu);
  state_->fail_syncs = fail;
}
void FaultInjectionEnv::set_fail_writes(bool fail) {
  std::lock_guard lock(state_->mu);
  state_->fail_writes = fail;
}
void FaultInjectionEnv::set_sync_delay(std::chrono::microseconds delay) {
  std::lock_guard lock(state_->mu);
  state_->sync_delay = delay;
}
void FaultInjectionEnv::set_capacity_bytes(std::uint64_t capacity_bytes) {
  std::lock_guard lock(state_->mu);
  state_->capacity_bytes = capacity_bytes;
}

void FaultInjectionEnv::freeze_after_ops(std::uint64_t ops) {
  std::lock_guard lock(state_->mu);
  state_->freeze_at = state_->ops + ops;
}

std::uint64_t FaultInjectionEnv::mutating_ops() const {
  std::lock_guard lock(state_->mu);
  return state_->ops;
}

std::string FaultInjectionEnv::contents(const std::string& path) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->names.find(path);
  return it == state_->names.end() ? std::string() : it->second->data;
}

void FaultInjectionEnv::set_contents(const std::string& path, std::string bytes) {
  std::lock_guard lock(state_->mu);
  auto it = state_->names.find(path);
  if (it == state_->names.end()) {
    auto inode = std::make_shared<Inode>();
    it = state_->names.emplace(path, inode).first;
    state_->durable_names[path] = inode;
  }
  it->second->durable = bytes;
  it->second->data = std::move(bytes);
}

std::uint64_t FaultInjectionEnv::sync_count() const {
  std::lock_guard lock(state_->mu);
  return state_->syncs;
}

}  // namespace raft::storage
