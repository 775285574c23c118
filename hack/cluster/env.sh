# Shared settings of hack/cluster-up.sh and hack/cluster-down.sh (sourced, not run).
# Every value can be overridden from the environment.
CLUSTER_DIR="${PEAPODS_CLUSTER_DIR:-/var/lib/peapods-cluster}"
POD_CIDR="${PEAPODS_POD_CIDR:-10.244.0.0/24}"      # one node, one /24
NODE_IP="${PEAPODS_NODE_IP:-10.244.0.1}"            # the bridge's address = pods' gateway
SERVICE_CIDR="${PEAPODS_SERVICE_CIDR:-10.96.0.0/24}"
API_SERVICE_IP="${PEAPODS_API_SERVICE_IP:-10.96.0.1}" # first address of SERVICE_CIDR
API_PORT="${PEAPODS_API_PORT:-6443}"
ETCD_PORT="${PEAPODS_ETCD_PORT:-12379}"
BRIDGE="${PEAPODS_BRIDGE:-peapods0}"
NODE_NAME="${PEAPODS_NODE_NAME:-peapods-node}"
PAUSE_IMAGE="${PEAPODS_PAUSE_IMAGE:-peapods.local/pause:1.0}"

CTRD_SOCK="$CLUSTER_DIR/containerd/containerd.sock"
KUBECONFIG_OUT="$CLUSTER_DIR/kubeconfig"
LOGS="$CLUSTER_DIR/logs"
PIDS="$CLUSTER_DIR/pids"
# The components stop in this order (reverse of their start).
COMPONENTS_STOP_ORDER=(kubelet kube-scheduler kube-controller-manager kube-apiserver etcd containerd)

ctr_() { ctr --address "$CTRD_SOCK" -n k8s.io "$@"; }

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "$1 needs root (it runs containerd, a kubelet, mounts and network namespaces): run 'sudo $0'" >&2
    exit 1
  fi
}

# The pid file holds the leader of the component's own process group (setsid).
alive() { local p; p=$(cat "$PIDS/$1.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null; }

# daemon LOGFILE CMD...: runs CMD in its own session (its own process group, what the pid
# file names), appending to LOGFILE. It keeps none of the caller's descriptors: a daemon
# outlives its caller, so it would hold a test runner's pipes or a `flock LOCK make e2e`.
daemon() {
  local log="$1"; shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid "$@" >>"$log" 2>&1 < /dev/null
  ) &
}
