// std::ostream / std::istream over a SnapshotWriter / SnapshotReader, so a user's
// StateMachine::save and restore deal with plain iostreams. Buffered in 64 KiB steps.
#pragma once

#include <array>
#include <istream>
#include <ostream>
#include <streambuf>

#include "raft/snapshot_store.h"

namespace raft {

class SnapshotWriteBuffer final : public std::streambuf {
 public:
  explicit SnapshotWriteBuffer(SnapshotWriter& writer) : writer_(writer) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  // Writes out what is buffered; call before SnapshotWriter::commit().
  void flush() { sync(); }

 protected:
  int_type overflow(int_type ch) override {
    sync();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override {
    const auto n = static_cast<std::size_t>(pptr() - pbase());
    if (n > 0) writer_.write(pbase(), n);  // throws on I/O error
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return 0;
  }

 private:
  SnapshotWriter& writer_;
  std::array<char, 64 * 1024> buffer_;
};

class SnapshotReadBuffer final : public std::streambuf {
 public:
  explicit SnapshotReadBuffer(SnapshotReader& reader) : reader_(reader) {
    setg(buffer_.data(), buffer_.data(), buffer_.data());
  }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    const std::size_t n = reader_.read(buffer_.data(), buffer_.size());
    if (n == 0) return traits_type::eof();
    setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  SnapshotReader& reader_;
  std::array<char, 64 * 1024> buffer_;
};

}  // namespace raft
