# Brings up the cluster that `make e2e` and `make demo` run against, and loads the project's
# image into it (sourced, not run). Sets KUBECONFIG, KUBECTL and HELM for what follows.
#   CLUSTER=local (default)  hack/cluster-up.sh: etcd, control plane, kubelet, containerd (root)
#   CLUSTER=kind             kind + Docker, for machines that have them (not these: no Docker)
# Everything after this point is the same for both.
: "${CLUSTER:=local}"
: "${PEAPODS_IMAGE:=peapods/peapods:dev}"
export PEAPODS_IMAGE
KIND_VERSION="${KIND_VERSION:-v0.30.0}"
KIND_CLUSTER="${KIND_CLUSTER:-peapods}"

target_up() {
  local repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  case "$CLUSTER" in
    local)
      KUBECONFIG=$("$repo/hack/cluster-up.sh")
      PEAPODS_IMAGE="$PEAPODS_IMAGE" "$repo/hack/images.sh"
      local bin
      bin=$("$repo/hack/k8s-binaries.sh" kubectl helm)
      KUBECTL="$bin/kubectl" HELM="$bin/helm"
      PEAPODS_RESTART_KUBELET="$repo/hack/cluster/restart-kubelet.sh"
      ;;
    kind)
      command -v docker >/dev/null || { echo "CLUSTER=kind needs Docker; without it use the local cluster (CLUSTER=local, root)" >&2; exit 1; }
      local kind=kind
      if ! command -v kind >/dev/null; then
        GOBIN="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}/kind-$KIND_VERSION"
        [[ -x "$GOBIN/kind" ]] || GOBIN="$GOBIN" go install "sigs.k8s.io/kind@$KIND_VERSION"
        kind="$GOBIN/kind"
      fi
      "$kind" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER" || "$kind" create cluster --name "$KIND_CLUSTER" --wait 120s
      KUBECONFIG="${PEAPODS_KIND_KUBECONFIG:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods/kind-$KIND_CLUSTER.kubeconfig}"
      mkdir -p "$(dirname "$KUBECONFIG")"
      "$kind" get kubeconfig --name "$KIND_CLUSTER" > "$KUBECONFIG"
      docker build -t "$PEAPODS_IMAGE" "$repo"
      "$kind" load docker-image "$PEAPODS_IMAGE" --name "$KIND_CLUSTER"
      PEAPODS_RESTART_KUBELET="docker exec $KIND_CLUSTER-control-plane systemctl restart kubelet"
      local bin
      bin=$("$repo/hack/k8s-binaries.sh" kubectl helm)
      KUBECTL="$bin/kubectl" HELM="$bin/helm"
      ;;
    *)
      echo "CLUSTER must be local or kind, not '$CLUSTER'" >&2
      exit 2
      ;;
  esac
  # How the e2e fault tests restart the node's kubelet: the one step that differs per cluster.
  export KUBECONFIG KUBECTL HELM PEAPODS_RESTART_KUBELET
}
