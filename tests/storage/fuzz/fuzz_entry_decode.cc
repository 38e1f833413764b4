// libFuzzer entry point: bytes through the protobuf payload decoders.
#include "tests/storage/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return raft::storage::fuzz::entry_decode_one_input(data, size);
}
