# Sourced by the bench scripts that start clusters on fixed ports. A node that cannot
# bind its port exits, and the script's curl and wrk then talk to whatever holds the
# port (a cluster left running by an earlier run, often of another binary) and
# print its figures as the new binary's. So a port in use stops the run, naming it.
require_free_ports() {  # script-name port...
  local script="$1" port busy=()
  shift
  for port in "$@"; do
    # bash's /dev/tcp connects: success means something listens there.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then busy+=("$port"); fi
  done
  if [ ${#busy[@]} -gt 0 ]; then
    echo "$script: ports in use on 127.0.0.1: ${busy[*]} (a cluster left running? ss -ltnp shows whose)" >&2
    exit 1
  fi
}
