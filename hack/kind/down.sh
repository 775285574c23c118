#!/usr/bin/env bash
# Deletes the kind cluster (its node containers, their volumes and network); the node image
# and every build stay cached for a fast next `hack/kind/up.sh`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
kind="$("$here/tools.sh" kind)/kind"
"$kind" delete cluster --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG" >&2
rm -f "$KIND_KUBECONFIG"
