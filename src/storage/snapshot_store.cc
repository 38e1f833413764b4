#include "src/storage/snapshot_store.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "src/storage/record.h"
#include "src/storage/segment.h"
#include "src/util/crc32c.h"

namespace raft::storage {

namespace {

constexpr std::size_t kTrailerBytes = 16;
constexpr std::uint32_t kSnapshotMagic = 0x504e5352;  // "RSNP" little-endian
constexpr std::string_view kSuffix = ".snap";
constexpr std::string_view kTmpSuffix = ".snap.tmp";
constexpr std::string_view kRemovingSuffix = ".snap.removing";

void put_le(std::uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string encode_trailer(std::uint64_t metadata_offset) {
  std::string out;
  put_le(metadata_offset, 8, &out);
  put_le(kSnapshotMagic, 4, &out);
  put_le(util::mask_crc(util::crc32c(out.data(), out.size())), 4, &out);
  return out;
}

class FileSnapshotReader final : public SnapshotReader {
 public:
  FileSnapshotReader(std::unique_ptr<RandomAccessFile> file, pb::SnapshotMetadata metadata,
                     std::shared_ptr<void> pin)
      : file_(std::move(file)), metadata_(std::move(metadata)), pin_(std::move(pin)) {}

  const pb::SnapshotMetadata& metadata() const override { return metadata_; }

  std::size_t read(char* buffer, std::size_t n) override {
    const std::uint64_t left = metadata_.size_bytes() - offset_;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, left));
    if (want == 0) return 0;
    std::string chunk;
    if (Status s = file_->read_at(offset_, want, &chunk); !s.ok()) throw std::runtime_error(s.error().message);
    if (chunk.size() != want) {
      throw std::runtime_error(corruption(file_->path(), offset_ + chunk.size(), "snapshot data ends early").message);
    }
    std::copy(chunk.begin(), chunk.end(), buffer);
    crc_ = util::crc32c_extend(crc_, chunk.data(), chunk.size());
    offset_ += want;
    if (offset_ == metadata_.size_bytes() && crc_ != metadata_.crc32c()) {
      throw std::runtime_error(corruption(file_->path(), 0, "snapshot data does not match its CRC32C").message);
    }
    return want;
  }

 private:
  std::unique_ptr<RandomAccessFile> file_;
  pb::SnapshotMetadata metadata_;
  std::shared_ptr<void> pin_;  // keeps the store from shrinking the file under us
  std::uint64_t offset_ = 0;
  std::uint32_t crc_ = 0;
};

}  // namespace

class FileSnapshotWriter final : public SnapshotWriter {
 public:
  FileSnapshotWriter(std::shared_ptr<FileSnapshotStore> store, pb::SnapshotMetadata metadata,
                     std::unique_ptr<WritableFile> file, std::string tmp_path)
      : store_(std::move(store)), metadata_(std::move(metadata)), file_(std::move(file)),
        tmp_path_(std::move(tmp_path)) {}

  ~FileSnapshotWriter() override {
    if (!done_) abort();
  }

  void write(const char* data, std::size_t n) override {
    if (done_) throw std::runtime_error("snapshot writer already finished: " + tmp_path_);
    if (Status s = file_->write_at(bytes_, std::string_view(data, n)); !s.ok()) {
      abort();
      throw std::runtime_error(s.error().message);
    }
    crc_ = util::crc32c_extend(crc_, data, n);
    bytes_ += n;
  }

  pb::SnapshotMetadata commit() override {
    if (done_) throw std::runtime_error("snapshot writer already finished: " + tmp_path_);
    if ((metadata_.size_bytes() != 0 && metadata_.size_bytes() != bytes_) ||
        (metadata_.crc32c() != 0 && metadata_.crc32c() != crc_)) {
      abort();
      throw std::runtime_error("snapshot " + tmp_path_ + " has " + std::to_string(bytes_) + " bytes with CRC " +
                               std::to_string(crc_) + ", expected " + std::to_string(metadata_.size_bytes()) +
                               " bytes with CRC " + std::to_string(metadata_.crc32c()));
    }
    metadata_.set_size_bytes(bytes_);
    metadata_.set_crc32c(crc_);
    std::string tail;
    append_record(RecordType::kSnapshotMetadata, metadata_.SerializeAsString(), &tail);
    tail += encode_trailer(bytes_);
    Env& env = *store_->env_;
    const std::string& dir = store_->options_.dir;
    const std::string file_name = snapshot_file_name(metadata_.index(), metadata_.term());
    auto check = [&](Status s) {
      if (!s.ok()) {
        abort();
        throw std::runtime_error(s.error().message);
      }
    };
    check(file_->write_at(bytes_, tail));
    check(file_->sync());
    check(file_->close());
    check(env.rename(tmp_path_, join_path(dir, file_name)));
    done_ = true;  // the name is taken; from here on nothing is aborted
    if (Status s = env.sync_dir(dir); !s.ok()) throw std::runtime_error(s.error().message);
    if (Status s = store_->committed(SnapshotFileInfo{file_name, metadata_, bytes_ + tail.size()}); !s.ok()) {
      throw std::runtime_error(s.error().message);
    }
    return metadata_;
  }

