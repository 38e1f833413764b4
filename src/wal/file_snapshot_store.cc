#include "src/wal/file_snapshot_store.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "raft/log_storage.h"
#include "src/util/crc32c.h"

namespace raft::wal {

namespace {

constexpr char kMagic[4] = {'R', 'S', 'N', 'P'};
constexpr char kPrefix[] = "snapshot-";
constexpr char kSuffix[] = ".snap";
constexpr char kTempPrefix[] = "tmp-";

std::string final_name(const pb::SnapshotMetadata& m) {
  char name[96];
  std::snprintf(name, sizeof name, "%s%020llu-%020llu%s", kPrefix, static_cast<unsigned long long>(m.index()),
                static_cast<unsigned long long>(m.term()), kSuffix);
  return name;
}

bool is_snapshot_name(const std::string& name) {
  return name.rfind(kPrefix, 0) == 0 && name.size() > sizeof kSuffix &&
         name.compare(name.size() - (sizeof kSuffix - 1), sizeof kSuffix - 1, kSuffix) == 0;
}

class FileSnapshotWriter final : public SnapshotWriter {
 public:
  FileSnapshotWriter(FileSnapshotStore* store, pb::SnapshotMetadata metadata) : store_(store), metadata_(std::move(metadata)) {
    static std::atomic<std::uint64_t> counter{0};
    temp_path_ = store_->dir() + "/" + kTempPrefix + std::to_string(metadata_.index()) + "-" +
                 std::to_string(counter.fetch_add(1)) + kSuffix;
    file_ = store_->fs().open_for_append(temp_path_, 0);
  }

  ~FileSnapshotWriter() override {
    if (!committed_) {
      try {
        file_.reset();
        store_->fs().remove(temp_path_);
      } catch (const std::exception&) {
      }
    }
  }

  void write(const char* data, std::size_t n) override {
    file_->append(data, n);
    crc_ = util::crc32c_extend(crc_, data, n);
    size_ += n;
  }

  pb::SnapshotMetadata commit() override {
    if (metadata_.size_bytes() != 0 && metadata_.size_bytes() != size_) {
      throw std::runtime_error("snapshot size mismatch: expected " + std::to_string(metadata_.size_bytes()) +
                               " bytes, received " + std::to_string(size_));
    }
    if (metadata_.crc32c() != 0 && metadata_.crc32c() != crc_) throw std::runtime_error("snapshot checksum mismatch");
    metadata_.set_size_bytes(size_);
    metadata_.set_crc32c(crc_);
    std::string trailer = metadata_.SerializeAsString();
    const auto length = static_cast<std::uint32_t>(trailer.size());
    char bytes[4] = {static_cast<char>(length), static_cast<char>(length >> 8), static_cast<char>(length >> 16),
                     static_cast<char>(length >> 24)};
    trailer.append(bytes, 4);
    trailer.append(kMagic, 4);
    file_->append(trailer.data(), trailer.size());
    file_->sync();
    file_.reset();
    const std::string path = store_->dir() + "/" + final_name(metadata_);
    store_->fs().rename(temp_path_, path);
    store_->fs().sync_dir(store_->dir());
    committed_ = true;
    store_->committed(metadata_, path);
    return metadata_;
  }

 private:
  FileSnapshotStore* store_;
  pb::SnapshotMetadata metadata_;
  std::string temp_path_;
  std::unique_ptr<WritableFile> file_;
  std::uint32_t crc_ = 0;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

class FileSnapshotReader final : public SnapshotReader {
 public:
  FileSnapshotReader(pb::SnapshotMetadata metadata, std::string contents, std::string path)
      : metadata_(std::move(metadata)), contents_(std::move(contents)), path_(std::move(path)) {}

  const pb::SnapshotMetadata& metadata() const override { return metadata_; }

