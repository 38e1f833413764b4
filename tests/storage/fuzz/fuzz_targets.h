// The bodies of the storage fuzz targets, shared by the libFuzzer executables (clang
// only) and the corpus regression test (every build), so a crash found by fuzzing
// stays fixed once its input is added to tests/storage/corpus/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace raft::storage::fuzz {

// Treats the input as a segment file: frames records (as an open and as a closed
// segment), decodes every payload by its type, and replays it as the only segment
// of a log directory. Must never crash, hang or leak, whatever the bytes.
int record_reader_one_input(const std::uint8_t* data, std::size_t size);

// Decodes the input as each payload type (entry, hard state, snapshot metadata,
// segment header); a decoded entry must re-encode to something that decodes to the
// same entry.
int entry_decode_one_input(const std::uint8_t* data, std::size_t size);

}  // namespace raft::storage::fuzz
