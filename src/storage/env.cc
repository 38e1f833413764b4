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

}  // namespace raft::storage
