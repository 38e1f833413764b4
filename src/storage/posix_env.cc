// The real Env: thin wrappers over POSIX calls. Short reads and writes are
// continued; EINTR is retried (it is not an I/O failure). Nothing else is retried:
// an fsync that failed has already dropped the dirty pages on Linux, so a retry
// that "succeeds" would be a lie.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "src/storage/env.h"

namespace raft::storage {

namespace {

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status read_at(std::uint64_t offset, std::size_t n, std::string* out) const override {
    out->resize(n);
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, out->data() + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return io_error_at("read", path_, offset + done, errno);
      }
      if (r == 0) break;
      done += static_cast<std::size_t>(r);
    }
    out->resize(done);
    return Ok{};
  }

  Result<std::uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return io_error("stat", path_, errno);
    return static_cast<std::uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status append(std::string_view data) override {
    Result<std::uint64_t> end = size();
    if (!end.ok()) return end.error();
    return write_at(end.value(), data);
  }

  Status write_at(std::uint64_t offset, std::string_view data) override {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t w = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return io_error_at("write", path_, offset + done, errno);
      }
      done += static_cast<std::size_t>(w);
    }
    return Ok{};
  }

  Status sync_data() override {
#if defined(__linux__)
    if (::fdatasync(fd_) != 0) return io_error("fdatasync", path_, errno);
#else
    if (::fsync(fd_) != 0) return io_error("fsync", path_, errno);
#endif
    return Ok{};
  }

  Status sync() override {
    if (::fsync(fd_) != 0) return io_error("fsync", path_, errno);
    return Ok{};
  }

  Status truncate(std::uint64_t size_bytes) override {
    if (::ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0) return io_error("ftruncate", path_, errno);
    return Ok{};
  }

  Status allocate(std::uint64_t size_bytes) override {
#if defined(__linux__)
    const int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(size_bytes));
    if (rc == 0) return Ok{};
    if (rc != EOPNOTSUPP && rc != EINVAL) return io_error("fallocate", path_, rc);
#endif
    // No fallocate on this file system: extend with ftruncate (no reservation).
    Result<std::uint64_t> current = size();
    if (!current.ok()) return current.error();
    if (current.value() >= size_bytes) return Ok{};
    return truncate(size_bytes);
  }

  Result<std::uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return io_error("stat", path_, errno);
    return static_cast<std::uint64_t>(st.st_size);
  }

  Status close() override {
    if (fd_ < 0) return Ok{};
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return io_error("close", path_, errno);
    return Ok{};
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path, bool truncate) override {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return io_error("open", path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd));
  }

  Result<std::unique_ptr<RandomAccessFile>> open_readable(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("open", path, errno);
    return std::unique_ptr<RandomAccessFile>(std::make_unique<PosixRandomAccessFile>(path, fd));
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("rename to " + to + " from", from, errno);
    return Ok{};
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return io_error("unlink", path, errno);
    return Ok{};
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return io_error("opendir", dir, errno);
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status create_dir(const std::string& dir) override {
    if (dir.empty()) return Ok{};
    std::string prefix;
    std::size_t pos = 0;
    while (pos != std::string::npos) {
      pos = dir.find('/', pos + 1);
      prefix = dir.substr(0, pos);
      if (prefix.empty()) continue;
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return io_error("mkdir", prefix, errno);
    }
    return Ok{};
  }

  Status sync_dir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("open", dir, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return io_error("fsync", dir, err);
    return Ok{};
  }

  bool exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }
};

}  // namespace

std::shared_ptr<Env> posix_env() {
  static const std::shared_ptr<Env> env = std::make_shared<PosixEnv>();
  return env;
}

}  // namespace raft::storage
