#include "src/wal/wal_log_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <system_error>

#include "src/wal/record.h"

namespace raft::wal {

namespace {

constexpr char kSegmentPrefix[] = "wal-";
constexpr char kSegmentSuffix[] = ".seg";

std::optional<std::uint64_t> parse_segment_name(const std::string& name) {
  const std::size_t prefix = sizeof kSegmentPrefix - 1, suffix = sizeof kSegmentSuffix - 1;
  if (name.size() != prefix + 20 + suffix || name.rfind(kSegmentPrefix, 0) != 0 ||
      name.compare(name.size() - suffix, suffix, kSegmentSuffix) != 0) {
    return std::nullopt;
  }
  std::uint64_t seq = 0;
  for (std::size_t i = prefix; i < prefix + 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    seq = seq * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return seq;
}

[[noreturn]] void corrupt(const std::string& path, std::size_t offset, const std::string& what) {
  throw StorageError("corrupt write-ahead log: " + path + " at offset " + std::to_string(offset) + ": " + what);
}

// Whether any valid record starts after `from`: if so, damage before it is not a torn
// tail but corruption inside history.
bool valid_record_after(std::string_view data, std::size_t from) {
  for (std::size_t offset = from + 1; offset + kRecordHeaderBytes <= data.size(); ++offset) {
    const ReadResult r = read_record(data, offset);
    if (r.kind == ReadResult::Kind::kRecord) return true;
  }
  return false;
}

// The log being rebuilt by recovery: a contiguous run of entries and the latest
// snapshot point and hard state.
struct Replay {
  pb::SnapshotMetadata snapshot;
  pb::HardState hard_state;
  std::deque<pb::Entry> entries;

  void append(pb::Entry&& entry) {
    const Index index = entry.index();
    if (!entries.empty() && index <= entries.back().index()) {
      // An overwrite: drop the conflicting suffix (and everything if it starts
      // before what we hold, which only happens after old segments were deleted).
      while (!entries.empty() && entries.back().index() >= index) entries.pop_back();
    }
    if (!entries.empty() && index != entries.back().index() + 1) {
      throw StorageError("index gap: entry " + std::to_string(index) + " follows " +
                         std::to_string(entries.back().index()));
    }
    entries.push_back(std::move(entry));
  }
  void compact(const pb::SnapshotMetadata& point) {
    if (point.index() < snapshot.index()) return;
    snapshot = point;
    while (!entries.empty() && entries.front().index() <= point.index()) entries.pop_front();
  }
  void reset(const pb::SnapshotMetadata& point) {
    snapshot = point;
    entries.clear();
  }
};

}  // namespace

WalLogStore::WalLogStore(WalOptions options)
    : options_(std::move(options)), fs_(options_.file_system ? options_.file_system : posix_file_system()) {}

std::shared_ptr<WalLogStore> WalLogStore::open(WalOptions options) {
  std::shared_ptr<WalLogStore> store(new WalLogStore(std::move(options)));
  try {
    store->fs_->create_dir(store->options_.dir);
    store->recover();
  } catch (const std::system_error& e) {
    throw StorageError(std::string("cannot open the write-ahead log: ") + e.what());
  }
  store->writer_ = std::thread([raw = store.get()] { raw->writer_loop(); });
  return store;
}

WalLogStore::~WalLogStore() { close(); }

std::string WalLogStore::segment_path(std::uint64_t seq) const {
  char name[64];
  std::snprintf(name, sizeof name, "%s%020llu%s", kSegmentPrefix, static_cast<unsigned long long>(seq), kSegmentSuffix);
  return options_.dir + "/" + name;
}

void WalLogStore::recover() {
  std::vector<std::uint64_t> seqs;
  for (const std::string& name : fs_->list(options_.dir)) {
    if (auto seq = parse_segment_name(name)) seqs.push_back(*seq);
  }
  std::sort(seqs.begin(), seqs.end());
  for (std::size_t i = 1; i < seqs.size(); ++i) {
    if (seqs[i] != seqs[i - 1] + 1) {
      throw StorageError("write-ahead log segment " + segment_path(seqs[i - 1] + 1) + " is missing");
    }
  }

  Replay replay;
  std::uint64_t tail_offset = 0;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    const std::string path = segment_path(seqs[i]);
    const bool last = i + 1 == seqs.size();
    const std::string data = fs_->read_file(path);
    std::size_t offset = 0;
    Index max_index = 0;
    for (;;) {
      const ReadResult r = read_record(data, offset);
      if (r.kind == ReadResult::Kind::kEnd) break;
      if (r.kind == ReadResult::Kind::kTorn) {
        // A crash mid-append leaves a torn record at the very end of the newest
        // segment: everything before it was synced, nothing after it was. Anywhere
        // else, or with valid records after it, it is damage to acknowledged history.
        if (!last || valid_record_after(data, offset)) corrupt(path, offset, r.problem);
        std::fprintf(stderr, "raft wal: cutting a torn write at %s offset %zu (%s)\n", path.c_str(), offset,
                     r.problem.c_str());
        fs_->truncate(path, offset);
        break;
      }
      try {
        switch (r.type) {
          case RecordType::kEntry: {
            pb::Entry entry;
            if (!entry.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
              corrupt(path, offset, "undecodable entry");
            }
            max_index = std::max(max_index, entry.index());
            if (entry.index() > replay.snapshot.index()) replay.append(std::move(entry));
            break;
          }
          case RecordType::kHardState:
            if (!replay.hard_state.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
              corrupt(path, offset, "undecodable hard state");
            }
            break;
          case RecordType::kCompact:
          case RecordType::kReset: {
            pb::SnapshotMetadata point;
            if (!point.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
              corrupt(path, offset, "undecodable snapshot point");
            }
            if (r.type == RecordType::kReset) {
              replay.reset(point);
            } else {
              replay.compact(point);
            }
            break;
          }
        }
      } catch (const StorageError& e) {
        if (std::string(e.what()).rfind("corrupt", 0) == 0) throw;
        corrupt(path, offset, e.what());
      }
      offset = r.next_offset;
    }
    segment_max_index_[seqs[i]] = max_index;
    if (last) tail_offset = offset;
  }
  if (!replay.entries.empty() && replay.entries.front().index() != replay.snapshot.index() + 1) {
    throw StorageError("corrupt write-ahead log in " + options_.dir + ": entries start at " +
                       std::to_string(replay.entries.front().index()) + " but the snapshot point is " +
                       std::to_string(replay.snapshot.index()));
  }

