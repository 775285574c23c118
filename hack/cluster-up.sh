#!/usr/bin/env bash
# A local single-node Kubernetes cluster without Docker: a private containerd + runc with
# Debian's CNI plugins and the project's own pause image, then etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and a kubelet, all at the version pinned in
# hack/k8s-binaries.sh. Prints the kubeconfig path on stdout. Needs root.
#
# Listeners: etcd, the controller-manager, the scheduler and the kubelet's healthz are on
# 127.0.0.1. The API server and the kubelet's port listen on the pod bridge's address
# (10.244.0.1), a host address that pods can reach (they need the API server) but the
# outside world cannot. One iptables DNAT rule sends the `kubernetes` Service address
# (10.96.0.1:443) to it, the only thing kube-proxy would do here.
#
# Re-runnable: when the cluster is already up it prints the kubeconfig and does nothing;
# when it is half up it is stopped (hack/cluster-down.sh) and started again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=cluster/env.sh
source "$here/cluster/env.sh"
need_root cluster-up
start_time=$SECONDS

bin=$("$here/k8s-binaries.sh" cluster kubectl | tail -n1)
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
  [[ -x "$bin/$b" ]] || {
    echo "hack/k8s-binaries.sh gave '$bin' without $b: run 'hack/k8s-binaries.sh cluster kubectl' and see why" >&2
    exit 1
  }
done
kubectl_() { "$bin/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

all_up() {
  local c
  for c in "${COMPONENTS_STOP_ORDER[@]}"; do alive "$c" || return 1; done
  kubectl_ get --raw /readyz >/dev/null 2>&1
}
if all_up; then
  echo "cluster already up" >&2
  echo "$KUBECONFIG_OUT"
  exit 0
fi
"$here/cluster-down.sh" >/dev/null 2>&1 || true
"$here/cluster-deps.sh"

# A route of the host into the pod network would make pods unreachable.
if ip -4 route | grep -v "dev $BRIDGE" | grep -q "^${POD_CIDR%.*}\."; then
  echo "pod network $POD_CIDR clashes with a route of this host: set PEAPODS_POD_CIDR and PEAPODS_NODE_IP" >&2
  exit 1
fi

mkdir -p "$LOGS" "$PIDS" "$CLUSTER_DIR"/{pki,etcd,kubelet,pod-logs,cni/net.d,cni/ipam,containerd}
fail() { # component: print its log and stop
  echo "cluster-up: $1 did not come up; its log ($LOGS/$1.log) ends with:" >&2
  tail -n 40 "$LOGS/$1.log" >&2 || true
  echo "stop what started with: hack/cluster-down.sh" >&2
  exit 1
}
start() { # name cmd...: a daemon (env.sh) with a fresh log
  local name="$1"; shift
  : >"$LOGS/$name.log"
  daemon "$LOGS/$name.log" "$@"
  echo $! > "$PIDS/$name.pid"
}
wait_for() { # name seconds check...
  local name="$1" secs="$2" i; shift 2
  for ((i = 0; i < secs * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    alive "$name" || fail "$name"
    sleep 0.2
  done
  fail "$name"
}

"$here/cluster/pki.sh" "$CLUSTER_DIR/pki" "$NODE_IP" "$API_SERVICE_IP" "$NODE_NAME"
pki="$CLUSTER_DIR/pki"
"$here/cluster/kubeconfigs.sh" "$CLUSTER_DIR" "https://$NODE_IP:$API_PORT"

# --- pod network: the bridge exists before anything binds to its address
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
fi
ip link set "$BRIDGE" up
sysctl -qw net.ipv4.ip_forward=1
iptables -t nat -C PREROUTING -i "$BRIDGE" -d "$API_SERVICE_IP" -p tcp --dport 443 \
  -m comment --comment peapods-cluster -j DNAT --to-destination "$NODE_IP:$API_PORT" 2>/dev/null ||
  iptables -t nat -A PREROUTING -i "$BRIDGE" -d "$API_SERVICE_IP" -p tcp --dport 443 \
    -m comment --comment peapods-cluster -j DNAT --to-destination "$NODE_IP:$API_PORT"
sed -e "s|@BRIDGE@|$BRIDGE|g" -e "s|@POD_CIDR@|$POD_CIDR|g" -e "s|@GATEWAY@|$NODE_IP|g" \
  -e "s|@IPAM_DIR@|$CLUSTER_DIR/cni/ipam|g" "$here/cluster/10-peapods.conflist" \
  > "$CLUSTER_DIR/cni/net.d/10-peapods.conflist"

# --- containerd, then the pause image into it
sed -e "s|@DIR@|$CLUSTER_DIR/containerd|g" -e "s|@PAUSE@|$PAUSE_IMAGE|g" \
  -e "s|@CNI_CONF@|$CLUSTER_DIR/cni/net.d|g" "$here/cluster/containerd.toml" \
  > "$CLUSTER_DIR/containerd/config.toml"
start containerd containerd --config "$CLUSTER_DIR/containerd/config.toml"
wait_for containerd 20 ctr_ version
"$here/pause/build.sh" "$CLUSTER_DIR/images/pause.tar" "$PAUSE_IMAGE"
ctr_ images ls -q | grep -qx "$PAUSE_IMAGE" || ctr_ images import "$CLUSTER_DIR/images/pause.tar" >/dev/null

# --- control plane
start etcd "$bin/etcd" --name peapods --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
  --initial-cluster "peapods=http://127.0.0.1:$((ETCD_PORT + 1))" --unsafe-no-fsync
wait_for etcd 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction,ServiceAccount \
  --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
  --profiling=false
wait_for kube-apiserver 60 kubectl_ get --raw /readyz

start kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" --bind-address 127.0.0.1 \
  --use-service-account-credentials --service-account-private-key-file "$pki/sa.key" \
  --root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" \
  --cluster-signing-key-file "$pki/ca.key" --leader-elect=false --profiling=false
start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --profiling=false

# --- kubelet
sed -e "s|@DIR@|$CLUSTER_DIR|g" -e "s|@NODE_IP@|$NODE_IP|g" -e "s|@SOCK@|$CTRD_SOCK|g" \
  "$here/cluster/kubelet.yaml" > "$CLUSTER_DIR/kubelet.yaml"
start kubelet "$bin/kubelet" --config "$CLUSTER_DIR/kubelet.yaml" \
  --kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" --root-dir "$CLUSTER_DIR/kubelet" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
wait_for kube-controller-manager 30 curl -fsSk https://127.0.0.1:10257/healthz
wait_for kube-scheduler 30 curl -fsSk https://127.0.0.1:10259/healthz
wait_for kubelet 60 kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
# The default ServiceAccount must exist before the first pod can be admitted.
wait_for kube-controller-manager 30 kubectl_ -n default get serviceaccount default

echo "cluster up in $((SECONDS - start_time))s; export KUBECONFIG=$KUBECONFIG_OUT" >&2
echo "$KUBECONFIG_OUT"
