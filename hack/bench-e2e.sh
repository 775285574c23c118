#!/usr/bin/env bash
# The e2e part of `make bench`: a cluster (CLUSTER=local|kind), the image, the operator
# installed with Helm, then bench/e2e.bench.ts. Arguments go to the benchmark (--runs N).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
# Node 24, as the Makefile uses (the machine's own may be older).
PATH="$("$here/node.sh"):$PATH"
# shellcheck source=cluster/target.sh
source "$here/cluster/target.sh"
target_up
"$HELM" upgrade --install peapods charts/peapods --namespace peapods-system --create-namespace \
  --set "image.repository=${PEAPODS_IMAGE%:*}" --set "image.tag=${PEAPODS_IMAGE##*:}" --wait --timeout 3m >/dev/null
exec node dist/bench/e2e.bench.js "$@"
