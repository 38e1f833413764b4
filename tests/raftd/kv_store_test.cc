// KvStore: the commands' outcomes, key order for listings, snapshots, and a random
// sequence of commands checked against a plain ordered map (the store's point-lookup
// index must agree with its ordered map after every command).
#include "src/raftd/kv_store.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "src/raftd/kv.pb.h"

namespace raftd {
namespace {

std::string put(const std::string& key, const std::string& value) {
  pb::KvCommand cmd;
  cmd.set_op(pb::KvCommand::PUT);
  cmd.set_key(key);
  cmd.set_value(value);
  return cmd.SerializeAsString();
}

std::string compare_and_set(const std::string& key, const std::string& prev,
                            const std::string& value) {
  pb::KvCommand cmd;
  cmd.set_op(pb::KvCommand::PUT);
  cmd.set_key(key);
  cmd.set_value(value);
  cmd.set_has_prev_value(true);
  cmd.set_prev_value(prev);
  return cmd.SerializeAsString();
}

std::string create(const std::string& key, const std::string& value) {
  pb::KvCommand cmd;
  cmd.set_op(pb::KvCommand::PUT);
  cmd.set_key(key);
  cmd.set_value(value);
  cmd.set_create_only(true);
  return cmd.SerializeAsString();
}

std::string erase(const std::string& key) {
  pb::KvCommand cmd;
  cmd.set_op(pb::KvCommand::DELETE);
  cmd.set_key(key);
  return cmd.SerializeAsString();
}

pb::KvResult::Code apply(KvStore& kv, raft::Index index, const std::string& command) {
  pb::KvResult result;
  EXPECT_TRUE(result.ParseFromString(kv.apply(index, command)));
  EXPECT_EQ(result.index(), index);
  return result.code();
}

// Applies "key<i>" = i bytes of 'x' at index i + 1, for i in [0, n).
void fill_keys(KvStore& kv, int n) {
  for (int i = 0; i < n; ++i) apply(kv, i + 1, put("key" + std::to_string(i), std::string(i, 'x')));
}

TEST(KvStore, PutOverwriteAndDelete) {
  KvStore kv;
  EXPECT_EQ(apply(kv, 1, put("a", "1")), pb::KvResult::OK);
  EXPECT_EQ(kv.get("a"), "1");
  EXPECT_EQ(apply(kv, 2, put("a", "2")), pb::KvResult::OK);
  EXPECT_EQ(kv.get("a"), "2");
  EXPECT_EQ(kv.size(), 1u);
  EXPECT_EQ(apply(kv, 3, erase("a")), pb::KvResult::OK);
  EXPECT_EQ(kv.get("a"), std::nullopt);
  EXPECT_EQ(apply(kv, 4, erase("a")), pb::KvResult::NOT_FOUND);
  EXPECT_EQ(kv.size(), 0u);
  EXPECT_EQ(kv.applied_index(), 4u);
}

TEST(KvStore, ConditionalPuts) {
  KvStore kv;
  EXPECT_EQ(apply(kv, 1, create("k", "v1")), pb::KvResult::OK);
  EXPECT_EQ(apply(kv, 2, create("k", "v2")), pb::KvResult::COMPARE_FAILED);
  EXPECT_EQ(apply(kv, 3, compare_and_set("k", "wrong", "v3")), pb::KvResult::COMPARE_FAILED);
  EXPECT_EQ(kv.get("k"), "v1");
  EXPECT_EQ(apply(kv, 4, compare_and_set("k", "v1", "v4")), pb::KvResult::OK);
  EXPECT_EQ(kv.get("k"), "v4");
  EXPECT_EQ(apply(kv, 5, compare_and_set("absent", "", "x")), pb::KvResult::COMPARE_FAILED);
  EXPECT_EQ(kv.get("absent"), std::nullopt);
}

TEST(KvStore, UndecodableCommandChangesNothing) {
  KvStore kv;
  ASSERT_EQ(apply(kv, 1, put("k", "v")), pb::KvResult::OK);
  EXPECT_EQ(apply(kv, 2, std::string("\xff\xff\xff", 3)), pb::KvResult::COMPARE_FAILED);
  EXPECT_EQ(kv.get("k"), "v");
  EXPECT_EQ(kv.size(), 1u);
}

TEST(KvStore, ListIsInKeyOrderWithinThePrefix) {
  KvStore kv;
  raft::Index index = 0;
  for (const char* key : {"b/2", "a/9", "b/10", "b/1", "c", "b"})
    apply(kv, ++index, put(key, std::string(key) + "!"));
  const auto listed = kv.list("b/", 10);
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].first, "b/1");
  EXPECT_EQ(listed[1].first, "b/10");
  EXPECT_EQ(listed[2].first, "b/2");
  EXPECT_EQ(listed[2].second, "b/2!");
  EXPECT_EQ(kv.list("b", 2).size(), 2u);
  EXPECT_EQ(kv.list("", 100).size(), 6u);
}

