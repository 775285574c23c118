#!/usr/bin/env bash
# The Go tools a kind cluster without Docker needs, each built once from the Go module proxy
# at a pinned version and cached outside the clone (like hack/k8s-binaries.sh does for
# Kubernetes itself):
#   kind         the CLI (provider podman here, docker where Docker exists)
#   crictl       in the node image: `kind load` and `kind export logs` call it
#   coredns      the cluster DNS image (kubeadm's add-on)
#   kube-router  the node image's CNI: pod routes between nodes and NetworkPolicy enforcement
#                (kind's own kindnetd is not on the proxy, and its policy engine needs nft_queue,
#                which these kernels lack; see docs/kind.md)
#
#   hack/kind/tools.sh [TOOL...]     default: all of them
# Prints the bin directory on stdout; progress on stderr. Warm: no forks, milliseconds.
set -euo pipefail

KIND_VERSION="${KIND_VERSION:-v0.33.0}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.34.0}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.14.7}"
KUBE_ROUTER_VERSION="${KUBE_ROUTER_VERSION:-v2.1.0}"

declare -A pkg=(
  [kind]="sigs.k8s.io/kind@$KIND_VERSION"
  [crictl]="sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  [coredns]="github.com/coredns/coredns@$COREDNS_VERSION"
  [kube-router]="github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
)
ALL=(kind crictl coredns kube-router)

cache="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}/kind"
bin="$cache/bin"
tools=("${@:-${ALL[@]}}")
for t in "${tools[@]}"; do
  [[ -n "${pkg[$t]:-}" ]] || { echo "unknown tool '$t'; tools: ${ALL[*]}" >&2; exit 2; }
done

cached() { # TOOL: built at its pinned version (the stamp names the package@version)
  local have=""
  [[ -x "$bin/$1" && -f "$bin/.$1.version" ]] || return 1
  read -r have <"$bin/.$1.version" || true
  [[ "$have" == "${pkg[$1]}" ]]
}

missing=()
for t in "${tools[@]}"; do cached "$t" || missing+=("$t"); done
if ((${#missing[@]} == 0)); then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null ||
  { echo "go is needed to build ${missing[*]} (Debian: apt-get install golang-go)" >&2; exit 1; }
mkdir -p "$bin"
exec 9>"$cache/build.lock"
flock -n 9 || { echo "waiting for another hack/kind/tools.sh" >&2; flock 9; }

export GOWORK=off CGO_ENABLED=0
for t in "${missing[@]}"; do
  cached "$t" && continue
  echo "building $t (${pkg[$t]}; once per machine)" >&2
  start=$SECONDS
  tmp=$(mktemp -d "$cache/.gobin.XXXXXX")
  # A module's own go.mod decides its dependencies (go install pkg@version); built into a
  # temp dir and moved into place whole, so an interrupted build never looks cached.
  if ! out=$(GOBIN="$tmp" nice -n 10 go install -trimpath -ldflags "-s -w" "${pkg[$t]}" 2>&1); then
    echo "$out" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mv "$tmp/$t" "$bin/$t"
  rm -rf "$tmp"
  echo "${pkg[$t]}" >"$bin/.$t.version"
  echo "built $t in $((SECONDS - start))s" >&2
done
echo "$bin"
