#!/usr/bin/env bash
# Builds peapods/peapods:dev from the repository's Dockerfile without Docker and without
# pulling anything, then loads it into the local cluster's containerd:
#   base image made locally (hack/base-image/build.sh) -> buildah bud of the unchanged
#   Dockerfile (NODE_IMAGE points at that base) -> docker-archive -> ctr images import.
# The image also holds the example runtimes (dist/examples/*.js), so test workloads run
# it with `node /app/dist/examples/<x>.js`.
#   hack/images.sh [--no-load]        (root: buildah and the cluster's containerd)
# Users with Docker build the same file: docker build -t peapods/peapods:dev .
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
# shellcheck source=cluster/env.sh
source "$here/cluster/env.sh"
need_root images.sh
IMAGE="${PEAPODS_IMAGE:-peapods/peapods:dev}"
BASE="${PEAPODS_BASE_IMAGE:-peapods.local/node:24}"
out="$CLUSTER_DIR/images"
mkdir -p "$out"
bah() { buildah --storage-driver vfs "$@"; }

start=$SECONDS
"$here/base-image/build.sh" "$BASE"
# What the Dockerfile reads (its COPY sources, as git tracks them plus uncommitted edits)
# and the base image: when none changed, the image is not built again (buildah's own layer
# cache on vfs still takes minutes).
inputs=$(cd "$repo" && {
  bah inspect --format '{{.FromImageID}}' "$BASE" 2>/dev/null
  git ls-files -co --exclude-standard Dockerfile .dockerignore package.json package-lock.json tsconfig.json \
    tsconfig.build.json src examples bench test/harness test/helpers proto | sort | xargs sha256sum
} | sha256sum | cut -c1-16)
if [[ "$(bah inspect --format '{{index .ImageAnnotations "peapods.inputs"}}' "$IMAGE" 2>/dev/null)" \
  == "$inputs" ]]; then
  echo "$IMAGE is up to date" >&2
else
  # --network host: the build stage's `npm ci` reaches the npm registry through the host.
  nice -n 10 buildah --storage-driver vfs bud --pull=never --network host --layers \
    --annotation "peapods.inputs=$inputs" --build-arg "NODE_IMAGE=$BASE" -t "$IMAGE" \
    -f "$repo/Dockerfile" "$repo" >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    echo "image build failed; full log: $out/build.log" >&2
    exit 1
  }
  echo "built $IMAGE in $((SECONDS - start))s" >&2
  # vfs stores every layer as a full copy, so each build leaves ~5 GB of untagged images
  # behind (the previous build's chain; seen: 149 images, 45 GB, the disk 92% full). They go;
  # this build's chain stays as the next build's layer cache.
  bah rmi --prune >/dev/null 2>&1 || true
fi

if [[ "${1:-}" != --no-load ]]; then
  if ! alive containerd; then
    echo "the local cluster is not up, so $IMAGE was built but not loaded: run hack/cluster-up.sh, then this again" >&2
    exit 1
  fi
  # The image in containerd carries the same inputs stamp (a file beside its store).
  loaded="$out/loaded-$(echo "$IMAGE" | tr '/:' '__')"
  if [[ "$(cat "$loaded" 2>/dev/null)" == "$inputs" ]] &&
    ctr_ images ls -q | grep -qxF -e "$IMAGE" -e "docker.io/$IMAGE"; then
    echo "$IMAGE is already in the cluster's containerd" >&2
  else
    rm -f "$out/peapods.tar"
    bah push --quiet "$IMAGE" "docker-archive:$out/peapods.tar:$IMAGE" >/dev/null
    ctr_ images import "$out/peapods.tar" >/dev/null
    rm -f "$out/peapods.tar"
    echo "$inputs" > "$loaded"
    echo "loaded $IMAGE into the cluster's containerd ($((SECONDS - start))s in all)" >&2
  fi
fi
