#include "src/storage/durable_log.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <future>
#include <map>
#include <variant>

#include "src/storage/record.h"
#include "src/storage/segment.h"
#include "src/util/thread_name.h"

namespace raft::storage {

struct DurableLog::Op {
  enum class Kind { kWrite, kCompact, kFlush };
  Kind kind = Kind::kWrite;
  LogWrite write;
  pb::SnapshotMetadata point;  // kCompact
  WriteCallback done;
  std::uint64_t bytes = 0;     // estimate, for the batch size cap
  // Filled while the batch is planned:
  std::optional<Error> error;
  std::vector<std::uint64_t> entry_offsets;  // record offsets relative to the batch
  std::vector<std::uint32_t> entry_bytes;    // payload sizes
  bool compact_valid = false;
};

namespace {

Error invalid(std::string message) { return make_error(ErrorCode::kInvalidArgument, std::move(message)); }

}  // namespace

DurableLog::DurableLog(DurableLogOptions options) : options_(std::move(options)) {
  env_owner_ = options_.env ? options_.env : posix_env();
  env_ = env_owner_.get();
}

Result<std::shared_ptr<DurableLog>> DurableLog::open(DurableLogOptions options) {
  if (options.dir.empty()) return invalid("DurableLogOptions.dir is empty");
  if (options.max_segment_bytes == 0) return invalid("DurableLogOptions.max_segment_bytes is 0");
  std::shared_ptr<DurableLog> log(new DurableLog(std::move(options)));
  if (Status s = log->recover(); !s.ok()) return s.error();
  log->remover_ = std::make_unique<SegmentRemover>(*log->env_, log->options_.dir, log->options_.removal_step_bytes,
                                                   [raw = log.get()](const Error& error) { raw->fail(error); });
  log->completer_ = std::thread([raw = log.get()] {
    util::name_this_thread("raft-walcb");
    raw->completer_loop();
  });
  log->writer_ = std::thread([raw = log.get()] {
    util::name_this_thread("raft-wal");
    raw->writer_loop();
  });
  return log;
}

DurableLog::~DurableLog() { close(); }

// ---------------------------------------------------------------------------
// Recovery

Status DurableLog::recover() {
  if (Status s = env_->create_dir(options_.dir); !s.ok()) return s;
  Result<WalImage> read = read_wal(*env_, options_.dir);
  if (!read.ok()) return read.error();
  WalImage& image = read.value();
  recovery_.segments = image.segments.size();
  recovery_.torn_tail = image.torn_tail;
  base_ = image.base;
  hard_state_ = image.hard_state;
  index_ = std::move(image.locations);
  for (const SegmentSummary& summary : image.segments) {
    const std::string path = join_path(options_.dir, summary.file_name);
    Result<std::unique_ptr<RandomAccessFile>> file = env_->open_readable(path);
    if (!file.ok()) return file.error();
    segments_[summary.name.seq] = Segment{summary.name, summary.file_name, std::move(file.value())};
  }

  if (image.segments.empty()) {
    if (Status s = create_open_segment(1); !s.ok()) return s;
  } else if (const SegmentSummary& last = image.segments.back(); !last.name.open) {
    // A crash between closing a segment and creating the next.
    if (Status s = create_open_segment(last.name.seq + 1); !s.ok()) return s;
  } else if (!last.has_header) {
    // Created but its header never became durable: nothing was written to it.
    if (Status s = create_open_segment(last.name.seq); !s.ok()) return s;
  } else {
    const std::string path = join_path(options_.dir, last.file_name);
    Result<std::unique_ptr<WritableFile>> file = env_->open_writable(path, /*truncate=*/false);
    if (!file.ok()) return file.error();
    open_file_ = std::move(file.value());
    open_seq_ = last.name.seq;
    open_bytes_ = last.valid_bytes;
    open_zeroed_to_ = open_bytes_;  // what lies beyond is not known to be written
    open_header_bytes_ = record_bytes(encode_segment_header(last.header).size());
    open_first_entry_ = last.first_entry;
    open_prev_last_ = last.header.prev_last_index;
    bool changed = false;
    if (image.torn_tail) {
      // Cut the torn write, so the next append starts at the last good record and
      // nothing of the torn bytes can ever be read as a record again.
      if (Status s = open_file_->truncate(open_bytes_); !s.ok()) return s;
      changed = true;
    }
    if (options_.preallocate && last.file_bytes < options_.max_segment_bytes) {
      if (Status s = open_file_->allocate(options_.max_segment_bytes); !s.ok()) return s;
      changed = true;
    }
    if (changed) {
      if (Status s = open_file_->sync(); !s.ok()) return s;
    }
  }
  if (Status s = remove_leftover_segments(image.install_seq); !s.ok()) return s;

  // Warm the cache with the newest entries.
  const Index last_index = base_.index() + index_.size();
  std::uint64_t bytes = 0;
  Index first_cached = last_index + 1;
  while (first_cached > base_.index() + 1) {
    const EntryLocation& loc = index_[first_cached - 1 - base_.index() - 1];
    if (bytes + loc.payload_bytes > options_.max_cache_bytes) break;
    bytes += loc.payload_bytes;
    --first_cached;
  }
  cache_first_ = first_cached;
  for (Index i = first_cached; i <= last_index; ++i) {
    const EntryLocation& loc = index_[i - base_.index() - 1];
    try {
      cache_.push_back(read_entry(loc, segments_.at(loc.seq).file));
    } catch (const StorageError& e) {
      return make_error(ErrorCode::kStorage, e.what());
    }
    cache_bytes_ += loc.payload_bytes;
  }
  durable_index_.store(last_index, std::memory_order_release);
  return Ok{};
}

// ---------------------------------------------------------------------------
// Segment files

Status DurableLog::create_open_segment(std::uint64_t seq) {
  SegmentName name;
  name.seq = seq;
  name.open = true;
  const std::string file_name = segment_file_name(name);
  const std::string path = join_path(options_.dir, file_name);
  Result<std::unique_ptr<WritableFile>> file = env_->open_writable(path, /*truncate=*/true);
  if (!file.ok()) return file.error();
  SegmentHeader header;
  header.seq = seq;
  header.prev_last_index = base_.index() + index_.size();
  open_prev_last_ = header.prev_last_index;
  header.base = base_;
  header.hard_state = hard_state_;
  std::string record;
  append_record(RecordType::kSegmentHeader, encode_segment_header(header), &record);
  WritableFile& f = *file.value();
  if (Status s = f.write_at(0, record); !s.ok()) return s;
  if (options_.preallocate) {
    if (Status s = f.allocate(std::max<std::uint64_t>(options_.max_segment_bytes, record.size())); !s.ok()) return s;
  }
  // fsync, not fdatasync: the size changed. Then the directory, for the name (and
  // for the rename of the segment closed just before).
  if (Status s = f.sync(); !s.ok()) return s;
  if (Status s = env_->sync_dir(options_.dir); !s.ok()) return s;
  Result<std::unique_ptr<RandomAccessFile>> readable = env_->open_readable(path);
  if (!readable.ok()) return readable.error();
  {
    std::lock_guard lock(mu_);
    segments_[seq] = Segment{name, file_name, std::move(readable.value())};
    ++stats_.segments_created;
  }
  open_file_ = std::move(file.value());
  open_seq_ = seq;
  open_bytes_ = open_header_bytes_ = record.size();
  open_zeroed_to_ = open_bytes_;
  open_first_entry_.reset();
  unsynced_ = false;
  return Ok{};
}

Status DurableLog::zero_ahead(std::uint64_t batch_bytes) {
  if (!options_.preallocate || options_.zero_ahead_bytes == 0) return Ok{};
  if (open_zeroed_to_ >= open_bytes_ + options_.zero_ahead_bytes / 2) return Ok{};
  // A converting sync costs one extra device write whatever the batch; zeros cost
  // their bytes. Past about 30 KB per sync (70 us of inode write at 440 MB/s here)
  // writing the batch's own blocks is cheaper than zeroing them first.
  if (batch_bytes >= kZeroAheadMaxBatchBytes) return Ok{};
  // Not past the preallocated size: a batch bigger than a segment has one of its own
  // and leaves nothing to prepare.
  const std::uint64_t to = std::min(open_bytes_ + options_.zero_ahead_bytes, options_.max_segment_bytes);
  if (open_zeroed_to_ >= to) return Ok{};
  const std::string zeros(to - open_zeroed_to_, '\0');
  if (Status s = open_file_->write_at(open_zeroed_to_, zeros); !s.ok()) return s;
  open_zeroed_to_ = to;
  return Ok{};
}

Status DurableLog::roll_segment() {
  // Close: cut the unused preallocated tail and fsync (the size is metadata), so a
  // closed segment is exactly its records. Then give it its final name.
  if (Status s = open_file_->truncate(open_bytes_); !s.ok()) return s;
  if (Status s = open_file_->sync(); !s.ok()) return s;
  unsynced_ = false;
  if (Status s = open_file_->close(); !s.ok()) return s;
  const Index last_index = base_.index() + index_.size();
  SegmentName closed;
  closed.seq = open_seq_;
  closed.open = false;
  closed.last_index = last_index;
  if (open_first_entry_) {
    closed.first_index = *open_first_entry_;
  } else {
    // No entry: the index after the log's last when the segment was created.
    closed.first_index = open_prev_last_ + 1;
  }
  const std::string from = join_path(options_.dir, segments_.at(open_seq_).file_name);
  const std::string file_name = segment_file_name(closed);
  if (Status s = env_->rename(from, join_path(options_.dir, file_name)); !s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    Segment& segment = segments_.at(open_seq_);
    segment.name = closed;
    segment.file_name = file_name;
  }
  // create_open_segment syncs the directory, which makes the rename durable too.
  return create_open_segment(open_seq_ + 1);
}

std::vector<ObsoleteSegment> DurableLog::take_obsolete_segments(std::uint64_t install_seq) {
  std::vector<ObsoleteSegment> doomed;
  std::lock_guard lock(mu_);
  while (!segments_.empty()) {
    auto it = segments_.begin();
    const Segment& segment = it->second;
    if (segment.name.open || it->first == open_seq_) break;
    // Obsolete: before an install-snapshot record (the whole log was replaced), or
    // holding nothing above the snapshot point. Only a prefix is removed, so
    // replay always starts from a segment header and continues without gaps.
    if (it->first >= install_seq && segment.name.last_index > base_.index()) break;
    doomed.push_back(ObsoleteSegment{it->first, segment.file_name, segment.file});
    segments_.erase(it);
  }
  return doomed;
}

Status DurableLog::remove_leftover_segments(std::uint64_t install_seq) {
  std::vector<std::string> doomed;
  for (const ObsoleteSegment& segment : take_obsolete_segments(install_seq)) doomed.push_back(segment.file_name);
  Result<std::vector<std::string>> names = env_->list(options_.dir);
  if (!names.ok()) return names.error();
  for (const std::string& name : names.value()) {
    if (SegmentRemover::is_removing_file_name(name)) doomed.push_back(name);
  }
  if (doomed.empty()) return Ok{};
  for (const std::string& file_name : doomed) {
    if (Status s = env_->remove(join_path(options_.dir, file_name)); !s.ok()) return s;
    recovery_.removed_segments.push_back(file_name);
  }
  return env_->sync_dir(options_.dir);
}

// ---------------------------------------------------------------------------
// The writer thread

void DurableLog::writer_loop() {
  for (;;) {
    std::vector<Op> ops;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return (!queue_.empty() || closing_) && !writing_; });
      if (queue_.empty()) break;  // closing, and everything done
      writing_ = true;
      std::uint64_t bytes = 0;
      while (!queue_.empty() && (ops.empty() || bytes + queue_.front().bytes <= options_.max_batch_bytes)) {
        bytes += queue_.front().bytes;
        ops.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    process(ops);
    release_writer();
  }
  // Whatever was written without a sync request becomes durable at close.
  if (open_file_ && unsynced_ && status().ok()) {
    if (Status s = sync_open_segment(); !s.ok()) {
      fail(s.error());
    } else {
      unsynced_ = false;
      std::lock_guard lock(mu_);
      ++stats_.syncs;
      durable_index_.store(base_.index() + index_.size(), std::memory_order_release);
    }
  }
}

