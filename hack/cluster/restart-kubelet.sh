#!/usr/bin/env bash
# Restarts the local cluster's kubelet with the same command line (the e2e fault tests use it
# as PEAPODS_RESTART_KUBELET; on kind that is `docker exec NODE systemctl restart kubelet`).
# The kubelet is SIGKILLed, not stopped cleanly: the harshest restart it can meet.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
need_root restart-kubelet
pid=$(cat "$PIDS/kubelet.pid")
mapfile -d '' argv < "/proc/$pid/cmdline"
kill -KILL -- "-$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
daemon "$LOGS/kubelet.log" "${argv[@]}"
echo $! > "$PIDS/kubelet.pid"
echo "kubelet restarted (pid $!)" >&2
