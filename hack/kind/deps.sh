#!/usr/bin/env bash
# Installs from Debian what a kind cluster without Docker needs on this machine, and sets
# podman up so that it can run kind's privileged node containers. Idempotent: when all is in
# place it returns at once without touching apt or any file.
#   podman      kind's provider here (KIND_EXPERIMENTAL_PROVIDER=podman)
#   runc        podman's OCI runtime for kind's nodes (below)
#   dnsname     the CNI plugin that lets kind's nodes find each other by name on a podman
#               network (kubeadm join dials peapods-control-plane:6443); without it podman
#               networks have no DNS
#   buildah     builds the node's component images (hack/kind/images.sh)
#   mmdebstrap  the node image's Debian root filesystem (hack/kind/node-image.sh)
#   gcc         the pause image (hack/pause/build.sh)
# Root only: podman runs kind's nodes as root (rootless podman needs a delegated cgroup v2).
set -euo pipefail

declare -A probe=(
  [podman]=/usr/bin/podman
  [runc]=/usr/sbin/runc
  [buildah]=/usr/bin/buildah
  [mmdebstrap]=/usr/bin/mmdebstrap
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [golang-github-containernetworking-plugin-dnsname]=/usr/lib/cni/dnsname
  [iptables]=/usr/sbin/iptables
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/include/stdio.h
)
missing=()
for pkg in "${!probe[@]}"; do
  [[ -e "${probe[$pkg]}" ]] || missing+=("$pkg")
done

# podman's settings for kind's nodes, in a drop-in of their own (podman reads
# containers.conf.d/*.conf after containers.conf, so a host's own settings stay as they are):
# - Root in these VMs lacks CAP_SYS_RESOURCE, so runc cannot apply podman's default nofile
#   and nproc rlimits ("error setting rlimit type 7: operation not permitted"): none.
# - The hosts mount cgroup v1 with a cgroup2 tree beside it (hybrid), which podman's default
#   runtime, crun, refuses ("cgroups in hybrid mode not supported"); runc runs there.
conf=/etc/containers/containers.conf.d/50-peapods-kind.conf
want_conf=$'# Written by peapods hack/kind/deps.sh: what kind\'s node containers need on this host.\n'
want_conf+=$'[containers]\ndefault_ulimits = []\n'
if mountpoint -q /sys/fs/cgroup/unified && [[ ! -f /sys/fs/cgroup/cgroup.controllers ]]; then
  want_conf+=$'[engine]\nruntime = "runc"\n'
fi
needs_conf() { [[ "$(cat "$conf" 2>/dev/null)"$'\n' != "$want_conf" ]]; }

# kind mounts the host's /lib/modules into every node (read-only, for modprobe); these VMs'
# kernels have everything built in and no such directory, and podman refuses a missing source.
needs_modules() { [[ ! -d /lib/modules ]]; }

if ((${#missing[@]} == 0)) && ! needs_conf && ! needs_modules; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "kind deps: missing ${missing[*]:-podman settings or /lib/modules}; run 'sudo $0'" >&2
  exit 1
fi
if ((${#missing[@]} > 0)); then
  echo "kind deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if needs_conf; then
  mkdir -p "$(dirname "$conf")"
  printf '%s' "$want_conf" >"$conf"
  echo "kind deps: wrote $conf" >&2
fi
if needs_modules; then
  mkdir -p /lib/modules
  echo "kind deps: created an empty /lib/modules (kind mounts it into its nodes)" >&2
fi