Status DurableLog::sync_open_segment() {
  const auto start = std::chrono::steady_clock::now();
  Status status = open_file_->sync_data();
  const auto took = std::chrono::steady_clock::now() - start;
  last_sync_micros_.store(std::chrono::duration_cast<std::chrono::microseconds>(took).count(),
                          std::memory_order_relaxed);
  if (status.ok()) sync_latency_.record(took);
  return status;
}

void DurableLog::fail(const Error& error) {
  std::lock_guard lock(mu_);
  if (!failed_) failed_ = error;
}

void DurableLog::process(std::vector<Op>& ops) {
  if (std::optional<Error> failed = [this] {
        std::lock_guard lock(mu_);
        return failed_;
      }()) {
    return complete_all(ops, *failed);
  }

  // 1. Plan and encode the whole batch, against a shadow of the log's shape (the
  //    published state does not change until the batch is durable).
  Index shadow_base = base_.index();
  Index shadow_last = base_.index() + index_.size();
  std::map<Index, Term> batch_terms;  // entries appended by this batch
  auto shadow_term = [&](Index i) -> std::optional<Term> {
    if (auto it = batch_terms.find(i); it != batch_terms.end()) return it->second;
    if (i <= shadow_base || i > shadow_last) return std::nullopt;
    return index_[i - base_.index() - 1].term;
  };
  std::string buf;
  bool need_sync = false;
  bool moves_base = false;
  std::uint64_t install_seq = 0;
  for (Op& op : ops) {
    switch (op.kind) {
      case Op::Kind::kFlush:
        need_sync = true;
        break;
      case Op::Kind::kCompact: {
        const pb::SnapshotMetadata& point = op.point;
        if (point.index() <= shadow_base || point.index() > shadow_last) break;
        const std::optional<Term> term = shadow_term(point.index());
        if (!term || *term != point.term()) {
          op.error = invalid("compaction point term " + std::to_string(point.term()) + " does not match entry " +
                             std::to_string(point.index()));
          break;
        }
        append_record(RecordType::kCompact, point.SerializeAsString(), &buf);
        op.compact_valid = true;
        for (auto it = batch_terms.begin(); it != batch_terms.end() && it->first <= point.index();) {
          it = batch_terms.erase(it);
        }
        shadow_base = point.index();
        need_sync = true;
        moves_base = true;
        break;
      }
      case Op::Kind::kWrite: {
        LogWrite& w = op.write;
        Index base = shadow_base;
        Index last = shadow_last;
        if (w.snapshot) base = last = w.snapshot->index();
        if (!w.entries.empty()) {
          const Index first = w.entries.front().index();
          if (first <= base || first > last + 1) {
            op.error = invalid("entries start at " + std::to_string(first) + ", outside (" + std::to_string(base) +
                               ", " + std::to_string(last + 1) + "]");
            break;
          }
          for (std::size_t i = 0; i < w.entries.size(); ++i) {
            if (w.entries[i].index() != first + i) {
              op.error = invalid("entries are not consecutive at " + std::to_string(w.entries[i].index()));
              break;
            }
          }
          if (op.error) break;
        }
        if (w.snapshot) {
          append_record(RecordType::kInstallSnapshot, w.snapshot->SerializeAsString(), &buf);
          batch_terms.clear();
          install_seq = 1;  // resolved to the segment once written
          need_sync = true;
          moves_base = true;
        }
        std::string payload;
        for (const pb::Entry& entry : w.entries) {
          payload.clear();
          entry.SerializeToString(&payload);
          op.entry_offsets.push_back(buf.size());
          op.entry_bytes.push_back(static_cast<std::uint32_t>(payload.size()));
          append_record(RecordType::kEntry, payload, &buf);
        }
        if (!w.entries.empty()) {
          batch_terms.erase(batch_terms.lower_bound(w.entries.front().index()), batch_terms.end());
          for (const pb::Entry& entry : w.entries) batch_terms[entry.index()] = entry.term();
          last = w.entries.back().index();
        }
        if (w.hard_state) append_record(RecordType::kHardState, w.hard_state->SerializeAsString(), &buf);
        shadow_base = base;
        shadow_last = last;
        need_sync = need_sync || w.sync;
        break;
      }
    }
  }

  // 2. One write, one sync.
  std::uint64_t batch_offset = 0;
  auto abort_batch = [&](const Error& error) {
    fail(error);
    complete_all(ops, error);
  };
  if (!buf.empty()) {
    if (open_bytes_ > open_header_bytes_ && open_bytes_ + buf.size() > options_.max_segment_bytes) {
      if (Status s = roll_segment(); !s.ok()) return abort_batch(s.error());
    }
    batch_offset = open_bytes_;
    if (Status s = open_file_->write_at(open_bytes_, buf); !s.ok()) return abort_batch(s.error());
    open_bytes_ += buf.size();
    open_zeroed_to_ = std::max(open_zeroed_to_, open_bytes_);
    unsynced_ = true;
    if (Status s = zero_ahead(buf.size()); !s.ok()) return abort_batch(s.error());
  }
  bool synced = false;
  if (need_sync && unsynced_) {
    if (Status s = sync_open_segment(); !s.ok()) return abort_batch(s.error());
    unsynced_ = false;
    synced = true;
  }
  if (install_seq != 0) install_seq = open_seq_;

  // 3. Publish, in order.
  Index last_index = 0;
  {
    std::lock_guard lock(mu_);
    for (Op& op : ops) {
      if (op.error) continue;
      if (op.kind == Op::Kind::kCompact && op.compact_valid) {
        const Index drop = op.point.index() - base_.index();
        index_.erase(index_.begin(), index_.begin() + static_cast<std::ptrdiff_t>(drop));
        while (!cache_.empty() && cache_first_ <= op.point.index()) {
          cache_bytes_ -= cache_.front().ByteSizeLong();
          cache_.pop_front();
          ++cache_first_;
        }
        if (cache_.empty()) cache_first_ = op.point.index() + 1;
        base_ = op.point;
      }
      if (op.kind != Op::Kind::kWrite) continue;
      LogWrite& w = op.write;
      if (w.snapshot) {
        index_.clear();
        cache_.clear();
        cache_bytes_ = 0;
        base_ = *w.snapshot;
        cache_first_ = base_.index() + 1;
      }
      if (!w.entries.empty()) {
        const Index first = w.entries.front().index();
        index_.resize(first - base_.index() - 1);
        if (!open_first_entry_) open_first_entry_ = first;
        for (std::size_t i = 0; i < w.entries.size(); ++i) {
          index_.push_back(EntryLocation{w.entries[i].term(), open_seq_, batch_offset + op.entry_offsets[i],
                                         op.entry_bytes[i]});
          cache_append(std::move(w.entries[i]));
        }
      }
      if (w.hard_state) hard_state_ = *w.hard_state;
      ++stats_.writes;
    }
    last_index = base_.index() + index_.size();
    if (!buf.empty()) {
      ++stats_.batches;
      stats_.bytes_written += buf.size();
    }
    if (synced) ++stats_.syncs;
  }
  if (!unsynced_) durable_index_.store(last_index, std::memory_order_release);

  // 4. Only now that the compaction or install record is durable: drop the segments
  //    it made obsolete (their files go in the background).
  if (moves_base) remover_->remove(take_obsolete_segments(install_seq));

  // 5. Tell the callers.
  std::vector<Completion> batch;
  batch.reserve(ops.size());
  for (Op& op : ops) {
    if (!op.done) continue;
    batch.push_back(Completion{std::move(op.done), op.error ? Result<Index>(*op.error) : Result<Index>(last_index)});
  }
  complete(std::move(batch));
}

