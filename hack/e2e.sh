#!/usr/bin/env bash
# The end-to-end suite: a cluster (local, or kind with CLUSTER=kind), the image loaded into
# it, then test/e2e (jest.e2e.config.js), which installs the chart with Helm and drives real
# Peas through kubectl. Extra arguments go to jest (e.g. -t 'ReadyTimeout').
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
# Node 24, as the Makefile uses (the machine's own may be older).
PATH="$("$here/node.sh"):$PATH"
# shellcheck source=cluster/target.sh
source "$here/cluster/target.sh"
target_up
echo "e2e on CLUSTER=$CLUSTER (KUBECONFIG=$KUBECONFIG)" >&2
exec node --experimental-vm-modules node_modules/jest/bin/jest.js -c jest.e2e.config.js "$@"
