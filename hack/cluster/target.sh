# Brings up the cluster that `make e2e` and `make demo` run against, and loads the project's
# image into it (sourced, not run). Sets KUBECONFIG, KUBECTL and HELM for what follows.
#   CLUSTER=local (default)  hack/cluster-up.sh: etcd, control plane, kubelet, containerd (root)
#   CLUSTER=kind             kind, three nodes (hack/kind/up.sh): with Docker where it answers,
#                            else podman and a node image built offline (root)
# Everything after this point is the same for both.
: "${CLUSTER:=local}"
: "${PEAPODS_IMAGE:=peapods/peapods:dev}"
export PEAPODS_IMAGE

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
      # shellcheck source=../kind/env.sh
      source "$repo/hack/kind/env.sh"
      KUBECONFIG=$("$repo/hack/kind/up.sh")
      local kind
      kind="$("$repo/hack/kind/tools.sh" kind)/kind"
      if [[ "$KIND_PROVIDER" == docker ]]; then
        docker build -t "$PEAPODS_IMAGE" "$repo"
        "$kind" load docker-image "$PEAPODS_IMAGE" --name "$KIND_CLUSTER"
      else
        # The same offline build as the local cluster's (buildah), then into every node. Its
        # build log goes beside kind's cache, not into the local cluster's directory.
        PEAPODS_CLUSTER_DIR="$KIND_CACHE/image-build" PEAPODS_IMAGE="$PEAPODS_IMAGE" "$repo/hack/images.sh" --no-load
        local archive="$KIND_CACHE/peapods-image.tar"
        rm -f "$archive"
        buildah --storage-driver vfs push --quiet "$PEAPODS_IMAGE" "docker-archive:$archive:$PEAPODS_IMAGE" >/dev/null
        "$kind" load image-archive "$archive" --name "$KIND_CLUSTER"
        rm -f "$archive"
      fi
      PEAPODS_RESTART_KUBELET="$repo/hack/kind/restart-kubelets.sh"
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
