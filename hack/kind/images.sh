#!/usr/bin/env bash
# The images a kind node needs and cannot pull here, each built with buildah from binaries
# the project builds from the Go module proxy, written as docker-archive tars that
# `ctr images import` names:
#   registry.k8s.io/kube-apiserver, kube-controller-manager, kube-scheduler   (static binaries)
#   registry.k8s.io/kube-proxy          kube-proxy on a Debian base with iptables (it runs them)
#   registry.k8s.io/etcd                the etcd hack/k8s-binaries.sh builds (3.6.16, tagged so)
#   registry.k8s.io/coredns/coredns     coredns from the proxy (v1.14.7: the proxy has no v1.12)
#   registry.k8s.io/pause               hack/pause/pause.c, the project's own
#   peapods.local/kube-router           the CNI (hack/kind/node/kind/manifests/default-cni.yaml)
# kubeadm is told the etcd and coredns tags (hack/kind/offline-patches.yaml), so the names say
# what the images hold.
#
#   hack/kind/images.sh     prints the directory of the tars; each is rebuilt only when its
#                           inputs (binary, version, this script) changed
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}/kind"
out="$cache/images"
mkdir -p "$out"

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_TAG="${ETCD_TAG:-3.6.16-0}"
COREDNS_TAG="${COREDNS_TAG:-v1.14.7}"
PAUSE_TAG="${PAUSE_TAG:-3.10.1}"
KUBE_ROUTER_TAG="${KUBE_ROUTER_TAG:-v2.1.0}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"

k8s=$("$repo/hack/k8s-binaries.sh" kind)
tools=$("$here/tools.sh")
self_sum=$(sha256sum "$0" | cut -c1-12)

# A tar is current when its stamp names the same inputs: the script and the binary's bytes.
current() { # NAME INPUT-FILE...
  local want
  want="$self_sum $(cat "${@:2}" | sha256sum | cut -c1-16)"
  [[ -f "$out/$1.tar" && "$(cat "$out/$1.stamp" 2>/dev/null)" == "$want" ]] && return 0
  echo "$want" >"$out/$1.want"
  return 1
}
done_() { mv "$out/$1.tar.tmp" "$out/$1.tar"; mv "$out/$1.want" "$out/$1.stamp"; }

bah() { nice -n 10 buildah "$@"; }

# NAME REF FROM CONFIG-ARGS... -- FILE:DEST...: one image, pushed as a docker archive.
image() {
  local name="$1" ref="$2" from="$3" c
  shift 3
  local config=() copies=()
  while (($#)); do [[ "$1" == -- ]] && { shift; copies=("$@"); break; }; config+=("$1"); shift; done
  c=$(bah from --quiet "$from")
  local f
  for f in "${copies[@]}"; do bah copy --chmod 0755 "$c" "${f%%:*}" "${f#*:}" >/dev/null; done
  bah config "${config[@]}" "$c"
  bah commit --quiet --rm "$c" "$ref" >/dev/null
  rm -f "$out/$name.tar.tmp"
  bah push --quiet "$ref" "docker-archive:$out/$name.tar.tmp:$ref"
  bah rmi "$ref" >/dev/null 2>&1 || true
  done_ "$name"
  echo "image $ref" >&2
}

# kube-proxy and kube-router run iptables, ipset, ip and conntrack: a small Debian of their own.
netbase() {
  local dir="$cache/netbase" ref="peapods.local/kind-netbase:$DEBIAN_SUITE"
  if ! buildah inspect --type image "$ref" >/dev/null 2>&1; then
    echo "building the Debian $DEBIAN_SUITE base of kube-proxy and kube-router (mmdebstrap)" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    nice -n 10 mmdebstrap --quiet --variant=minbase --format=tar --include=iptables,ipset,iproute2,conntrack,kmod \
      --dpkgopt='path-exclude=/usr/share/{doc,man,locale,info}/*' "$DEBIAN_SUITE" "$dir/rootfs.tar" >&2
    local c
    c=$(bah from --quiet scratch)
    bah add "$c" "$dir/rootfs.tar" / >/dev/null
    bah commit --quiet --rm "$c" "$ref" >/dev/null
    rm -rf "$dir"
  fi
  echo "$ref"
}

scratch_path=(--env PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
entry() { echo "[\"$1\"]"; } # an ENTRYPOINT in exec form
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  current "$c" "$k8s/$c" || image "$c" "registry.k8s.io/$c:$K8S_VERSION" scratch "${scratch_path[@]}" \
    --entrypoint "$(entry "/usr/local/bin/$c")" -- "$k8s/$c:/usr/local/bin/$c"
done
current etcd "$k8s/etcd" || image etcd "registry.k8s.io/etcd:$ETCD_TAG" scratch "${scratch_path[@]}" \
  --entrypoint "$(entry /usr/local/bin/etcd)" -- "$k8s/etcd:/usr/local/bin/etcd"
current coredns "$tools/coredns" || image coredns "registry.k8s.io/coredns/coredns:$COREDNS_TAG" scratch \
  --entrypoint "$(entry /coredns)" -- "$tools/coredns:/coredns"
if ! current kube-proxy "$k8s/kube-proxy"; then
  image kube-proxy "registry.k8s.io/kube-proxy:$K8S_VERSION" "$(netbase)" \
    --entrypoint "$(entry /usr/local/bin/kube-proxy)" -- "$k8s/kube-proxy:/usr/local/bin/kube-proxy"
fi
if ! current kube-router "$tools/kube-router"; then
  image kube-router "peapods.local/kube-router:$KUBE_ROUTER_TAG" "$(netbase)" \
    --entrypoint "$(entry /usr/local/bin/kube-router)" -- "$tools/kube-router:/usr/local/bin/kube-router"
fi
# The pause image has its own builder (an OCI archive, also what the local cluster uses).
"$repo/hack/pause/build.sh" "$out/pause.tar" "registry.k8s.io/pause:$PAUSE_TAG"
echo "$out"