void DurableLog::complete_all(std::vector<Op>& ops, const Error& error) {
  std::vector<Completion> batch;
  for (Op& op : ops) {
    if (op.done) batch.push_back(Completion{std::move(op.done), error});
  }
  complete(std::move(batch));
}

void DurableLog::complete(std::vector<Completion> batch) {
  if (batch.empty()) return;
  {
    std::lock_guard lock(completion_mu_);
    // A batch with a few callbacks (a Node's usual one per Ready) is cheaper to call
    // here than to hand over; order holds only if nothing is waiting or running there.
    const bool inline_ok = completions_.empty() && !completer_busy_ && batch.size() <= kInlineCallbacks;
    if (!inline_ok) {
      for (Completion& c : batch) completions_.push_back(std::move(c));
      completion_cv_.notify_one();
      return;
    }
  }
  for (Completion& c : batch) c.done(c.result);
}

void DurableLog::completer_loop() {
  std::vector<Completion> batch;
  for (;;) {
    {
      std::unique_lock lock(completion_mu_);
      completer_busy_ = false;
      completion_cv_.wait(lock, [this] { return !completions_.empty() || completer_closing_; });
      if (completions_.empty()) return;  // closing, and every callback called
      batch.swap(completions_);
      completer_busy_ = true;
    }
    for (Completion& c : batch) c.done(c.result);
    batch.clear();
  }
}

