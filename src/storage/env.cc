#include "src/storage/env.h"

#include <cstring>

namespace raft::storage {

namespace {

const char* errno_name(int err) {
  switch (err) {
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case EDQUOT: return "EDQUOT";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    default: return "errno";
  }
}

}  // namespace

Error io_error(std::string_view op, const std::string& path, int err) {
  return make_error(ErrorCode::kStorage, std::string(op) + " " + path + ": " + std::strerror(err) + " (" +
                                             errno_name(err) + ")");
}

Error io_error_at(std::string_view op, const std::string& path, std::uint64_t offset, int err) {
  return make_error(ErrorCode::kStorage, std::string(op) + " " + path + " at offset " + std::to_string(offset) +
                                             ": " + std::strerror(err) + " (" + errno_name(err) + ")");
}

Error corruption(const std::string& path, std::uint64_t offset, std::string_view what) {
  return make_error(ErrorCode::kStorage,
                    "corruption in " + path + " at offset " + std::to_string(offset) + ": " + std::string(what));
}

Status read_whole_file(Env& env, const std::string& path, std::string* out) {
  Result<std::unique_ptr<RandomAccessFile>> file = env.open_readable(path);
  if (!file.ok()) return file.error();
  Result<std::uint64_t> size = file.value()->size();
  if (!size.ok()) return size.error();
  return file.value()->read_at(0, static_cast<std::size_t>(size.value()), out);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool worth_removing_in_steps(std::uint64_t size_bytes, std::uint64_t step_bytes) {
  return step_bytes > 0 && size_bytes / 4 > step_bytes;
}

Status remove_in_steps(Env& env, const std::string& path, std::uint64_t step_bytes) {
  if (step_bytes > 0) {
    Result<std::unique_ptr<WritableFile>> opened = env.open_writable(path, /*truncate=*/false);
    if (!opened.ok()) return opened.error();
    WritableFile& file = *opened.value();
    Result<std::uint64_t> size = file.size();
    if (!size.ok()) return size.error();
    std::uint64_t remaining = size.value();
    while (remaining > step_bytes) {
      remaining -= step_bytes;
      if (Status s = file.truncate(remaining); !s.ok()) return s;
      // The sync ends this step's journal transaction, so its discards are this
      // step's only.
      if (Status s = file.sync_data(); !s.ok()) return s;
    }
    if (Status s = file.close(); !s.ok()) return s;
  }
  return env.remove(path);
}

}  // namespace raft::storage
