#include "src/storage/wal_image.h"

#include <algorithm>
#include <map>

namespace raft::storage {

namespace {

// The replay state machine.
class Replay {
 public:
  explicit Replay(WalImage* image) : image_(image) {}

  Status segment(const std::string& path, SegmentSummary* segment, const std::vector<Record>& records,
                 const RecordVisitor& visitor) {
    if (records.empty() || records.front().type != RecordType::kSegmentHeader) {
      return corruption(path, 0, "segment does not start with a segment header record");
    }
    std::string why;
    if (!decode_segment_header(records.front().payload, &segment->header, &why)) return corruption(path, 0, why);
    segment->has_header = true;
    const SegmentHeader& header = segment->header;
    if (header.seq != segment->name.seq) {
      return corruption(path, 0,
                        "header says segment " + std::to_string(header.seq) + ", the name says " +
                            std::to_string(segment->name.seq));
    }
    if (!started_) {
      started_ = true;
      image_->base = header.base;
      image_->hard_state = header.hard_state;
      last_ = header.prev_last_index;
      known_first_ = last_ + 1;  // entries before are in removed segments
    } else {
      if (header.prev_last_index != last_) {
        return corruption(path, 0,
                          "segment starts after index " + std::to_string(header.prev_last_index) +
                              " but the log before it ends at " + std::to_string(last_) +
                              " (a segment is missing or was replaced)");
      }
      if (header.base.index() != image_->base.index() || header.base.term() != image_->base.term()) {
        return corruption(path, 0, "segment header snapshot point " + std::to_string(header.base.index()) +
                                       " differs from the replayed one " + std::to_string(image_->base.index()));
      }
    }
    if (visitor) visitor(*segment, records.front());
    for (std::size_t i = 1; i < records.size(); ++i) {
      const Record& record = records[i];
      if (Status s = apply(path, segment, record); !s.ok()) return s;
      if (visitor) visitor(*segment, record);
    }
    segment->last_index = last_;
    segment->records = records.size();
    return Ok{};
  }

  Status finish(const std::string& first_path) {
    if (known_first_ != image_->base.index() + 1) {
      return corruption(first_path, 0,
                        "entries " + std::to_string(image_->base.index() + 1) + " to " +
                            std::to_string(known_first_ - 1) +
                            " are neither in a segment nor covered by the snapshot point (a segment before this "
                            "one is missing)");
    }
    return Ok{};
  }

 private:
  Status apply(const std::string& path, SegmentSummary* segment, const Record& record) {
    switch (record.type) {
      case RecordType::kEntry: {
        pb::Entry entry;
        if (!decode_entry(record.payload, &entry)) return corruption(path, record.offset, "undecodable entry");
        const Index index = entry.index();
        if (index <= image_->base.index()) {
          return corruption(path, record.offset,
                            "entry " + std::to_string(index) + " is at or below the snapshot index " +
                                std::to_string(image_->base.index()));
        }
        if (index > last_ + 1) {
          return corruption(path, record.offset,
                            "index gap: entry " + std::to_string(index) + " follows " + std::to_string(last_));
        }
        auto& locs = image_->locations;
        if (index < known_first_) {
          locs.clear();
          known_first_ = index;
        } else {
          locs.resize(index - known_first_);
        }
        locs.push_back(EntryLocation{entry.term(), segment->name.seq, record.offset,
                                     static_cast<std::uint32_t>(record.payload.size())});
        last_ = index;
        if (!segment->first_entry) segment->first_entry = index;
        return Ok{};
      }
      case RecordType::kHardState:
        if (!decode_hard_state(record.payload, &image_->hard_state)) {
          return corruption(path, record.offset, "undecodable hard state");
        }
        return Ok{};
      case RecordType::kCompact: {
        pb::SnapshotMetadata point;
        if (!decode_snapshot_metadata(record.payload, &point)) {
          return corruption(path, record.offset, "undecodable compaction record");
        }
        if (point.index() <= image_->base.index()) return Ok{};  // nothing to drop
        if (point.index() > last_) {
          return corruption(path, record.offset,
                            "compaction to " + std::to_string(point.index()) + " past the last index " +
                                std::to_string(last_));
        }
        auto& locs = image_->locations;
        if (point.index() >= known_first_) {
          const Index known_term_index = point.index() - known_first_;
          if (locs[known_term_index].term != point.term()) {
            return corruption(path, record.offset,
                              "compaction point term " + std::to_string(point.term()) + " differs from entry " +
                                  std::to_string(point.index()) + "'s term " +
                                  std::to_string(locs[known_term_index].term));
          }
          locs.erase(locs.begin(), locs.begin() + static_cast<std::ptrdiff_t>(known_term_index + 1));
          known_first_ = point.index() + 1;
        }
        image_->base = point;
        return Ok{};
      }
      case RecordType::kInstallSnapshot: {
        pb::SnapshotMetadata point;
        if (!decode_snapshot_metadata(record.payload, &point)) {
          return corruption(path, record.offset, "undecodable install-snapshot record");
        }
        image_->locations.clear();
        image_->base = point;
        last_ = point.index();
        known_first_ = last_ + 1;
        image_->install_seq = segment->name.seq;
        return Ok{};
      }
      case RecordType::kSegmentHeader:
        return corruption(path, record.offset, "a second segment header inside a segment");
      case RecordType::kZero:
      case RecordType::kSnapshotMetadata:
        break;
    }
    return corruption(path, record.offset, "unexpected record type");
  }

