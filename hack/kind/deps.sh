#!/usr/bin/env bash
# Installs from Debian what a kind cluster without Docker needs on this machine, and sets
# podman up so that it can run kind's privileged node containers. Idempotent: when all is in
# place it returns at once without touching apt or any file.
#   podman      kind's provider here (KIND_EXPERIMENTAL_PROVIDER=podman)
#   buildah     builds the node's component images (hack/kind/images.sh)
#   mmdebstrap  the node image's Debian root filesystem (hack/kind/node-image.sh)
# Root only: podman runs kind's nodes as root (rootless podman needs a delegated cgroup v2).
set -euo pipefail

declare -A probe=(
  [podman]=/usr/bin/podman
  [buildah]=/usr/bin/buildah
  [mmdebstrap]=/usr/bin/mmdebstrap
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=/usr/sbin/iptables
)
missing=()
for pkg in "${!probe[@]}"; do
  [[ -e "${probe[$pkg]}" ]] || missing+=("$pkg")
done

# Root in these VMs lacks CAP_SYS_RESOURCE, so runc cannot apply podman's default nofile and
# nproc rlimits ("error setting rlimit type 7: operation not permitted"): start no container
# with rlimits of podman's own choosing. Written only when the setting is absent.
conf=/etc/containers/containers.conf
needs_conf() { ! grep -qs '^[[:space:]]*default_ulimits[[:space:]]*=[[:space:]]*\[\]' "$conf"; }

if ((${#missing[@]} == 0)) && ! needs_conf; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "kind deps: missing ${missing[*]:-a podman setting}; run 'sudo $0'" >&2
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
  if grep -qs '^\[containers\]' "$conf"; then
    # Keep the file's other settings; add ours under its [containers] table.
    sed -i '/^\[containers\]/a default_ulimits = []' "$conf"
  else
    printf '[containers]\ndefault_ulimits = []\n' >>"$conf"
  fi
  echo "kind deps: set default_ulimits = [] in $conf (root here cannot raise rlimits)" >&2
fi
