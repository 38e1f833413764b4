#include "src/wal/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace raft::wal {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, std::uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override { ::close(fd_); }

  void append(const char* data, std::size_t n) override {
    while (n > 0) {
      const ssize_t written = ::pwrite(fd_, data, n, static_cast<off_t>(size_));
      if (written < 0) {
        if (errno == EINTR) continue;
        fail("write", path_);
      }
      data += written;
      n -= static_cast<std::size_t>(written);
      size_ += static_cast<std::uint64_t>(written);
    }
  }

  void sync() override {
    // Never retried: after a failed fsync the kernel may have dropped the dirty pages,
    // so a later "successful" fsync would prove nothing (the fsyncgate lesson).
    if (::fdatasync(fd_) != 0) fail("fdatasync", path_);
  }

  void preallocate(std::uint64_t bytes) override {
    // FALLOC_FL_KEEP_SIZE: reserve blocks without moving end-of-file.
    if (::fallocate(fd_, 1 /*FALLOC_FL_KEEP_SIZE*/, 0, static_cast<off_t>(bytes)) != 0 && errno != EOPNOTSUPP) {
      fail("fallocate", path_);
    }
  }

  std::uint64_t size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  std::uint64_t size_;
};

class PosixFileSystem final : public FileSystem {
 public:
  std::unique_ptr<WritableFile> open_for_append(const std::string& path, std::uint64_t offset) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) fail("open", path);
    if (::ftruncate(fd, static_cast<off_t>(offset)) != 0) {
      ::close(fd);
      fail("truncate", path);
    }
    return std::make_unique<PosixWritableFile>(path, fd, offset);
  }

  std::string read_file(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open", path);
    std::string out;
    char buffer[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0) {
        if (errno == EINTR) continue;
        ::close(fd);
        fail("read", path);
      }
      if (n == 0) break;
      out.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }

  std::vector<std::string> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) fail("opendir", dir);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    return names;
  }

  bool exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }

  void create_dir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) fail("mkdir", dir);
  }

  void rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) fail("rename", from + " -> " + to);
  }

  void remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail("unlink", path);
  }

  void truncate(const std::string& path, std::uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) fail("truncate", path);
  }

  void sync_dir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail("open", dir);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) fail("fsync", dir);
  }
};

}  // namespace

std::shared_ptr<FileSystem> posix_file_system() { return std::make_shared<PosixFileSystem>(); }

}  // namespace raft::wal
