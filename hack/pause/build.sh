#!/usr/bin/env bash
# Builds the pause (pod sandbox) image from hack/pause/pause.c and writes it as an OCI
# archive whose index names it (annotation io.containerd.image.name), so that
# `ctr -n k8s.io images import FILE` registers it under that name without any registry.
#   hack/pause/build.sh OUT.tar [IMAGE_NAME]       (rebuilds only when pause.c changed)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
name="${2:-peapods.local/pause:1.0}"

src_sum=$(cat "$here/pause.c" "$0" | sha256sum | cut -c1-16)
stamp="$out.$src_sum-$(echo "$name" | sha256sum | cut -c1-8)"
[[ -f "$out" && -f "$stamp" ]] && exit 0

command -v gcc >/dev/null || { echo "gcc is missing: run hack/cluster-deps.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs" "$work/oci/blobs/sha256"
gcc -Os -static -Wall -Wextra -Werror -o "$work/rootfs/pause" "$here/pause.c"
strip "$work/rootfs/pause"

# One uncompressed layer; fixed owner and mtime so identical sources give identical digests.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/rootfs" -cf "$work/layer.tar" pause
blob() { # file mediatype -> prints a descriptor JSON and stores the blob
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1")
  cp "$1" "$work/oci/blobs/sha256/$d"
  printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$2" "$d" "$s"
}
layer=$(blob "$work/layer.tar" application/vnd.oci.image.layer.v1.tar)
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
config_json='{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},'
config_json+='"rootfs":{"type":"layers","diff_ids":["sha256:'"$diff_id"'"]},'
config_json+='"history":[{"created_by":"hack/pause/build.sh"}]}'
printf '%s' "$config_json" > "$work/config.json"
config=$(blob "$work/config.json" application/vnd.oci.image.config.v1+json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
  "$config" "$layer" > "$work/manifest.json"
manifest=$(blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
# The manifest's descriptor, its closing brace dropped to append the platform and the name.
entry="${manifest%\}},\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},"
entry+="\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"${name##*:}\"}}"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
  "$entry" > "$work/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$work/oci/oci-layout"
mkdir -p "$(dirname "$out")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/oci" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
rm -f "$out".*-*
touch "$stamp"