  std::size_t read(char* buffer, std::size_t n) override {
    const std::size_t count = std::min<std::size_t>(n, metadata_.size_bytes() - offset_);
    std::memcpy(buffer, contents_.data() + offset_, count);
    crc_ = util::crc32c_extend(crc_, buffer, count);
    offset_ += count;
    if (count == 0 && !verified_) {
      verified_ = true;
      if (crc_ != metadata_.crc32c()) throw StorageError("snapshot " + path_ + ": checksum mismatch");
    }
    return count;
  }

 private:
  pb::SnapshotMetadata metadata_;
  std::string contents_;
  std::string path_;
  std::size_t offset_ = 0;
  std::uint32_t crc_ = 0;
  bool verified_ = false;
};

}  // namespace

pb::SnapshotMetadata read_snapshot_metadata(const std::string& contents, const std::string& path) {
  if (contents.size() < 8 || std::memcmp(contents.data() + contents.size() - 4, kMagic, 4) != 0) {
    throw StorageError("snapshot " + path + ": missing trailer");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(contents.data() + contents.size() - 8);
  const std::uint32_t length = p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24;
  if (length > contents.size() - 8) throw StorageError("snapshot " + path + ": bad metadata length");
  pb::SnapshotMetadata metadata;
  if (!metadata.ParseFromArray(contents.data() + contents.size() - 8 - length, static_cast<int>(length)) ||
      metadata.size_bytes() != contents.size() - 8 - length) {
    throw StorageError("snapshot " + path + ": bad metadata");
  }
  return metadata;
}

FileSnapshotStore::FileSnapshotStore(std::string dir, std::shared_ptr<FileSystem> fs)
    : dir_(std::move(dir)), fs_(fs ? std::move(fs) : posix_file_system()) {
  try {
    fs_->create_dir(dir_);
    std::vector<std::string> snapshots;
    for (const std::string& name : fs_->list(dir_)) {
      if (name.rfind(kTempPrefix, 0) == 0) {
        fs_->remove(dir_ + "/" + name);  // an interrupted write: never committed
      } else if (is_snapshot_name(name)) {
        snapshots.push_back(name);
      }
    }
    std::sort(snapshots.begin(), snapshots.end());  // zero-padded: index order
    if (!snapshots.empty()) {
      const std::string path = dir_ + "/" + snapshots.back();
      latest_ = read_snapshot_metadata(fs_->read_file(path), path);
      latest_path_ = path;
    }
  } catch (const std::system_error& e) {
    throw StorageError(std::string("cannot open the snapshot directory: ") + e.what());
  }
}

std::unique_ptr<SnapshotWriter> FileSnapshotStore::create(const pb::SnapshotMetadata& metadata) {
  return std::make_unique<FileSnapshotWriter>(this, metadata);
}

void FileSnapshotStore::committed(const pb::SnapshotMetadata& metadata, const std::string& path) {
  std::vector<std::string> old;
  {
    std::lock_guard lock(mutex_);
    if (latest_ && latest_->index() > metadata.index()) return;  // a stale transfer finished late
    latest_ = metadata;
    latest_path_ = path;
  }
  // The new snapshot is durable: keep it and the one before, remove the rest.
  std::vector<std::string> names;
  for (const std::string& name : fs_->list(dir_)) {
    if (is_snapshot_name(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  const std::string keep = path.substr(dir_.size() + 1);
  const auto keep_it = std::find(names.begin(), names.end(), keep);
  if (keep_it == names.end() || keep_it - names.begin() < 2) return;
  for (auto it = names.begin(); it < keep_it - 1; ++it) fs_->remove(dir_ + "/" + *it);
  fs_->sync_dir(dir_);
}

std::optional<pb::SnapshotMetadata> FileSnapshotStore::latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

std::unique_ptr<SnapshotReader> FileSnapshotStore::open_latest() const {
  std::string path;
  pb::SnapshotMetadata metadata;
  {
    std::lock_guard lock(mutex_);
    if (!latest_) return nullptr;
    path = latest_path_;
    metadata = *latest_;
  }
  return std::make_unique<FileSnapshotReader>(metadata, fs_->read_file(path), path);
}

}  // namespace raft::wal
