// libFuzzer entry point: segment bytes through the record reader and recovery.
#include "tests/storage/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return raft::storage::fuzz::record_reader_one_input(data, size);
}