 private:
  void abort() {
    done_ = true;
    file_->close();
    store_->env_->remove(tmp_path_);  // best effort: open() removes leftovers anyway
  }

  std::shared_ptr<FileSnapshotStore> store_;
  pb::SnapshotMetadata metadata_;
  std::unique_ptr<WritableFile> file_;
  std::string tmp_path_;
  std::uint64_t bytes_ = 0;
  std::uint32_t crc_ = 0;
  bool done_ = false;
};

std::string snapshot_file_name(Index index, Term term) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "snapshot-%020llu-%020llu", static_cast<unsigned long long>(index),
                static_cast<unsigned long long>(term));
  return std::string(buf) + std::string(kSuffix);
}

Result<SnapshotFileInfo> read_snapshot_info(Env& env, const std::string& dir, const std::string& file_name) {
  const std::string path = join_path(dir, file_name);
  Result<std::unique_ptr<RandomAccessFile>> opened = env.open_readable(path);
  if (!opened.ok()) return opened.error();
  RandomAccessFile& file = *opened.value();
  Result<std::uint64_t> size = file.size();
  if (!size.ok()) return size.error();
  const std::uint64_t file_bytes = size.value();
  if (file_bytes < kTrailerBytes) return corruption(path, 0, "too short for a snapshot trailer");
  std::string trailer;
  if (Status s = file.read_at(file_bytes - kTrailerBytes, kTrailerBytes, &trailer); !s.ok()) return s.error();
  const std::uint64_t trailer_offset = file_bytes - kTrailerBytes;
  if (trailer.size() != kTrailerBytes || get_le(trailer.data() + 8, 4) != kSnapshotMagic ||
      util::unmask_crc(static_cast<std::uint32_t>(get_le(trailer.data() + 12, 4))) !=
          util::crc32c(trailer.data(), 12)) {
    return corruption(path, trailer_offset, "bad snapshot trailer");
  }
  const std::uint64_t metadata_offset = get_le(trailer.data(), 8);
  if (metadata_offset > trailer_offset) return corruption(path, trailer_offset, "trailer points past itself");
  std::string tail;
  if (Status s = file.read_at(metadata_offset, trailer_offset - metadata_offset, &tail); !s.ok()) return s.error();
  RecordReader reader(tail);
  Record record;
  pb::SnapshotMetadata metadata;
  if (reader.next(&record) != RecordReader::Outcome::kRecord || record.type != RecordType::kSnapshotMetadata ||
      record.size() != tail.size() || !decode_snapshot_metadata(record.payload, &metadata)) {
    return corruption(path, metadata_offset, "bad snapshot metadata record");
  }
  if (metadata.size_bytes() != metadata_offset) {
    return corruption(path, metadata_offset, "metadata says " + std::to_string(metadata.size_bytes()) +
                                                 " bytes of data, the file holds " + std::to_string(metadata_offset));
  }
  if (file_name != snapshot_file_name(metadata.index(), metadata.term())) {
    return corruption(path, metadata_offset, "metadata (index " + std::to_string(metadata.index()) + ", term " +
                                                 std::to_string(metadata.term()) + ") does not match the file name");
  }
  return SnapshotFileInfo{file_name, metadata, file_bytes};
}

Status verify_snapshot(Env& env, const std::string& dir, const SnapshotFileInfo& info) {
  Result<std::unique_ptr<RandomAccessFile>> opened = env.open_readable(join_path(dir, info.file_name));
  if (!opened.ok()) return opened.error();
  FileSnapshotReader reader(std::move(opened.value()), info.metadata, nullptr);
  std::string buf(1 << 16, '\0');
  try {
    while (reader.read(buf.data(), buf.size()) > 0) {
    }
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kStorage, e.what());
  }
  return Ok{};
}

FileSnapshotStore::FileSnapshotStore(FileSnapshotStoreOptions options) : options_(std::move(options)) {
  env_owner_ = options_.env ? options_.env : posix_env();
  env_ = env_owner_.get();
}

Result<std::shared_ptr<FileSnapshotStore>> FileSnapshotStore::open(FileSnapshotStoreOptions options) {
  if (options.dir.empty()) return make_error(ErrorCode::kInvalidArgument, "FileSnapshotStoreOptions.dir is empty");
  if (options.retain_snapshots == 0) options.retain_snapshots = 1;
  std::shared_ptr<FileSnapshotStore> store(new FileSnapshotStore(std::move(options)));
  if (Status s = store->load(); !s.ok()) return s.error();
  return store;
}

