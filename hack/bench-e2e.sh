#!/usr/bin/env bash
# The e2e part of `make bench`: a cluster (CLUSTER=local|kind), the image, the operator
# installed with Helm, then bench/e2e.bench.ts. Arguments go to the benchmark (--runs N).
# `--burst` first runs bench/burst.bench.ts instead (N Peas at once against N bare pods;
# its other arguments: --sizes 10,30 --settle 5); `--peaset` runs bench/peaset.bench.ts (a
# PeaSet against a Deployment: scale 0 → 20, a rolling update of 10; --scale N --roll M).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
# Node 24, as the Makefile uses (the machine's own may be older).
PATH="$("$here/node.sh"):$PATH"
# shellcheck source=cluster/target.sh
source "$here/cluster/target.sh"
target_up
# helm upgrade leaves a chart's crds/ alone: the CRDs as they are now go in first.
"$KUBECTL" apply --server-side --force-conflicts -f deploy/crd/ >/dev/null
"$HELM" upgrade --install peapods charts/peapods --namespace peapods-system --create-namespace \
  --set "image.repository=${PEAPODS_IMAGE%:*}" --set "image.tag=${PEAPODS_IMAGE##*:}" --wait --timeout 3m >/dev/null
# The image may have been rebuilt under the same tag since the release was installed (and the
# operator builds every Pea pod): start the operator afresh from the image as it is now.
"$KUBECTL" -n peapods-system rollout restart deployment >/dev/null
"$KUBECTL" -n peapods-system rollout status deployment --timeout 3m >/dev/null
bench=e2e
if [[ "${1:-}" == --burst || "${1:-}" == --peaset ]]; then
  bench=${1#--}
  shift
fi
exec node "dist/bench/$bench.bench.js" "$@"