void DurableLog::cache_append(pb::Entry entry) {
  // Called under mu_. Keeps cache_ a suffix of the log.
  const Index index = entry.index();
  if (cache_.empty() || index < cache_first_ || index > cache_first_ + cache_.size()) {
    cache_.clear();
    cache_bytes_ = 0;
    cache_first_ = index;
  } else {
    while (cache_first_ + cache_.size() > index) {
      cache_bytes_ -= cache_.back().ByteSizeLong();
      cache_.pop_back();
    }
  }
  const std::uint64_t bytes = entry.ByteSizeLong();
  cache_.push_back(std::move(entry));
  cache_bytes_ += bytes;
  while (!cache_.empty() && cache_bytes_ > options_.max_cache_bytes) {
    cache_bytes_ -= cache_.front().ByteSizeLong();
    cache_.pop_front();
    ++cache_first_;
  }
}

// ---------------------------------------------------------------------------
// Submitting

namespace {
std::uint64_t batch_estimate(const LogWrite& write) {
  std::uint64_t bytes = 0;
  for (const pb::Entry& entry : write.entries) bytes += entry.data().size() + 32;
  return bytes;
}
}  // namespace

bool DurableLog::try_write_here(LogWrite& write, std::function<void(const Status&)>& done) {
  const std::int64_t max_sync = options_.caller_write_max_sync.count();
  if (max_sync == 0 || last_sync_micros_.load(std::memory_order_relaxed) > max_sync) return false;
  if (!claim_idle_writer()) return false;
  std::vector<Op> ops(1);
  ops[0].kind = Op::Kind::kWrite;
  ops[0].bytes = batch_estimate(write);
  ops[0].write = std::move(write);
  ops[0].done = status_callback(std::move(done));
  process(ops);  // one callback, nothing pending: complete() calls it here
  release_writer();
  return true;
}