  WalImage* image_;
  bool started_ = false;
  Index last_ = 0;
  Index known_first_ = 1;  // the first index whose location is known
};

}  // namespace

Result<WalImage> read_wal(Env& env, const std::string& dir, const RecordVisitor& visitor) {
  WalImage image;
  if (!env.exists(dir)) return image;
  Result<std::vector<std::string>> names = env.list(dir);
  if (!names.ok()) return names.error();
  std::map<std::uint64_t, SegmentSummary> by_seq;
  for (const std::string& file_name : names.value()) {
    std::optional<SegmentName> name = parse_segment_file_name(file_name);
    if (!name) continue;  // not ours
    SegmentSummary summary;
    summary.file_name = file_name;
    summary.name = *name;
    auto [it, fresh] = by_seq.emplace(name->seq, summary);
    if (!fresh) {
      return corruption(join_path(dir, file_name), 0,
                        "two segments with sequence number " + std::to_string(name->seq) + ": " +
                            it->second.file_name + " and " + file_name);
    }
  }
  if (by_seq.empty()) return image;

  std::uint64_t expected_seq = by_seq.begin()->first;
  const std::uint64_t last_seq = by_seq.rbegin()->first;
  for (const auto& [seq, summary] : by_seq) {
    const std::string path = join_path(dir, summary.file_name);
    if (seq != expected_seq) {
      return corruption(path, 0,
                        "segment " + std::to_string(expected_seq) + " is missing (the next one present is " +
                            std::to_string(seq) + ")");
    }
    ++expected_seq;
    if (summary.name.open && seq != last_seq) {
      return corruption(path, 0, "an open segment that is not the newest");
    }
  }

  Replay replay(&image);
  for (auto& [seq, summary] : by_seq) {
    const std::string path = join_path(dir, summary.file_name);
    std::string data;
    if (Status s = read_whole_file(env, path, &data); !s.ok()) return s.error();
    summary.file_bytes = data.size();
    const bool is_open = summary.name.open;
    SegmentScan scan = scan_segment(data, is_open);
    summary.valid_bytes = scan.valid_bytes;
    if (scan.tail == SegmentScan::Tail::kCorrupt) return corruption(path, scan.bad_offset, scan.reason);
    if (scan.tail == SegmentScan::Tail::kTorn) {
      std::size_t end = data.size();
      while (end > scan.bad_offset && data[end - 1] == 0) --end;
      image.torn_tail = TornTail{summary.file_name, scan.bad_offset, end - scan.bad_offset, scan.reason};
    }
    if (is_open && scan.records.empty()) {
      // Created, then the crash came before its header was durable: nothing was
      // ever written to it. Recovery rewrites it from the replayed state.
      summary.last_index = image.last_index();
      summary.records = 0;
      image.segments.push_back(summary);
      continue;
    }
    if (Status s = replay.segment(path, &summary, scan.records, visitor); !s.ok()) return s.error();
    // A closed segment's name states its range; the content must agree.
    if (!summary.name.open) {
      const Index first = summary.first_entry ? *summary.first_entry : summary.header.prev_last_index + 1;
      if (first != summary.name.first_index || summary.last_index != summary.name.last_index) {
        return corruption(path, 0,
                          "the name says indexes " + std::to_string(summary.name.first_index) + " to " +
                              std::to_string(summary.name.last_index) + ", the records hold " +
                              std::to_string(first) + " to " + std::to_string(summary.last_index));
      }
    }
    image.segments.push_back(summary);
  }
  if (Status s = replay.finish(join_path(dir, image.segments.front().file_name)); !s.ok()) return s.error();
  return image;
}

}  // namespace raft::storage
