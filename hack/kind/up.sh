#!/usr/bin/env bash
# Brings up the kind cluster (hack/kind/cluster.yaml: a control plane and two workers) and
# prints the path of its kubeconfig. Idempotent: a cluster that is up is kept.
#   with Docker:    kind's docker provider and its own node image (kindest/node, pulled)
#   without Docker: podman (Debian's), set up by hack/kind/deps.sh, and a node image built
#                   offline by hack/kind/node-image.sh, so nothing is pulled (root)
# Everything is built once and cached under ${PEAPODS_CACHE:-~/.cache/peapods}.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

kind="$("$here/tools.sh" kind)/kind"
args=(--name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG" --retain)
config="$here/cluster.yaml"
if [[ "$KIND_PROVIDER" == podman ]]; then
  "$here/deps.sh"
  image=$("$here/node-image.sh")
  # A `kind` network made before the dnsname plugin was installed has no DNS, and podman
  # never adds it later: kind makes the network again when it is missing.
  if [[ "$(podman network inspect kind --format '{{.DNSEnabled}}' 2>/dev/null)" == false ]] &&
    ! "$kind" get clusters 2>/dev/null | grep -q .; then
    podman network rm kind >/dev/null
  fi
  config=$(mktemp)
  trap 'rm -f "$config"' EXIT
  cat "$here/cluster.yaml" "$here/offline-patches.yaml" >"$config"
  args+=(--image "$image")
fi

kubectl="$("$repo/hack/k8s-binaries.sh" kubectl)/kubectl"
# `kind get clusters` asks the provider, and podman under load sometimes fails to answer: read
# as "no cluster", that made kind create one beside the running one ("node(s) already exist").
for try in 1 2 3 4 5; do
  clusters=$("$kind" get clusters 2>/dev/null) && break
  ((try < 5)) || { echo "kind get clusters failed 5 times: is $KIND_PROVIDER working?" >&2; exit 1; }
  sleep 3
done
if grep -qx "$KIND_CLUSTER" <<<"$clusters"; then
  echo "kind cluster $KIND_CLUSTER is up ($KIND_PROVIDER)" >&2
  "$kind" get kubeconfig --name "$KIND_CLUSTER" >"$KIND_KUBECONFIG"
else
  start=$SECONDS
  echo "creating kind cluster $KIND_CLUSTER ($KIND_PROVIDER, 1 control plane + 2 workers)" >&2
  mkdir -p "$(dirname "$KIND_KUBECONFIG")"
  # --retain: a node that fails to come up stays for `kind export logs`; hack/kind/down.sh
  # removes it.
  if ! nice -n 5 "$kind" create cluster "${args[@]}" --config "$config" --wait 180s >&2; then
    logs="$KIND_CACHE/logs-$(date +%s)"
    "$kind" export logs "$logs" --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
    echo "kind create cluster failed; node logs in $logs; remove the cluster with hack/kind/down.sh" >&2
    exit 1
  fi
  echo "kind cluster $KIND_CLUSTER created in $((SECONDS - start))s" >&2
fi
# `--wait` covers the control plane; the workers join a little later.
"$kubectl" --kubeconfig "$KIND_KUBECONFIG" wait --for=condition=Ready nodes --all --timeout=180s >&2
echo "$KIND_KUBECONFIG"