Status FileSnapshotStore::load() {
  if (Status s = env_->create_dir(options_.dir); !s.ok()) return s;
  Result<std::vector<std::string>> names = env_->list(options_.dir);
  if (!names.ok()) return names.error();
  bool removed = false;
  for (const std::string& name : names.value()) {
    if (!name.starts_with("snapshot-")) continue;
    if (name.ends_with(kTmpSuffix) || name.ends_with(kRemovingSuffix)) {
      // A snapshot that was never committed, or one a crash left half removed.
      if (Status s = env_->remove(join_path(options_.dir, name)); !s.ok()) return s;
      removed = true;
      continue;
    }
    if (!name.ends_with(kSuffix)) continue;
    Result<SnapshotFileInfo> info = read_snapshot_info(*env_, options_.dir, name);
    if (!info.ok()) return info.error();
    snapshots_.push_back(std::move(info.value()));
  }
  std::sort(snapshots_.begin(), snapshots_.end(), [](const SnapshotFileInfo& a, const SnapshotFileInfo& b) {
    return a.metadata.index() < b.metadata.index();
  });
  if (removed) return env_->sync_dir(options_.dir);
  return Ok{};
}

std::unique_ptr<SnapshotWriter> FileSnapshotStore::create(const pb::SnapshotMetadata& metadata) {
  const std::string tmp = join_path(options_.dir, snapshot_file_name(metadata.index(), metadata.term()) + ".tmp");
  Result<std::unique_ptr<WritableFile>> file = env_->open_writable(tmp, /*truncate=*/true);
  if (!file.ok()) throw std::runtime_error(file.error().message);
  return std::make_unique<FileSnapshotWriter>(shared_from_this(), metadata, std::move(file.value()), tmp);
}

Status FileSnapshotStore::committed(SnapshotFileInfo info) {
  std::vector<SnapshotFileInfo> doomed;
  {
    std::lock_guard lock(mu_);
    std::erase_if(snapshots_, [&](const SnapshotFileInfo& s) { return s.file_name == info.file_name; });
    snapshots_.push_back(std::move(info));
    std::sort(snapshots_.begin(), snapshots_.end(), [](const SnapshotFileInfo& a, const SnapshotFileInfo& b) {
      return a.metadata.index() < b.metadata.index();
    });
    while (snapshots_.size() > options_.retain_snapshots) {
      doomed.push_back(snapshots_.front());
      snapshots_.erase(snapshots_.begin());
    }
  }
  if (doomed.empty()) return Ok{};
  // A file being read is unlinked whole (the reader keeps its data until it closes
  // it), and so is a small one; any other is first renamed out of the snapshots'
  // names, then shrunk.
  std::vector<std::string> unlink_whole;
  std::vector<std::string> shrink;
  {
    std::lock_guard lock(mu_);
    for (const SnapshotFileInfo& file : doomed) {
      const std::string& name = file.file_name;
      auto reader = readers_.find(name);
      const bool in_use = reader != readers_.end() && !reader->second.expired();
      if (reader != readers_.end()) readers_.erase(reader);
      if (in_use || !worth_removing_in_steps(file.file_bytes, options_.removal_step_bytes)) {
        unlink_whole.push_back(join_path(options_.dir, name));
        continue;
      }
      const std::string removing = join_path(options_.dir, name.substr(0, name.size() - kSuffix.size())) +
                                   std::string(kRemovingSuffix);
      if (Status s = env_->rename(join_path(options_.dir, name), removing); !s.ok()) return s;
      shrink.push_back(removing);
    }
  }
  if (!shrink.empty()) {
    if (Status s = env_->sync_dir(options_.dir); !s.ok()) return s;
  }
  for (const std::string& path : shrink) {
    if (Status s = remove_in_steps(*env_, path, options_.removal_step_bytes); !s.ok()) return s;
  }
  for (const std::string& path : unlink_whole) {
    if (Status s = env_->remove(path); !s.ok()) return s;
  }
  return env_->sync_dir(options_.dir);
}

std::optional<pb::SnapshotMetadata> FileSnapshotStore::latest() const {
  std::lock_guard lock(mu_);
  if (snapshots_.empty()) return std::nullopt;
  return snapshots_.back().metadata;
}

std::unique_ptr<SnapshotReader> FileSnapshotStore::open_latest() const {
  std::optional<SnapshotFileInfo> newest;
  {
    std::lock_guard lock(mu_);
    if (snapshots_.empty()) return nullptr;
    newest = snapshots_.back();
  }
  return open_snapshot(*newest);
}

std::unique_ptr<SnapshotReader> FileSnapshotStore::open_snapshot(const SnapshotFileInfo& info) const {
  std::shared_ptr<void> pin;
  Result<std::unique_ptr<RandomAccessFile>> file = [&] {
    std::lock_guard lock(mu_);
    std::weak_ptr<void>& token = readers_[info.file_name];
    pin = token.lock();
    if (!pin) {
      pin = std::make_shared<char>(0);
      token = pin;
    }
    return env_->open_readable(join_path(options_.dir, info.file_name));
  }();
  if (!file.ok()) throw std::runtime_error(file.error().message);
  return std::make_unique<FileSnapshotReader>(std::move(file.value()), info.metadata, std::move(pin));
}

std::vector<SnapshotFileInfo> FileSnapshotStore::list() const {
  std::lock_guard lock(mu_);
  return snapshots_;
}

}  // namespace raft::storage
