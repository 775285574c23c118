#!/usr/bin/env bash
# Kubernetes binaries at one pinned version, built from the Go module proxy (the only place
# these machines can fetch them from: no download site is reachable) and cached outside the
# clone, so every worktree and every test run shares one build.
#
#   hack/k8s-binaries.sh [COMPONENT...]        default: test
#     components: etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl helm
#                 kubeadm kube-proxy
#     test    = etcd kube-apiserver kubectl   (an envtest-style API server, as test/harness uses)
#     cluster = etcd … kubectl helm           (a real single-node cluster: all but kubeadm, kube-proxy)
#     kind    = what a kind node image holds  (hack/kind/node-image.sh)
#
# Prints exactly one line on stdout, the absolute bin directory; progress goes to stderr:
#   BIN=$(hack/k8s-binaries.sh test)
# Builds only what is missing; a warm run forks nothing and returns in milliseconds.
# Honours KUBEBUILDER_ASSETS (the ecosystem's convention): when that directory holds every
# requested binary it is printed and nothing is built.
set -euo pipefail

# Pins. k8s: the newest v1.34 patch on the proxy (1.34 is the newest release that still runs
# a kubelet on a cgroup v1 host without extra flags; see docs). Override any of them by env.
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"

CLUSTER=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl helm)
ALL=("${CLUSTER[@]}" kubeadm kube-proxy)

usage() {
  echo "usage: $0 [test|cluster|COMPONENT...]; components: ${ALL[*]}" >&2
}

components=()
declare -A wanted=()
add() {
  local c
  for c in "$@"; do
    [[ -n "${wanted[$c]:-}" ]] || { wanted[$c]=1; components+=("$c"); }
  done
}
for arg in "${@:-test}"; do
  case "$arg" in
    test) add etcd kube-apiserver kubectl ;;
    cluster) add "${CLUSTER[@]}" ;;
    kind) add etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl ;;
    etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kubectl | helm) add "$arg" ;;
    kubeadm | kube-proxy) add "$arg" ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown component '$arg'" >&2; usage; exit 2 ;;
  esac
done

