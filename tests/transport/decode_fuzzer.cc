// libFuzzer target for the transport's wire decoding (built with clang only; see
// docs/wire-protocol.md for how to run it). The checks live in fuzz_decode.cc so the
// corpus replays in every build's tests too.
#include <cstddef>
#include <cstdint>

#include "tests/transport/fuzz_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  raft::transport::testing::fuzz_decode(data, size);
  return 0;
}