  log_.install_snapshot(replay.snapshot);
  log_.append(std::vector<pb::Entry>(replay.entries.begin(), replay.entries.end()));
  log_.set_hard_state(replay.hard_state);
  written_hard_state_ = replay.hard_state;
  written_snapshot_ = replay.snapshot;
  if (seqs.empty()) {
    open_segment(1, 0, /*fresh=*/true);
  } else {
    open_segment(seqs.back(), tail_offset, /*fresh=*/false);
  }
  stats_.segments = segment_max_index_.size();
}

void WalLogStore::open_segment(std::uint64_t seq, std::uint64_t offset, bool fresh) {
  segment_ = fs_->open_for_append(segment_path(seq), offset);
  segment_->preallocate(options_.max_segment_bytes);
  segment_seq_ = seq;
  if (!fresh) return;
  // A new segment starts with the state an older segment would otherwise be needed
  // for, so older segments can be deleted once compacted away.
  std::string header;
  append_record(header, RecordType::kHardState, written_hard_state_.SerializeAsString());
  append_record(header, RecordType::kCompact, written_snapshot_.SerializeAsString());
  segment_->append(header.data(), header.size());
  segment_->sync();
  fs_->sync_dir(options_.dir);
  segment_max_index_.emplace(seq, 0);
}

// ---------------------------------------------------------------------------
// Reads

pb::HardState WalLogStore::hard_state() const {
  std::lock_guard lock(mutex_);
  return log_.hard_state();
}
pb::SnapshotMetadata WalLogStore::snapshot_metadata() const {
  std::lock_guard lock(mutex_);
  return log_.snapshot_metadata();
}
Index WalLogStore::first_index() const {
  std::lock_guard lock(mutex_);
  return log_.first_index();
}
Index WalLogStore::last_index() const {
  std::lock_guard lock(mutex_);
  return log_.last_index();
}
std::optional<Term> WalLogStore::term(Index index) const {
  std::lock_guard lock(mutex_);
  return log_.term(index);
}
void WalLogStore::entries(Index lo, Index hi, std::uint64_t max_bytes, std::vector<pb::Entry>* out) const {
  std::lock_guard lock(mutex_);
  // The caller's bounds may be stale after a concurrent compaction: clamp, and let it
  // find out from first_index() on its next look.
  lo = std::max(lo, log_.first_index());
  hi = std::min(hi, log_.last_index() + 1);
  if (lo < hi) log_.entries(lo, hi, max_bytes, out);
}

WalStats WalLogStore::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

// ---------------------------------------------------------------------------
// Writes

void WalLogStore::submit(LogWrite write, std::function<void(const Status&)> done) {
  std::optional<Error> refused;
  {
    std::lock_guard lock(mutex_);
    if (failure_) {
      refused = *failure_;
    } else if (closing_) {
      refused = make_error(ErrorCode::kShuttingDown, "write-ahead log closed");
    } else {
      queue_.push_back(Pending{std::move(write), std::move(done)});
    }
  }
  if (refused) return done(*refused);  // never called under the lock
  wake_.notify_one();
}

void WalLogStore::compact(const pb::SnapshotMetadata& snapshot) {
  {
    std::lock_guard lock(mutex_);
    if (failure_ || closing_) return;
    if (snapshot.index() <= log_.snapshot_metadata().index() || snapshot.index() > log_.last_index()) return;
    // Readers stop seeing the compacted entries at once; the record follows.
    log_.compact(snapshot);
    queue_.push_back(Pending{Compaction{snapshot}, nullptr});
  }
  wake_.notify_one();
}

void WalLogStore::close() {
  {
    std::lock_guard lock(mutex_);
    if (closing_) {
      if (!writer_.joinable()) return;
    }
    closing_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void WalLogStore::writer_loop() {
  for (;;) {
    std::deque<Pending> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, everything written
      batch.swap(queue_);
    }

    // Encode everything queued meanwhile into one buffer: one write, one sync.
    std::string buffer;
    bool sync = false;
    std::optional<pb::SnapshotMetadata> compacted;
    Index max_index = 0;
    pb::HardState hard_state = written_hard_state_;
    pb::SnapshotMetadata snapshot = written_snapshot_;
    for (const Pending& p : batch) {
      if (const auto* write = std::get_if<LogWrite>(&p.item)) {
        if (write->snapshot) {
          append_record(buffer, RecordType::kReset, write->snapshot->SerializeAsString());
          snapshot = *write->snapshot;
        }
        for (const pb::Entry& entry : write->entries) {
          append_record(buffer, RecordType::kEntry, entry.SerializeAsString());
          max_index = std::max(max_index, entry.index());
        }
        if (write->hard_state) {
          append_record(buffer, RecordType::kHardState, write->hard_state->SerializeAsString());
          hard_state = *write->hard_state;
        }
        sync = sync || write->sync;
      } else {
        const auto& compaction = std::get<Compaction>(p.item);
        append_record(buffer, RecordType::kCompact, compaction.snapshot.SerializeAsString());
        if (compaction.snapshot.index() > snapshot.index()) snapshot = compaction.snapshot;
        compacted = compaction.snapshot;
        sync = true;  // old segments are deleted only once this record is durable
      }
    }

    std::optional<Error> error;
    const auto start = std::chrono::steady_clock::now();
    try {
      if (segment_->size() + buffer.size() > options_.max_segment_bytes && segment_->size() > 0) {
        written_hard_state_ = hard_state;
        written_snapshot_ = snapshot;
        segment_->sync();
        open_segment(segment_seq_ + 1, 0, /*fresh=*/true);
      }
      segment_->append(buffer.data(), buffer.size());
      if (sync) segment_->sync();
      written_hard_state_ = hard_state;
      written_snapshot_ = snapshot;
      Index& segment_max = segment_max_index_[segment_seq_];
      segment_max = std::max(segment_max, max_index);
      if (compacted) {
        // Segments whose every entry is covered by the snapshot point are no longer
        // needed: newer segments begin with the state they carried.
        bool removed = false;
        for (auto it = segment_max_index_.begin(); it != segment_max_index_.end();) {
          if (it->first == segment_seq_ || it->second > written_snapshot_.index()) break;
          fs_->remove(segment_path(it->first));
          it = segment_max_index_.erase(it);
          removed = true;
        }
        if (removed) fs_->sync_dir(options_.dir);
      }
    } catch (const std::exception& e) {
      error = make_error(ErrorCode::kStorage, std::string("write-ahead log: ") + e.what());
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    std::deque<Pending> failed_later;
    {
      std::lock_guard lock(mutex_);
      if (error) {
        failure_ = *error;
        failed_later.swap(queue_);
      } else {
        // Durable: make it visible, in order.
        for (Pending& p : batch) {
          auto* write = std::get_if<LogWrite>(&p.item);
          if (write == nullptr) continue;
          if (write->snapshot) log_.install_snapshot(*write->snapshot);
          if (!write->entries.empty()) {
            // Entries below a compaction that overtook this write in memory are covered
            // by the snapshot already.
            std::vector<pb::Entry> fresh;
            for (pb::Entry& entry : write->entries) {
              if (entry.index() > log_.snapshot_metadata().index()) fresh.push_back(std::move(entry));
            }
            log_.append(fresh);
          }
          if (write->hard_state) log_.set_hard_state(*write->hard_state);
          ++stats_.writes;
        }
        stats_.bytes += buffer.size();
        if (sync) ++stats_.syncs;
        stats_.last_sync_ms = ms;
        stats_.segments = segment_max_index_.size();
      }
    }
    for (Pending& p : batch) {
      if (!p.done) continue;
      if (error) {
        p.done(*error);
      } else {
        p.done(Ok{});
      }
    }
    for (Pending& p : failed_later) {
      if (p.done) p.done(*error);
    }
  }
}

}  // namespace raft::wal