bool DurableLog::claim_idle_writer() {
  {
    std::lock_guard lock(queue_mu_);
    if (closing_ || writing_ || !queue_.empty()) return false;
    writing_ = true;
  }
  // Callbacks of earlier batches still waiting for the completion thread would be
  // overtaken by this write's, called here. Only the holder of writing_ adds to them.
  bool callbacks_pending = false;
  {
    std::lock_guard lock(completion_mu_);
    callbacks_pending = !completions_.empty() || completer_busy_;
  }
  if (callbacks_pending) release_writer();
  return !callbacks_pending;
}

void DurableLog::release_writer() {
  std::lock_guard lock(queue_mu_);
  writing_ = false;
  if (!queue_.empty() || closing_) queue_cv_.notify_one();
}

void DurableLog::write_async(LogWrite write, WriteCallback done) {
  Op op;
  op.kind = Op::Kind::kWrite;
  op.bytes = batch_estimate(write);
  op.write = std::move(write);
  op.done = std::move(done);
  {
    std::lock_guard lock(queue_mu_);
    if (!closing_) {
      queue_.push_back(std::move(op));
      queue_cv_.notify_one();
      return;
    }
  }
  if (op.done) op.done(make_error(ErrorCode::kShuttingDown, "log closed: " + options_.dir));
}