TEST(KvStore, SnapshotRestoresEveryPairAndLookupsStillWork) {
  KvStore source;
  fill_keys(source, 100);
  std::stringstream image;
  source.save(image);

  KvStore restored;
  apply(restored, 1, put("stale", "gone after restore"));
  restored.restore(image);
  EXPECT_EQ(restored.applied_index(), 100u);
  EXPECT_EQ(restored.size(), 100u);
  EXPECT_EQ(restored.get("stale"), std::nullopt);
  EXPECT_EQ(restored.get("key42"), std::string(42, 'x'));
  // The point-lookup index was rebuilt for the restored pairs: deletes and
  // overwrites find them.
  EXPECT_EQ(apply(restored, 101, erase("key42")), pb::KvResult::OK);
  EXPECT_EQ(restored.get("key42"), std::nullopt);
  EXPECT_EQ(apply(restored, 102, compare_and_set("key7", std::string(7, 'x'), "new")),
            pb::KvResult::OK);
  EXPECT_EQ(restored.get("key7"), "new");
}

// The image's bytes are pinned: snapshots written by earlier builds must restore.
TEST(KvStore, TheSnapshotFormatIsLengthPrefixedPairsInKeyOrder) {
  KvStore kv;
  apply(kv, 1, put("b", ""));
  apply(kv, 2, put("a", "x y"));
  std::stringstream image;
  kv.save(image);
  EXPECT_EQ(image.str(), "raftd-kv-v1\n2 2\n1 a3 x y1 b0 ");
}

// capture() holds the state at its index: what is applied after it changes neither
// the captured bytes nor what they restore to.
TEST(KvStore, ACapturedStateIsTheStateAtItsIndex) {
  KvStore kv;
  fill_keys(kv, 100);
  std::stringstream saved;
  kv.save(saved);
  std::unique_ptr<raft::CapturedState> captured = kv.capture();
  ASSERT_NE(captured, nullptr);
  apply(kv, 101, put("key1", "changed"));
  apply(kv, 102, erase("key2"));
  apply(kv, 103, put("new", "pair"));
  std::stringstream written;
  captured->save(written);
  EXPECT_EQ(written.str(), saved.str());

  KvStore restored;
  restored.restore(written);
  EXPECT_EQ(restored.applied_index(), 100u);
  EXPECT_EQ(restored.size(), 100u);
  EXPECT_EQ(restored.get("key1"), "x");
  EXPECT_EQ(restored.get("key2"), "xx");
  EXPECT_EQ(restored.get("new"), std::nullopt);
}

TEST(KvStore, RejectsAForeignSnapshot) {
  KvStore kv;
  std::stringstream image("not a snapshot");
  EXPECT_THROW(kv.restore(image), std::runtime_error);
}

TEST(KvStore, ABadSnapshotIsRefusedAndChangesNothing) {
  KvStore kv;
  apply(kv, 1, put("kept", "v"));
  // A pair listed twice (a valid image never does that), and an image cut short.
  std::stringstream repeated("raftd-kv-v1\n7 2\n1 a1 x1 a1 y");
  EXPECT_THROW(kv.restore(repeated), std::runtime_error);
  std::stringstream truncated("raftd-kv-v1\n7 2\n1 a1 x1 b");
  EXPECT_THROW(kv.restore(truncated), std::runtime_error);
  EXPECT_EQ(kv.applied_index(), 1u);
  EXPECT_EQ(kv.size(), 1u);
  EXPECT_EQ(kv.get("kept"), "v");
  EXPECT_EQ(kv.list("", 10).size(), 1u);
}

TEST(KvStore, RandomCommandsAgreeWithAnOrderedMap) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (set it in this test to reproduce)");
  std::mt19937 rng(seed);
  KvStore kv;
  std::map<std::string, std::string> model;
  for (raft::Index index = 1; index <= 20000; ++index) {
    const std::string key = "k" + std::to_string(rng() % 300);
    const std::string value = std::to_string(rng() % 5);
    switch (rng() % 4) {
      case 0:
      case 1: {
        model[key] = value;
        ASSERT_EQ(apply(kv, index, put(key, value)), pb::KvResult::OK);
        break;
      }
      case 2: {
        const bool present = model.erase(key) == 1;
        ASSERT_EQ(apply(kv, index, erase(key)),
                  present ? pb::KvResult::OK : pb::KvResult::NOT_FOUND);
        break;
      }
      default: {
        const auto it = model.find(key);
        const bool matches = it != model.end() && it->second == value;
        if (matches) it->second = "cas";
        ASSERT_EQ(apply(kv, index, compare_and_set(key, value, "cas")),
                  matches ? pb::KvResult::OK : pb::KvResult::COMPARE_FAILED);
        break;
      }
    }
    const auto got = kv.get(key);
    const auto want = model.find(key);
    ASSERT_EQ(got.has_value(), want != model.end()) << "at index " << index;
    if (got) {
      ASSERT_EQ(*got, want->second) << "at index " << index;
    }
  }
  ASSERT_EQ(kv.size(), model.size());
  const auto listed = kv.list("", model.size() + 1);
  const std::vector<std::pair<std::string, std::string>> expected(model.begin(), model.end());
  ASSERT_EQ(listed, expected);
}

}  // namespace
}  // namespace raftd
