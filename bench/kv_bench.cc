// What a snapshot of raftd's key-value store costs the apply thread (Google
// Benchmark): KvStore::capture (the image built in memory, on the apply thread)
// against KvStore::save (the image written through a stream, all on the apply thread
// before StateMachine::capture existed). Figures, never pass/fail:
// `build/release/bench/kv_bench`.
#include <benchmark/benchmark.h>

#include <memory>
#include <ostream>
#include <streambuf>
#include <string>

#include "src/raftd/kv.pb.h"
#include "src/raftd/kv_store.h"

namespace raftd {
namespace {

// A store of `keys` pairs of 100-byte values, as bench/wrk/kv.lua fills it.
std::unique_ptr<KvStore> filled_store(std::int64_t keys) {
  auto store = std::make_unique<KvStore>();
  pb::KvCommand cmd;
  cmd.set_op(pb::KvCommand::PUT);
  cmd.set_value(std::string(100, 'v'));
  for (std::int64_t i = 0; i < keys; ++i) {
    cmd.set_key("key" + std::to_string(i));
    store->apply(static_cast<raft::Index>(i + 1), cmd.SerializeAsString());
  }
  return store;
}

// Counts the bytes written and keeps none, so save() is timed without a disk.
class CountingBuffer final : public std::streambuf {
 public:
  std::uint64_t bytes = 0;

 protected:
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes += static_cast<std::uint64_t>(n);
    return n;
  }
  int_type overflow(int_type ch) override {
    ++bytes;
    return traits_type::not_eof(ch);
  }
};

void BM_KvCapture(benchmark::State& state) {
  const std::unique_ptr<KvStore> store = filled_store(state.range(0));
  for (auto _ : state) {
    std::unique_ptr<raft::CapturedState> captured = store->capture();
    benchmark::DoNotOptimize(captured.get());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_KvCapture)->Arg(10'000)->Arg(200'000)->Unit(benchmark::kMillisecond);

void BM_KvSave(benchmark::State& state) {
  const std::unique_ptr<KvStore> store = filled_store(state.range(0));
  for (auto _ : state) {
    CountingBuffer buffer;
    std::ostream out(&buffer);
    store->save(out);
    benchmark::DoNotOptimize(buffer.bytes);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_KvSave)->Arg(10'000)->Arg(200'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace raftd

BENCHMARK_MAIN();
