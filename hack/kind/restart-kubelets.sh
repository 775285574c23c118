#!/usr/bin/env bash
# Restarts the kubelet on every node of the kind cluster, for the e2e fault test
# ($PEAPODS_RESTART_KUBELET): wherever the test's Peas landed, their kubelet restarts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
kind="$("$here/tools.sh" kind)/kind"
for node in $("$kind" get nodes --name "$KIND_CLUSTER"); do
  "$KIND_PROVIDER" exec "$node" systemctl restart kubelet
done
