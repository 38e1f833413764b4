#include "src/storage/segment_remover.h"

#include <cstdio>
#include <utility>

#include "src/util/thread_name.h"

namespace raft::storage {

SegmentRemover::SegmentRemover(Env& env, std::string dir, std::uint64_t step_bytes,
                               std::function<void(const Error&)> on_failure)
    : env_(env), dir_(std::move(dir)), step_bytes_(step_bytes), on_failure_(std::move(on_failure)) {
  thread_ = std::thread([this] {
    util::name_this_thread("raft-walrm");
    run();
  });
}

SegmentRemover::~SegmentRemover() { stop(); }

void SegmentRemover::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SegmentRemover::remove(std::vector<ObsoleteSegment> segments) {
  if (segments.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (ObsoleteSegment& segment : segments) queue_.push_back(std::move(segment));
  }
  work_cv_.notify_one();
}

void SegmentRemover::wait_idle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

std::uint64_t SegmentRemover::removed() const {
  std::lock_guard lock(mu_);
  return removed_;
}

std::string SegmentRemover::removing_file_name(std::uint64_t seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "wal-%010llu.removing", static_cast<unsigned long long>(seq));
  return buf;
}

bool SegmentRemover::is_removing_file_name(const std::string& file_name) {
  return file_name.starts_with("wal-") && file_name.ends_with(".removing");
}

void SegmentRemover::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and the queue is done
    ObsoleteSegment segment = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    const bool skip = failed_;
    lock.unlock();
    Status status = skip ? Status(Ok{}) : remove_one(segment);
    segment.file.reset();
    if (!status.ok()) on_failure_(status.error());
    lock.lock();
    busy_ = false;
    if (status.ok() && !skip) ++removed_;
    if (!status.ok()) failed_ = true;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

Status SegmentRemover::remove_one(ObsoleteSegment& segment) {
  // Only the last holder may shrink the file: a reader's pread must not find it cut.
  // No new holder can appear: the log dropped the segment before handing it over.
  const bool held_elsewhere = segment.file != nullptr && segment.file.use_count() > 1;
  bool shrink = !held_elsewhere && step_bytes_ > 0;
  if (shrink && segment.file != nullptr) {
    Result<std::uint64_t> size = segment.file->size();
    if (!size.ok()) return size.error();
    shrink = worth_removing_in_steps(size.value(), step_bytes_);
  }
  segment.file.reset();
  if (!shrink) return env_.remove(join_path(dir_, segment.file_name));
  const std::string removing = join_path(dir_, removing_file_name(segment.seq));
  if (Status s = env_.rename(join_path(dir_, segment.file_name), removing); !s.ok()) return s;
  if (Status s = env_.sync_dir(dir_); !s.ok()) return s;
  // No directory sync after the unlink: if the name comes back after a crash,
  // recovery removes it.
  return remove_in_steps(env_, removing, step_bytes_);
}

}  // namespace raft::storage
