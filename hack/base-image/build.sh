#!/usr/bin/env bash
# Makes, without pulling anything, the base image the Dockerfile builds FROM (its build
# arg NODE_IMAGE): a FROM-scratch image holding the Node 24 binary the project installs
# (hack/node.sh), the host libraries `ldd` lists for it, the host's npm (the Dockerfile's
# build stage runs `npm ci` and `npx tsc`), a /bin/sh for RUN steps, CA certificates
# for the npm registry and /etc/passwd with the image's user (UID 65532, as the Dockerfile
# and the operator's pod builder use). Laid out like the official node image
# (/usr/local/bin/node, /usr/local/lib/node_modules/npm, /usr/bin/env for their shebangs, a few coreutils).
# Skipped when an image with the same inputs is already in buildah's store.
#   hack/base-image/build.sh IMAGE_NAME        (buildah, vfs storage driver)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="$1"
node="$(readlink -f "$("$here/../node.sh")/node")"
npm_dir=/usr/lib/node_modules/npm
[[ -f "$npm_dir/bin/npm-cli.js" ]] || npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
[[ -f "$npm_dir/bin/npm-cli.js" ]] || {
  echo "no npm found to put into the base image: install npm (the system one is fine)" >&2
  exit 1
}
bah() { buildah --storage-driver vfs "$@"; }

# The few coreutils a Dockerfile's RUN steps commonly use (the official image has them all).
# sleep: the Pea pod's postStart gate (src/shared/started-gate.ts) polls with it.
tools=(env rm mkdir cp mv ls cat chmod chown ln touch sleep)
tool_paths=(); for t in "${tools[@]}"; do tool_paths+=("$(readlink -f "$(command -v "$t")")"); done
libs=$( { ldd "$node"; ldd /bin/dash; for t in "${tool_paths[@]}"; do ldd "$t"; done; } | grep -o '/[^ ]*' | sort -u)
inputs=$( {
  cat "$node" "$0" /bin/dash "${tool_paths[@]}" | sha256sum
  cat "$npm_dir/package.json"
  echo "$libs"
} | sha256sum | cut -c1-16)
if [[ "$(bah inspect --format '{{index .ImageAnnotations "peapods.inputs"}}' "$name" 2>/dev/null)" == "$inputs" ]]; then
  echo "base image $name is up to date" >&2
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
r="$work/rootfs"
mkdir -p "$r"/{usr/local/bin,usr/local/lib/node_modules,bin,etc/ssl/certs,tmp,home/nonroot,root}
chmod 1777 "$r/tmp"
cp "$node" "$r/usr/local/bin/node"
cp -a "$npm_dir" "$r/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
cp /bin/dash "$r/bin/sh"
# npm and npx start with #!/usr/bin/env node
mkdir -p "$r/usr/bin" && cp "${tool_paths[@]}" "$r/usr/bin/"
for l in $libs; do
  mkdir -p "$r$(dirname "$l")"
  cp -L "$l" "$r$l"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n' > "$r/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$r/etc/group"
chown 65532:65532 "$r/home/nonroot"
cat > "$work/Containerfile" <<'CF'
FROM scratch
COPY rootfs/ /
# The host's CA bundle (copied above) may hold a proxy's CA that the npm registry is
# reached through; Node trusts it only when told.
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_VERSION=24 \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
CF
bah bud --quiet --layers=false --annotation "peapods.inputs=$inputs" -t "$name" "$work" >/dev/null
echo "base image $name built ($(du -sh "$r" | cut -f1))" >&2
