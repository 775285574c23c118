# Shared by hack/kind/*.sh and hack/cluster/target.sh (sourced): which kind cluster, where its
# kubeconfig and cache live, and which provider runs its nodes.
KIND_CLUSTER="${KIND_CLUSTER:-peapods}"
KIND_CACHE="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}/kind"
KIND_KUBECONFIG="${PEAPODS_KIND_KUBECONFIG:-$KIND_CACHE/$KIND_CLUSTER.kubeconfig}"
# Docker where it answers (kind's own path, its node image pulled); podman otherwise, with
# the node image built here. KIND_EXPERIMENTAL_PROVIDER, when set, decides.
if [[ -z "${KIND_EXPERIMENTAL_PROVIDER:-}" ]]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    KIND_EXPERIMENTAL_PROVIDER=docker
  else
    KIND_EXPERIMENTAL_PROVIDER=podman
  fi
fi
KIND_PROVIDER="$KIND_EXPERIMENTAL_PROVIDER"
export KIND_EXPERIMENTAL_PROVIDER