have_all() { # DIR: every requested binary is there
  local c
  for c in "${components[@]}"; do [[ -x "$1/$c" ]] || return 1; done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if have_all "$KUBEBUILDER_ASSETS"; then
    (cd -- "$KUBEBUILDER_ASSETS" && pwd)
    exit 0
  fi
  echo "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks some of: ${components[*]}; using the cache" >&2
fi

cache="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}/k8s"
[[ "$cache" == /* ]] || cache="$PWD/$cache"
bin="$cache/$K8S_VERSION/bin"
# One small file per binary naming the version it was built at. The bin dir's name carries
# only the Kubernetes version, so without these a new ETCD_VERSION or HELM_VERSION would
# silently keep the old binary.
stamps="$cache/$K8S_VERSION/stamps"
# Scratch Go modules, one per tool, so resolving one tool's dependencies never changes
# what another is built against.
scratch="$cache/build"

declare -A pin=([etcd]="$ETCD_VERSION" [helm]="$HELM_VERSION")
pin_of() { echo "${pin[$1]:-$K8S_VERSION}"; }

cached() { # COMPONENT: built, and at its pinned version (no forks: this is the warm path)
  local c="$1" have=""
  [[ -x "$bin/$c" && -f "$stamps/$c" ]] || return 1
  read -r have <"$stamps/$c" || true
  [[ "$have" == "${pin[$c]:-$K8S_VERSION}" ]]
}

missing=()
for c in "${components[@]}"; do cached "$c" || missing+=("$c"); done
if ((${#missing[@]} == 0)); then
  echo "$bin"
  exit 0
fi

# ---- cold path: build what is missing ----

[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  { echo "K8S_VERSION must look like v1.34.4, not '$K8S_VERSION'" >&2; exit 2; }
k8s_minor="${BASH_REMATCH[1]}"
# Each staging module (k8s.io/api, client-go, ...) is published as v0.<minor>.<patch> from
# the same release tag as k8s.io/kubernetes v1.<minor>.<patch>.
staging_version="v0.${K8S_VERSION#v1.}"

command -v go >/dev/null ||
  { echo "go is needed to build the Kubernetes binaries (Debian: apt-get install golang-go)" >&2; exit 1; }
command -v flock >/dev/null ||
  { echo "flock is needed (Debian: util-linux)" >&2; exit 1; }

mkdir -p "$bin" "$stamps" "$scratch"
# Two callers (say, two test runs starting together) must not build into the same place at
# once: the second waits here, then finds the binaries cached below.
exec 9>"$cache/build.lock"
if ! flock -n 9; then
  echo "waiting for another k8s-binaries.sh to finish building" >&2
  flock 9
fi
# Only a run holding the lock builds, so any temp file left now is from a killed run.
rm -f "$bin"/.*.tmp
tmp=""
trap '[[ -z "$tmp" ]] || rm -f "$tmp"' EXIT
trap 'exit 130' INT # so that the EXIT trap runs on Ctrl-C or kill too
trap 'exit 143' TERM

# The scratch modules must build exactly as written: no go.work from the caller's
# surroundings, no cgo (static binaries, no C toolchain needed; fine for kubelet too).
export GOWORK=off CGO_ENABLED=0
# -trimpath: reproducible, and no local paths in the binaries. -s -w: no symbol tables or
# DWARF, which makes these very large links noticeably faster and the binaries smaller.
gobuild() { nice -n 10 go build -trimpath "$@" >&2; }
# Runs a go command that resolves modules; its dozens of "go: added ..." lines are shown only
# if it fails.
quietly() {
  local out
  out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }
}

reported_version() { # COMPONENT FILE: the version the binary says it is
  local out
  case "$1" in
    etcd) out=$("$2" --version) && [[ "$out" =~ etcd\ Version:\ ([^[:space:]]+) ]] && echo "v${BASH_REMATCH[1]}" ;;
    helm) "$2" version --template '{{.Version}}' ;;
    kubectl) out=$("$2" version --client) && [[ "$out" =~ Client\ Version:\ ([^[:space:]]+) ]] &&
      echo "${BASH_REMATCH[1]}" ;;
    kubeadm) "$2" version -o short ;;
    *) out=$("$2" --version) && [[ "$out" =~ Kubernetes\ ([^[:space:]]+) ]] && echo "${BASH_REMATCH[1]}" ;;
  esac
}

# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces ~30 staging modules with
# paths inside its own repository. A scratch module that requires it, and replaces every one
# of those (read from that release's go.mod, so the list is never stale) with the published
# v0.X.Y, builds any component.
build_k8s() { # COMPONENT OUTPUT
  local c="$1" out="$2" dir upstream ldflags p
  dir="$scratch/$c-$K8S_VERSION"
  upstream=$(cd "$scratch" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [[ -f "$upstream" ]] || { echo "could not fetch k8s.io/kubernetes@$K8S_VERSION's go.mod" >&2; return 1; }
  mkdir -p "$dir"
  # Written afresh each time (it is cheap and deterministic), so a build interrupted while
  # resolving never leaves a half-edited go.mod behind.
  {
    echo "module peapods.local/build/$c"
    echo
    sed -n 's/^go \([0-9.]*\)$/go \1/p' "$upstream"
    # Kubernetes pins older runtime behaviour (e.g. `godebug default=go1.24`); builds from
    # a newer Go must keep it. Copies a one-line godebug or a godebug ( ... ) block.
    awk '/^godebug \(/ {blk=1} blk || /^godebug / {print} blk && /^\)/ {blk=0}' "$upstream"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$upstream"
    echo ")"
  } >"$dir/go.mod.tmp"
  grep -q 'k8s.io/client-go => ' "$dir/go.mod.tmp" ||
    { echo "found no staging replaces in $upstream" >&2; return 1; }
  mv "$dir/go.mod.tmp" "$dir/go.mod"
  # Without these the binaries call themselves v0.0.0-master, which kubectl's version skew
  # checks and the apiserver's compatibility-version logic both trip over.
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor -X $p.gitTreeState=clean"
  done
  (
    cd "$dir"
    quietly go get "k8s.io/kubernetes/cmd/$c@$K8S_VERSION"
    gobuild -ldflags "$ldflags" -o "$out" "k8s.io/kubernetes/cmd/$c"
  )
}

# etcd's main package is the server module itself; it builds without any replaces. (Debian's
# etcd-server is 3.4, too old for a current kube-apiserver.)
build_etcd() { # OUTPUT
  local dir="$scratch/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  (
    cd "$dir"
    rm -f go.mod
    quietly go mod init peapods.local/build/etcd
    quietly go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    gobuild -ldflags "-s -w" -o "$1" go.etcd.io/etcd/server/v3
  )
}

# Built in a scratch module rather than `go install`ed so it can go to a temp name first.
# The ldflags are the ones helm's own Makefile sets: without them `helm version` says v3.N
# and its default kube version (for template/lint) is stale.
build_helm() { # OUTPUT
  local dir="$scratch/helm-$HELM_VERSION" cg major minor ldflags p
  mkdir -p "$dir"
  (
    cd "$dir"
    rm -f go.mod
    quietly go mod init peapods.local/build/helm
    quietly go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    # The Kubernetes version helm assumes is the one its client-go (v0.N.P) is from: 1.N.
    cg=$(go list -m -f '{{.Version}}' k8s.io/client-go)
    cg="${cg#v}" major=$((${cg%%.*} + 1)) minor="${cg#*.}" minor="${minor%%.*}"
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
    for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      ldflags+=" -X $p.k8sVersionMajor=$major -X $p.k8sVersionMinor=$minor"
    done
    gobuild -ldflags "$ldflags" -o "$1" helm.sh/helm/v3/cmd/helm
  )
}

for c in "${missing[@]}"; do
  cached "$c" && continue # another caller built it while we waited for the lock
  want=$(pin_of "$c")
  # A binary without a stamp (from an older version of this script) is kept if it says it
  # is the pinned version: no need to spend minutes rebuilding it.
  if [[ -x "$bin/$c" && ! -f "$stamps/$c" ]] && [[ "$(reported_version "$c" "$bin/$c" 2>/dev/null)" == "$want" ]]; then
    echo "$want" >"$stamps/$c"
    echo "kept $c $want (already built)" >&2
    continue
  fi
  echo "building $c $want (once per machine; minutes on 2 cores)" >&2
  start=$SECONDS
  tmp="$bin/.$c.tmp"
  case "$c" in
    etcd) build_etcd "$tmp" ;;
    helm) build_helm "$tmp" ;;
    *) build_k8s "$c" "$tmp" ;;
  esac
  got=$(reported_version "$c" "$tmp") || true
  if [[ "$got" != "$want" ]]; then
    echo "built $c reports version '$got', not $want; not caching it" >&2
    exit 1
  fi
  # Renamed into place only when complete, so an interrupted build never leaves a half
  # binary that looks cached; the stamp follows the binary for the same reason.
  mv "$tmp" "$bin/$c"
  tmp=""
  echo "$want" >"$stamps/.$c.tmp"
  mv "$stamps/.$c.tmp" "$stamps/$c"
  echo "built $c $want in $((SECONDS - start))s" >&2
done
echo "$bin"
