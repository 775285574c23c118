#!/usr/bin/env bash
# `make demo`: a cluster (local by default, CLUSTER=kind for kind), the image built and
# loaded, the operator installed with Helm, the sample Pea applied and waited for.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
# Node 24, as the Makefile uses (the machine's own may be older).
PATH="$("$here/node.sh"):$PATH"
# shellcheck source=cluster/target.sh
source "$here/cluster/target.sh"
target_up
repository="${PEAPODS_IMAGE%:*}" tag="${PEAPODS_IMAGE##*:}"
"$HELM" upgrade --install peapods charts/peapods --namespace peapods-system --create-namespace \
  --set "image.repository=$repository" --set "image.tag=$tag" --wait --timeout 3m
"$KUBECTL" apply -f deploy/samples/sleeper.yaml
"$KUBECTL" wait --for=condition=Ready pea/sleeper --timeout=180s
"$KUBECTL" get peas
cat <<MSG

The Pea "sleeper" is Ready. Try:
  export KUBECONFIG=$KUBECONFIG
  kubectl get pea sleeper -o yaml                                  # status, conditions, pod
  kubectl patch pea sleeper --type=merge -p '{"spec":{"cancel":true}}'   # cancel it, keep the object
  kubectl delete pea sleeper                                       # or cancel and delete it
MSG
[[ "$CLUSTER" == local ]] && echo "Stop the local cluster with: make cluster-down"
exit 0
