#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, builds examples/ as an outside
# project against it (find_package(raft), raft::raft), runs the counter example, and
# packs the raftd .deb and checks what it holds.
#   run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
source="$2"
scratch="$(mktemp -d /tmp/raft-install.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
for f in include/raft/node.h include/raft/detail/proto/raft.pb.h lib/cmake/raft/raftConfig.cmake \
         lib/libraft_node.a bin/raftd bin/raftctl; do
  [ -e "$scratch/prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done

cmake -S "$source/examples" -B "$scratch/examples" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/examples" >/dev/null
(cd "$scratch/examples/counter" && ./counter-example) | tee "$scratch/counter.out" | tail -n 3
grep -q "counter = 55" "$scratch/counter.out"

(cd "$build" && cpack -B "$scratch/package" >/dev/null)
deb="$(ls "$scratch"/package/*.deb)"
echo "package: $(basename "$deb")"
contents="$(dpkg-deb -c "$deb")"
grep -q "usr/bin/raftd$" <<<"$contents" || { echo "$contents"; echo "raftd missing from $deb"; exit 1; }
grep -q "usr/bin/raftctl$" <<<"$contents" || { echo "$contents"; echo "raftctl missing from $deb"; exit 1; }
dpkg-deb -f "$deb" Package Version Depends
echo "install test passed"
