#!/usr/bin/env bash
# Stops the local single-node cluster of hack/cluster-up.sh and leaves nothing behind:
# no processes, no mounts, no pod network namespaces, no bridge, no iptables rule.
# Kept across runs (so the next cluster-up is fast): the certificates and the containerd
# image store. `hack/cluster-down.sh --purge` removes the whole state dir as well.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=cluster/env.sh
source "$here/cluster/env.sh"
need_root cluster-down
[[ -d "$CLUSTER_DIR" ]] || { echo "no cluster state in $CLUSTER_DIR: nothing to stop" >&2; exit 0; }

stop_group() { # name: SIGTERM the process group, SIGKILL what is left after 10 s
  local name="$1" pid i
  pid=$(cat "$PIDS/$name.pid" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  rm -f "$PIDS/$name.pid"
}

# Pod network namespaces, found through the pods' processes while they still run: CNI
# bind-mounts each one under /run/netns, and it would outlive its processes.
pod_netns_inodes() {
  local shim child
  for shim in $(pgrep -f "containerd-shim.*-address $CTRD_SOCK( |$)"); do
    for child in $(pgrep -P "$shim"); do
      stat -L -c %i "/proc/$child/ns/net" 2>/dev/null
    done
  done | sort -u
}

stop_group kubelet
netns_inodes=$(pod_netns_inodes)
if alive containerd; then
  # Kill every container (pods and sandboxes), so their shims exit by themselves.
  tasks=$(ctr_ tasks ls -q 2>/dev/null)
  for t in $tasks; do ctr_ tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1; done
  # Delete what is still listed, until nothing is: containerd's CRI plugin deletes most exited
  # tasks itself, and retrying each one of the first list 50 times (~1 s a try under load) took
  # 8 minutes after a run of many pods.
  for ((i = 0; i < 50; i++)); do
    tasks=$(ctr_ tasks ls -q 2>/dev/null)
    [[ -n "$tasks" ]] || break
    for t in $tasks; do ctr_ tasks delete "$t" >/dev/null 2>&1; done
    sleep 0.1
  done
  ctr_ containers delete $(ctr_ containers ls -q 2>/dev/null) >/dev/null 2>&1
fi
for c in "${COMPONENTS_STOP_ORDER[@]:1}"; do stop_group "$c"; done
# Shims that outlived containerd (for instance after a crash) belong to this cluster only
# when they were started with its socket.
for shim in $(pgrep -f "containerd-shim.*-address $CTRD_SOCK( |$)"); do kill -KILL "$shim" 2>/dev/null; done

for ns in /run/netns/cni-*; do
  [[ -e "$ns" ]] || continue
  if grep -qx "$(stat -L -c %i "$ns" 2>/dev/null)" <<< "$netns_inodes"; then
    umount "$ns" 2>/dev/null; rm -f "$ns"
  fi
done
# Every mount under the state dir (kubelet volumes, containerd rootfs and shm), deepest first.
findmnt -rn -o TARGET | grep -F "$CLUSTER_DIR/" | sort -r | while read -r m; do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
done

ip link del "$BRIDGE" 2>/dev/null
iptables -t nat -D PREROUTING -i "$BRIDGE" -d "$API_SERVICE_IP" -p tcp --dport 443 \
  -m comment --comment peapods-cluster -j DNAT --to-destination "$NODE_IP:$API_PORT" 2>/dev/null
# Empty pod cgroups the kubelet made (cgroup v1: one tree per controller).
for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
done

# The cluster is throwaway: its data goes, its keys and images stay.
rm -rf "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/kubelet" "$CLUSTER_DIR/pod-logs" "$CLUSTER_DIR/cni/ipam" \
  "$CLUSTER_DIR/containerd/state" "$PIDS"
if [[ "${1:-}" == --purge ]]; then
  rm -rf "$CLUSTER_DIR"
fi
left=$(findmnt -rn -o TARGET | grep -F "$CLUSTER_DIR/")
[[ -z "$left" ]] || { echo "cluster-down: still mounted: $left" >&2; exit 1; }
echo "cluster stopped" >&2
