// The fuzzing entry point for the transport's wire decoding, shared by the libFuzzer
// target (decode_fuzzer.cc, clang only) and by the regression test that replays the
// corpus in every build: any input, however malformed, must decode to a value or an
// error, never crash, hang or break the properties checked inside.
#pragma once

#include <cstddef>
#include <cstdint>

namespace raft::transport::testing {

// Feeds `data` to decode_batch() and decode_snapshot_chunk() and checks that what
// is accepted satisfies every promise the decoders make and survives re-encoding.
// Aborts on a violated property (the fuzzer reports it).
void fuzz_decode(const std::uint8_t* data, std::size_t size);

}  // namespace raft::transport::testing