DurableLog::WriteCallback DurableLog::status_callback(std::function<void(const Status&)> done) {
  return [done = std::move(done)](const Result<Index>& result) {
    if (!done) return;
    if (result.ok()) {
      done(Ok{});
    } else {
      done(result.error());
    }
  };
}

void DurableLog::submit(LogWrite write, std::function<void(const Status&)> done) {
  write_async(std::move(write), status_callback(std::move(done)));
}

void DurableLog::compact(const pb::SnapshotMetadata& snapshot) {
  Op op;
  op.kind = Op::Kind::kCompact;
  op.point = snapshot;
  std::lock_guard lock(queue_mu_);
  if (closing_) return;
  queue_.push_back(std::move(op));
  queue_cv_.notify_one();
}

Result<Index> DurableLog::write(LogWrite write) {
  std::promise<Result<Index>> promise;
  std::future<Result<Index>> future = promise.get_future();
  write_async(std::move(write), [&promise](const Result<Index>& result) { promise.set_value(result); });
  return finished(future.get());
}

Result<Index> DurableLog::flush() {
  std::promise<Result<Index>> promise;
  std::future<Result<Index>> future = promise.get_future();
  Op op;
  op.kind = Op::Kind::kFlush;
  op.done = [&promise](const Result<Index>& result) { promise.set_value(result); };
  {
    std::lock_guard lock(queue_mu_);
    if (closing_) return make_error(ErrorCode::kShuttingDown, "log closed: " + options_.dir);
    queue_.push_back(std::move(op));
    queue_cv_.notify_one();
  }
  return finished(future.get());
}

Result<Index> DurableLog::finished(Result<Index> result) {
  if (!result.ok()) return result;
  remover_->wait_idle();
  if (Status s = status(); !s.ok()) return s.error();  // a removal failed
  return result;
}

