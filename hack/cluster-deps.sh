#!/usr/bin/env bash
# Installs from Debian what the local single-node cluster (hack/cluster-up.sh) and the
# offline image build (hack/images.sh) need on this machine: containerd + runc (the node's
# container runtime), buildah (builds the Dockerfile without Docker), the CNI plugins
# (bridge, host-local, loopback in /usr/lib/cni), iptables/iproute2 (pod networking) and
# gcc (the pause image is built from C here). Idempotent: when everything is present it
# returns at once without touching apt.
set -euo pipefail

# package -> a file that proves it is installed (cheaper and more reliable than dpkg-query
# when some tools may come from elsewhere)
declare -A probe=(
  [containerd]=/usr/bin/containerd
  [runc]=/usr/sbin/runc
  [buildah]=/usr/bin/buildah
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=/usr/sbin/iptables
  [iproute2]=/usr/sbin/ip
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/lib/x86_64-linux-gnu/libc.a
)

missing=()
for pkg in "${!probe[@]}"; do
  f="${probe[$pkg]}"
  [[ -e "$f" ]] || command -v "$(basename "$f")" >/dev/null 2>&1 || missing+=("$pkg")
done
# libc.a lives in a multiarch dir; accept any architecture.
if [[ " ${missing[*]} " == *" libc6-dev "* ]] && compgen -G '/usr/lib/*/libc.a' >/dev/null; then
  missing=("${missing[@]/libc6-dev}")
fi
read -ra missing <<< "${missing[*]:-}"

if ((${#missing[@]} == 0)); then
  echo "cluster deps: all present" >&2
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "cluster deps: missing ${missing[*]}; installing them needs root: run 'sudo $0'" >&2
  exit 1
fi
echo "cluster deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian starts its own containerd service; the cluster runs a private one with its own
# socket, so the system one is left as it is (it does not conflict).
echo "cluster deps: done" >&2
