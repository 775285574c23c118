#!/usr/bin/env bash
# A kind node image built offline, by kind's node-image contract, into podman's image store:
#   - a Debian bookworm root filesystem with systemd as init (mmdebstrap, from the Debian mirror)
#   - Debian's containerd and runc, and its CNI plugins in /opt/cni/bin
#   - kubeadm, kubelet, kubectl from hack/k8s-binaries.sh; crictl from hack/kind/tools.sh
#   - /kind/version, the CNI manifest in /kind/manifests, the entrypoint and the systemd units
#     and config files of hack/kind/node/ (written for this project from kind's docs and its
#     images/base; none copied)
#   - every image kubeadm and the CNI need (hack/kind/images.sh), imported into the node's
#     containerd, so that nothing is ever pulled
# Cached: the Debian root filesystem under ${PEAPODS_CACHE:-~/.cache/peapods}/kind, the image
# in podman's store under a tag that hashes every input, so a warm run returns at once.
#
#   hack/kind/node-image.sh      prints the image name (localhost/peapods/kind-node:…)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${PEAPODS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peapods}/kind"
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
# What a node runs beside the Kubernetes binaries. dbus: systemd's own tools talk over it.
PACKAGES=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,iptables,conntrack,iproute2
PACKAGES+=,ethtool,socat,util-linux,mount,kmod,procps,ca-certificates,libseccomp2,bash

k8s=$("$repo/hack/k8s-binaries.sh" kind)
tools=$("$here/tools.sh")
images=$("$here/images.sh")

# The tag: every input's bytes (binaries, image tars, node files, this script, the packages),
# and nothing of where the clone is or how the script was called (`sha256sum FILE` would print
# its path too: each clone, and make's relative call, got a tag of its own and a new build).
inputs_sum=$(
  {
    sha256sum <"$0"
    echo "$PACKAGES $DEBIAN_SUITE $K8S_VERSION"
    cat "$k8s/kubeadm" "$k8s/kubelet" "$k8s/kubectl" "$tools/crictl" | sha256sum
    cat "$images"/*.stamp "$images"/pause.tar | sha256sum
    (cd "$here/node" && find . -type f | sort | xargs sha256sum)
  } | sha256sum | cut -c1-12
)
image="localhost/peapods/kind-node:$K8S_VERSION-$inputs_sum"
if podman image exists "$image"; then
  echo "$image"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/node-image.lock"
flock -n 9 || { echo "waiting for another hack/kind/node-image.sh" >&2; flock 9; }
podman image exists "$image" && { echo "$image"; exit 0; }
start=$SECONDS

# ---- the Debian root filesystem (cached by suite and package list: the slow part) ----
base="$cache/rootfs-$DEBIAN_SUITE-$(echo "$PACKAGES" | sha256sum | cut -c1-8)"
if [[ ! -d "$base" ]]; then
  echo "node image: Debian $DEBIAN_SUITE with systemd, containerd, runc (mmdebstrap; a minute or two)" >&2
  rm -rf "$base.tmp"
  nice -n 10 mmdebstrap --quiet --variant=minbase --format=directory --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/{doc,man,locale,info}/*' "$DEBIAN_SUITE" "$base.tmp" >&2
  mv "$base.tmp" "$base"
fi

work=$(mktemp -d "$cache/.node-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
cp -a "$base" "$root"

# ---- systemd as a container's init: only what a node needs starts ----
# Debian enables units for a whole machine (getty, timers, its own containerd); a node starts
# containerd and the kubelet and nothing else, as kind's base image does.
rm -f "$root"/etc/systemd/system/*.wants/* "$root"/lib/systemd/system/multi-user.target.wants/*
rm -f "$root"/lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service
rm -f "$root"/lib/systemd/system/sockets.target.wants/*udev* "$root"/lib/systemd/system/sysinit.target.wants/*udev*
ln -sf /dev/null "$root/etc/systemd/system/systemd-binfmt.service"
ln -sf /dev/null "$root/etc/systemd/system/getty.target"
echo 'ReadKMsg=no' >>"$root/etc/systemd/journald.conf"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /lib/systemd/system/containerd.service "$root/etc/systemd/system/multi-user.target.wants/containerd.service"
ln -sf /etc/systemd/system/kubelet.service "$root/etc/systemd/system/multi-user.target.wants/kubelet.service"

# ---- our files, the binaries, the CNI plugins where the kubelet's CRI looks ----
cp -a "$here/node/." "$root/"
install -m 0755 "$k8s/kubeadm" "$k8s/kubelet" "$k8s/kubectl" "$root/usr/bin/"
install -m 0755 "$tools/crictl" "$root/usr/local/bin/"
mkdir -p "$root/opt/cni/bin" "$root/etc/cni/net.d" "$root/etc/kubernetes/manifests" "$root/var/lib/kubelet"
for p in "$root"/usr/lib/cni/*; do ln -sf "/usr/lib/cni/$(basename "$p")" "$root/opt/cni/bin/"; done
echo "$K8S_VERSION" >"$root/kind/version"
# containerd's default OCI spec without rlimits (see hack/kind/node/etc/containerd/config.toml).
chroot "$root" /usr/bin/ctr oci spec |
  python3 -c 'import json,sys; s=json.load(sys.stdin); s["process"].pop("rlimits",None); json.dump(s,sys.stdout)' \
  >"$root/etc/containerd/cri-base.json"

# ---- preload: the images into the node's containerd store ----
# The node's own containerd, run once in a private mount namespace over this root (the
# mounts vanish with it), with the CRI plugin off: it only has to store the images.
echo "node image: importing $(ls "$images"/*.tar | wc -l) images into the node's containerd" >&2
mkdir -p "$root/tmp/images"
cat >"$root/tmp/preload.sh" <<'EOF'
set -eu
mount -t proc proc /proc
cat >/tmp/preload.toml <<'TOML'
version = 2
root = "/var/lib/containerd"
state = "/tmp/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "/tmp/containerd.sock"
TOML
containerd --config /tmp/preload.toml >/tmp/containerd.log 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S /tmp/containerd.sock ] && break; sleep 0.1; done
for f in /tmp/images/*.tar; do
  ctr --address /tmp/containerd.sock -n k8s.io images import --all-platforms --no-unpack --digests "$f" >/dev/null
done
ctr --address /tmp/containerd.sock -n k8s.io images ls -q | grep -v '^sha256:'
kill "$pid"
wait "$pid" || true
umount /proc
rm -rf /tmp/preload.toml /tmp/containerd.log /tmp/containerd-state /tmp/containerd.sock /tmp/containerd.sock.ttrpc
EOF
unshare --mount --propagation private sh -ec "mount --bind '$images' '$root/tmp/images'
  mount --rbind /dev '$root/dev'
  chroot '$root' sh -e /tmp/preload.sh" | sed 's/^/  preloaded /' >&2
rm "$root/tmp/preload.sh"
rmdir "$root/tmp/images"

# ---- into podman's store, with the contract's entrypoint, init and stop signal ----
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*
tar --numeric-owner -C "$root" -c . |
  podman import --quiet \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    --change 'ENV container=docker' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    - "$image" >/dev/null
echo "node image: $image in $((SECONDS - start))s" >&2
# Older builds (1.3 GB each) go, unless a cluster's nodes still run on them.
builds=$(podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/peapods/kind-node:' || true)
for old in $(grep -vxF "$image" <<<"$builds"); do
  podman rmi "$old" >/dev/null 2>&1 || true
done
echo "$image"