void DurableLog::close() {
  {
    std::lock_guard lock(queue_mu_);
    closing_ = true;
    queue_cv_.notify_one();
  }
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
  {
    std::lock_guard lock(completion_mu_);
    completer_closing_ = true;
    completion_cv_.notify_one();
  }
  if (completer_.joinable() && completer_.get_id() != std::this_thread::get_id()) completer_.join();
  if (remover_) remover_->stop();  // after the writer: finishes what it queued
  if (open_file_) {
    if (Status s = open_file_->close(); !s.ok()) fail(s.error());
    open_file_.reset();
  }
}

Status DurableLog::status() const {
  std::lock_guard lock(mu_);
  if (failed_) return *failed_;
  return Ok{};
}

DurableLogStats DurableLog::stats() const {
  std::lock_guard lock(mu_);
  DurableLogStats stats = stats_;
  stats.disk_reads = disk_reads_.load(std::memory_order_relaxed);
  if (remover_) stats.segments_removed = remover_->removed();
  return stats;
}

// ---------------------------------------------------------------------------
// Reading

pb::HardState DurableLog::hard_state() const {
  std::lock_guard lock(mu_);
  return hard_state_;
}

pb::SnapshotMetadata DurableLog::snapshot_metadata() const {
  std::lock_guard lock(mu_);
  return base_;
}

Index DurableLog::first_index() const {
  std::lock_guard lock(mu_);
  return base_.index() + 1;
}

Index DurableLog::last_index() const {
  std::lock_guard lock(mu_);
  return base_.index() + index_.size();
}

std::optional<Term> DurableLog::term(Index index) const {
  std::lock_guard lock(mu_);
  if (index == base_.index()) return base_.term();
  if (index < base_.index() || index > base_.index() + index_.size()) return std::nullopt;
  return index_[index - base_.index() - 1].term;
}

void DurableLog::entries(Index lo, Index hi, std::uint64_t max_bytes, std::vector<pb::Entry>* out) const {
  // Decide under the lock what comes from the cache and what from disk; read the
  // disk outside it, so a slow read never holds up the writer's publish step.
  struct DiskRead {
    std::size_t slot;
    EntryLocation location;
    std::shared_ptr<RandomAccessFile> file;
  };
  std::vector<std::optional<pb::Entry>> slots;
  std::vector<DiskRead> reads;
  {
    std::lock_guard lock(mu_);
    const Index first = base_.index() + 1;
    const Index last = base_.index() + index_.size();
    if (lo < first || hi > last + 1 || lo > hi) {
      throw StorageError("entries(" + std::to_string(lo) + ", " + std::to_string(hi) + ") outside the log [" +
                         std::to_string(first) + ", " + std::to_string(last) + "] in " + options_.dir);
    }
    std::uint64_t bytes = 0;
    for (Index i = lo; i < hi; ++i) {
      const EntryLocation& loc = index_[i - first];
      bytes += loc.payload_bytes;
      if (i > lo && bytes > max_bytes) break;
      if (!cache_.empty() && i >= cache_first_) {
        slots.emplace_back(cache_[i - cache_first_]);
      } else {
        slots.emplace_back();
        reads.push_back(DiskRead{slots.size() - 1, loc, segments_.at(loc.seq).file});
      }
    }
  }
  for (const DiskRead& read : reads) slots[read.slot] = read_entry(read.location, read.file);
  disk_reads_.fetch_add(reads.size(), std::memory_order_relaxed);
  out->reserve(out->size() + slots.size());
  for (std::optional<pb::Entry>& slot : slots) out->push_back(std::move(*slot));
}

pb::Entry DurableLog::read_entry(const EntryLocation& location, const std::shared_ptr<RandomAccessFile>& file) const {
  std::string buf;
  const std::uint64_t size = record_bytes(location.payload_bytes);
  if (Status s = file->read_at(location.offset, size, &buf); !s.ok()) throw StorageError(s.error().message);
  RecordReader reader(buf);
  Record record;
  pb::Entry entry;
  if (buf.size() != size || reader.next(&record) != RecordReader::Outcome::kRecord ||
      record.type != RecordType::kEntry || !decode_entry(record.payload, &entry) ||
      entry.term() != location.term) {
    throw StorageError(corruption(file->path(), location.offset, "entry record unreadable on re-read").message);
  }
  return entry;
}

}  // namespace raft::storage
