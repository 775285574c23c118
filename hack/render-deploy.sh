#!/usr/bin/env bash
# Renders the plain manifests in deploy/ from their sources, so `kubectl apply -f deploy/`
# installs what `helm install` does: the CRDs from src/api (via the build), the operator from
# charts/peapods. test/unit/deploy.test.ts fails when the committed files differ.
set -euo pipefail
cd "$(dirname "$0")/.."
helm="$(hack/k8s-binaries.sh helm)/helm"
node dist/src/api/v1alpha1/crd.js > deploy/crd/peas.peapods.io.yaml
cp deploy/crd/peas.peapods.io.yaml charts/peapods/crds/peas.peapods.io.yaml
node dist/src/api/v1alpha1/crd.js peaset > deploy/crd/peasets.peapods.io.yaml
cp deploy/crd/peasets.peapods.io.yaml charts/peapods/crds/peasets.peapods.io.yaml
{
  echo "# Generated from charts/peapods by \`make generate\`; do not edit."
  "$helm" template peapods charts/peapods --namespace peapods-system --kube-version 1.34.4
} > deploy/peapods-operator.yaml
