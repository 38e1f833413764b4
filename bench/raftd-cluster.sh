# Sourced by the bench scripts that run raftd clusters of real processes on
# 127.0.0.1, after bench/require-free-ports.sh, from the repository's root.

# Installs wrk from Debian when missing, builds raftd (release preset) and sets RAFTD
# to it; wipes and makes work=build/<script-name> for data and logs; starts pids, an
# array of processes that an EXIT trap kills.
prepare_raftd_bench() {  # script-name
  if ! command -v wrk >/dev/null; then
    local sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk
  fi
  scripts/setup
  cmake --preset release >/dev/null
  cmake --build --preset release --target raftd >/dev/null
  RAFTD=build/release/src/raftd/raftd
  work="$PWD/build/$1"
  rm -rf "$work"
  mkdir -p "$work"
  pids=()
  trap kill_raftd_bench_processes EXIT
}

kill_raftd_bench_processes() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# Starts an n-node cluster on ports base+1.. (client) and base+51.. (peer), data in
# $work/c<n>-n<i>, and sets leader_url to its leader's client URL and node_pids to its
# processes in node order (no subshell: the caller's cleanup must see the pids).
start_raftd_cluster() {  # script-name nodes base [raftd flags...]
  local script="$1" nodes="$2" base="$3" members="" i url
  shift 3
  local ports=()
  for i in $(seq 1 "$nodes"); do ports+=($((base + i)) $((base + 50 + i))); done
  require_free_ports "$script" "${ports[@]}"
  for i in $(seq 1 "$nodes"); do members+="n$i=127.0.0.1:$((base + 50 + i)),"; done
  node_pids=()
  for i in $(seq 1 "$nodes"); do
    "$RAFTD" --id "n$i" --data-dir "$work/c$nodes-n$i" --listen-peer "127.0.0.1:$((base + 50 + i))" \
      --listen-client "127.0.0.1:$((base + i))" --initial-cluster "${members%,}" --quiet "$@" \
      >"$work/c$nodes-n$i.log" 2>&1 &
    pids+=($!)
    node_pids+=($!)
  done
  for _ in $(seq 1 100); do
    for i in $(seq 1 "$nodes"); do
      url="http://127.0.0.1:$((base + i))"
      if curl -sf "$url/v1/status" | grep -q '"state":"leader"'; then leader_url="$url"; return 0; fi
    done
    sleep 0.2
  done
  echo "$script: no leader in the $nodes-node cluster; logs in $work" >&2
  exit 1
}
