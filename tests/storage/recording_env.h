// A test Env: the fault-injecting in-memory one, with every call that changes the
// disk written down as one line ("truncate wal-0000000001.removing 3000"), so a test
// can check the exact sequence of file operations a component performs. Writes are
// many, so they are written down only when asked (record_writes): "write FILE
// OFFSET LENGTH", or "zeros FILE OFFSET LENGTH" when every byte written is zero.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "src/storage/env.h"
#include "src/storage/fault_injection_env.h"

namespace raft::storage::testing {

inline std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

class RecordingEnv final : public Env {
 public:
  std::vector<std::string> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }
  FaultInjectionEnv& inner() { return inner_; }
  void record_writes(bool on) {
    std::lock_guard lock(mu_);
    record_writes_ = on;
  }

  Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path, bool truncate) override {
    Result<std::unique_ptr<WritableFile>> file = inner_.open_writable(path, truncate);
    if (!file.ok()) return file;
    return std::unique_ptr<WritableFile>(std::make_unique<File>(this, std::move(file.value())));
  }
  Result<std::unique_ptr<RandomAccessFile>> open_readable(const std::string& path) override {
    return inner_.open_readable(path);
  }
  Status rename(const std::string& from, const std::string& to) override {
    record("rename " + base_name(from) + " " + base_name(to));
    return inner_.rename(from, to);
  }
  Status remove(const std::string& path) override {
    record("remove " + base_name(path));
    return inner_.remove(path);
  }
  Result<std::vector<std::string>> list(const std::string& dir) override { return inner_.list(dir); }
  Status create_dir(const std::string& dir) override { return inner_.create_dir(dir); }
  Status sync_dir(const std::string& dir) override {
    record("sync_dir");
    return inner_.sync_dir(dir);
  }
  bool exists(const std::string& path) override { return inner_.exists(path); }

 private:
  class File final : public WritableFile {
   public:
    File(RecordingEnv* env, std::unique_ptr<WritableFile> inner) : env_(env), inner_(std::move(inner)) {}
    Status append(std::string_view data) override { return inner_->append(data); }
    Status write_at(std::uint64_t offset, std::string_view data) override {
      env_->record_write(path(), offset, data);
      return inner_->write_at(offset, data);
    }
    Status sync_data() override {
      env_->record("sync_data " + base_name(path()));
      return inner_->sync_data();
    }
    Status sync() override {
      env_->record("sync " + base_name(path()));
      return inner_->sync();
    }
    Status truncate(std::uint64_t size_bytes) override {
      env_->record("truncate " + base_name(path()) + " " + std::to_string(size_bytes));
      return inner_->truncate(size_bytes);
    }
    Status allocate(std::uint64_t size_bytes) override { return inner_->allocate(size_bytes); }
    Result<std::uint64_t> size() const override { return inner_->size(); }
    Status close() override { return inner_->close(); }
    const std::string& path() const override { return inner_->path(); }

   private:
    RecordingEnv* env_;
    std::unique_ptr<WritableFile> inner_;
  };

  void record(std::string call) {
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(call));
  }

  void record_write(const std::string& path, std::uint64_t offset, std::string_view data) {
    std::lock_guard lock(mu_);
    if (!record_writes_) return;
    const bool zeros = data.find_first_not_of('\0') == std::string_view::npos;
    calls_.push_back(std::string(zeros ? "zeros " : "write ") + base_name(path) + " " + std::to_string(offset) +
                     " " + std::to_string(data.size()));
  }

  FaultInjectionEnv inner_;
  mutable std::mutex mu_;
  std::vector<std::string> calls_;
  bool record_writes_ = false;
};

}  // namespace raft::storage::testing
