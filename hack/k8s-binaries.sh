#!/usr/bin/env bash
# Builds Kubernetes binaries at one pinned version from the Go module proxy (no download
# site is reachable here) and caches them outside the clone. Prints one line: the bin dir.
#   hack/k8s-binaries.sh [test|cluster|COMPONENT...]     (default: test)
#   test    = etcd kube-apiserver                 (an envtest-style API server)
#   cluster = test + kube-controller-manager kube-scheduler kubelet helm
# Honours KUBEBUILDER_ASSETS: if it holds every requested binary, nothing is built.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.19.0}"

cache="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}"
bin="$cache/k8s/$K8S_VERSION/bin"
work="$cache/k8s/build"

components=()
for arg in "${@:-test}"; do
  case "$arg" in
    test) components+=(etcd kube-apiserver) ;;
    cluster) components+=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet helm) ;;
    etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kubectl|helm) components+=("$arg") ;;
    *) echo "unknown component '$arg': use test, cluster or one of etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl helm" >&2; exit 2 ;;
  esac
done

have_all() {
  local dir="$1" c
  for c in "${components[@]}"; do [[ -x "$dir/$c" ]] || return 1; done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]] && have_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi
if have_all "$bin"; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "go is needed to build the Kubernetes binaries (Debian: apt-get install golang)" >&2; exit 1; }
mkdir -p "$bin" "$work"
# Two callers (say, two test runs) must not build into the same place at once.
exec 9>"$cache/k8s/build.lock"
flock 9

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
staging="v0.${K8S_VERSION#v1.}"

# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces ~30 staging modules with
# local paths. A scratch module that requires it and replaces each with its published v0.X.Y
# builds any component.
kubernetes_module() {
  local dir="$work/kubernetes-$K8S_VERSION"
  if [[ ! -f "$dir/go.sum" ]]; then
    mkdir -p "$dir"
    (
      cd "$dir"
      local mod
      mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      {
        echo "module peapods.local/k8s-build"
        echo
        echo "go $(sed -n 's/^go //p' "$mod")"
        sed -n '/^godebug/p' "$mod"
        echo
        echo "require k8s.io/kubernetes $K8S_VERSION"
        echo
        sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$staging"'#p' "$mod"
      } > go.mod
      echo 'package main' > tools.go
      echo 'import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"' >> tools.go
      go mod tidy >&2
      rm tools.go
    )
  fi
  echo "$dir"
}

build_k8s() {
  local c="$1" dir pkg ldflags
  dir=$(kubernetes_module)
  pkg="k8s.io/kubernetes/cmd/$c"
  [[ "$c" == kubectl ]] && pkg="k8s.io/kubernetes/cmd/kubectl"
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$dir" && go get "$pkg@$K8S_VERSION" >&2 2>/dev/null || true
   CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$bin/.$c.tmp" "$pkg")
}

build_etcd() {
  local dir="$work/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  (cd "$dir"
   [[ -f go.mod ]] || printf 'module peapods.local/etcd-build\n\ngo 1.24\n' > go.mod
   go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
   CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w" -o "$bin/.etcd.tmp" go.etcd.io/etcd/server/v3)
}

build_helm() {
  local dir="$work/helm-$HELM_VERSION"
  mkdir -p "$dir"
  (cd "$dir"
   [[ -f go.mod ]] || printf 'module peapods.local/helm-build\n\ngo 1.24\n' > go.mod
   go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
   CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$bin/.helm.tmp" helm.sh/helm/v3/cmd/helm)
}

for c in "${components[@]}"; do
  [[ -x "$bin/$c" ]] && continue
  echo "building $c (once per machine; minutes on 2 cores)" >&2
  start=$SECONDS
  case "$c" in
    etcd) build_etcd ;;
    helm) build_helm ;;
    *) build_k8s "$c" ;;
  esac
  # Renamed only when complete, so an interrupted build never looks cached.
  mv "$bin/.$c.tmp" "$bin/$c"
  echo "built $c in $((SECONDS - start))s" >&2
done
echo "$bin"
